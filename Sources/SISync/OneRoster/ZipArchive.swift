#if canImport(Glibc)
import Glibc
#endif
import CZlib
import Foundation

/// A read-only view of a `.zip` file. SIS vendors and rostering hubs deliver OneRoster CSV
/// bundles zipped; entries are unpacked one at a time, streamed through zlib, so a large
/// roster never sits in memory. Owns its file descriptor.
public final class ZipArchive {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let method: UInt16
        public let flags: UInt16
        public let crc32: UInt32
        public let compressedSize: Int64
        public let uncompressedSize: Int64
        let localHeaderOffset: Int64
    }

    public let path: String
    public private(set) var entries: [Entry] = []
    private let fd: Int32
    private let size: Int64

    public init(path: String) throws(ZipError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        self.fd = fd
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        size = Int64(st.st_size)
        do { try readCentralDirectory() } catch { close(fd); throw error }
    }

    deinit { close(fd) }

    /// An entry by exact name.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// An entry by file name in any folder and any case (`bundle/Users.csv`), ignoring the
    /// `__MACOSX/` and `._` files macOS adds; the shallowest wins.
    public func entry(baseName: String) -> Entry? {
        let wanted = baseName.lowercased()
        return entries.filter { e in
            let base = (e.name as NSString).lastPathComponent
            return base.lowercased() == wanted && !base.hasPrefix("._") && !e.name.hasPrefix("__MACOSX/")
        }.min { $0.name.count < $1.name.count }
    }

    private func read(at offset: Int64, count: Int) throws(ZipError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset + Int64(count) <= size else {
            throw .corrupt(path: path, entry: nil, reason: "a record points past the end of the file")
        }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .unreadable(path: path, reason: n < 0 ? String(cString: strerror(errno)) : "unexpected end of file") }
            done += n
        }
        return buffer
    }

    private static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    private static func u32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(u16(b, i)) | UInt32(u16(b, i + 2)) << 16 }

    private func readCentralDirectory() throws(ZipError) {
        guard size >= 22 else { throw .notAZip(path: path) }
        // The end record is in the last 22 bytes plus a comment of up to 65,535 bytes.
        let tailLength = Int(min(size, 22 + 65_535))
        let tail = try read(at: size - Int64(tailLength), count: tailLength)
        var end = -1
        var i = tailLength - 22
        while i >= 0 {
            if tail[i] == 0x50, tail[i + 1] == 0x4B, tail[i + 2] == 0x05, tail[i + 3] == 0x06 { end = i; break }
            i -= 1
        }
        guard end >= 0 else { throw .notAZip(path: path) }
        let disk = Self.u16(tail, end + 4), cdDisk = Self.u16(tail, end + 6)
        let count = Self.u16(tail, end + 10)
        let cdSize = Self.u32(tail, end + 12), cdOffset = Self.u32(tail, end + 16)
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw .unsupported(path: path, entry: "(archive)", reason: "zip64")
        }
        guard disk == 0, cdDisk == 0 else { throw .unsupported(path: path, entry: "(archive)", reason: "a multi-disk archive") }
        let directory = try read(at: Int64(cdOffset), count: Int(cdSize))
        var p = 0
        for _ in 0..<Int(count) {
            guard p + 46 <= directory.count, Self.u32(directory, p) == 0x0201_4B50 else {
                throw .corrupt(path: path, entry: nil, reason: "bad central directory record")
            }
            let flags = Self.u16(directory, p + 8), method = Self.u16(directory, p + 10)
            let crc = Self.u32(directory, p + 16)
            let compressed = Self.u32(directory, p + 20), uncompressed = Self.u32(directory, p + 24)
            let nameLength = Int(Self.u16(directory, p + 28)), extraLength = Int(Self.u16(directory, p + 30)), commentLength = Int(Self.u16(directory, p + 32))
            let local = Self.u32(directory, p + 42)
            guard p + 46 + nameLength <= directory.count else { throw .corrupt(path: path, entry: nil, reason: "a name runs past the central directory") }
            let nameBytes = Array(directory[(p + 46)..<(p + 46 + nameLength)])
            let name = String(validating: nameBytes, as: UTF8.self) ?? String(nameBytes.map { Character(Unicode.Scalar($0)) })
            if compressed == 0xFFFF_FFFF || uncompressed == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
                throw .unsupported(path: path, entry: name, reason: "zip64")
            }
            if !name.hasSuffix("/") {
                entries.append(Entry(name: name, method: method, flags: flags, crc32: crc, compressedSize: Int64(compressed),
                                     uncompressedSize: Int64(uncompressed), localHeaderOffset: Int64(local)))
            }
            p += 46 + nameLength + extraLength + commentLength
        }
    }

    /// Unpacks `entry` into a new file `name` of the run's private directory (0600,
    /// written through its descriptor), checking its size and CRC-32; a partial file is
    /// removed on failure.
    public func extract(_ entry: Entry, into directory: RunDirectory, name: String, maxBytes: Int64) throws(ZipError) -> RunFile {
        if entry.flags & 1 != 0 { throw .unsupported(path: path, entry: entry.name, reason: "an encrypted entry") }
        guard entry.method == 0 || entry.method == 8 else {
            throw .unsupported(path: path, entry: entry.name, reason: "compression method \(entry.method)")
        }
        let header = try read(at: entry.localHeaderOffset, count: 30)
        guard Self.u32(header, 0) == 0x0403_4B50 else { throw .corrupt(path: path, entry: entry.name, reason: "bad local header") }
        let dataStart = entry.localHeaderOffset + 30 + Int64(Self.u16(header, 26)) + Int64(Self.u16(header, 28))
        guard dataStart + entry.compressedSize <= size else { throw .corrupt(path: path, entry: entry.name, reason: "the data runs past the end of the file") }
        let out: RunFile
        do { out = try directory.create(name) } catch { throw .cannotWrite(path: directory.path, reason: error.description) }
        do {
            try copy(entry, from: dataStart, to: out, maxBytes: maxBytes)
            return out
        } catch {
            directory.remove(out)
            throw error
        }
    }

    private func copy(_ entry: Entry, from start: Int64, to out: RunFile, maxBytes: Int64) throws(ZipError) {
        var crc = crc32(0, nil, 0)
        var written: Int64 = 0
        func emit(_ bytes: UnsafeBufferPointer<UInt8>) throws(ZipError) {
            guard !bytes.isEmpty else { return }
            written += Int64(bytes.count)
            if written > maxBytes { throw .tooLarge(path: path, entry: entry.name, limit: maxBytes) }
            crc = crc32(crc, bytes.baseAddress, uInt(bytes.count))
            if let why = out.write(UnsafeRawBufferPointer(bytes)) { throw .cannotWrite(path: out.shownAs, reason: why) }
        }
        let chunk = 256 * 1024
        var offset = start
        let end = start + entry.compressedSize
        if entry.method == 0 {
            while offset < end {
                let input = try read(at: offset, count: Int(min(Int64(chunk), end - offset)))
                offset += Int64(input.count)
                try input.withUnsafeBufferPointer { (b) throws(ZipError) in try emit(b) }
            }
        } else {
            var stream = z_stream()
            guard sisync_inflate_init_raw(&stream) == Z_OK else { throw .corrupt(path: path, entry: entry.name, reason: "zlib could not start inflating") }
            defer { inflateEnd(&stream) }
            var output = [UInt8](repeating: 0, count: chunk)
            var finished = false
            while !finished {
                guard offset < end else { throw .corrupt(path: path, entry: entry.name, reason: "the compressed data ends early") }
                var input = try read(at: offset, count: Int(min(Int64(chunk), end - offset)))
                offset += Int64(input.count)
                let status: Int32 = try input.withUnsafeMutableBufferPointer { (inBuf) throws(ZipError) -> Int32 in
                    stream.next_in = inBuf.baseAddress
                    stream.avail_in = uInt(inBuf.count)
                    var result = Z_OK
                    repeat {
                        let produced: Int = output.withUnsafeMutableBufferPointer { outBuf in
                            stream.next_out = outBuf.baseAddress
                            stream.avail_out = uInt(outBuf.count)
                            result = inflate(&stream, Z_NO_FLUSH)
                            return outBuf.count - Int(stream.avail_out)
                        }
                        guard result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR else { return result }
                        try output.withUnsafeBufferPointer { (b) throws(ZipError) in try emit(UnsafeBufferPointer(rebasing: b[0..<produced])) }
                        if result == Z_BUF_ERROR && produced == 0 { break }
                    } while result != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0)
                    return result
                }
                switch status {
                case Z_STREAM_END: finished = true
                case Z_OK, Z_BUF_ERROR: continue
                default: throw .corrupt(path: path, entry: entry.name, reason: "inflate failed (zlib \(status))")
                }
            }
        }
        guard written == entry.uncompressedSize else {
            throw .corrupt(path: path, entry: entry.name, reason: "\(written) bytes unpacked, the directory says \(entry.uncompressedSize)")
        }
        guard UInt32(crc) == entry.crc32 else { throw .corrupt(path: path, entry: entry.name, reason: "CRC-32 mismatch") }
    }
}
