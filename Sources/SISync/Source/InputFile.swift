#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A local file opened for reading in large chunks. Owns its descriptor and closes it
/// when released, so a failed run never leaks one.
public final class InputFile {
    public let path: String
    private let fd: Int32
    private var buffer: [UInt8]

    public init(path: String, chunkSize: Int = 1 << 20) throws(FetchError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw .unreadableFile(path: path, reason: "it is a directory")
        }
        self.fd = fd
        // A small file gets a buffer its size (a OneRoster bundle is mostly small files), not
        // a zeroed megabyte each.
        let regular = (st.st_mode & S_IFMT) == S_IFREG
        buffer = [UInt8](repeating: 0, count: regular && st.st_size < chunkSize ? max(4096, Int(st.st_size) + 1) : chunkSize)
    }

    deinit { close(fd) }

    /// Whether it is a regular file (not a pipe or a device), which can be read again.
    public var isRegularFile: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Where the next read starts; nil when the descriptor cannot seek (a pipe).
    public var position: Int64? {
        let at = lseek(fd, 0, SEEK_CUR)
        return at < 0 ? nil : Int64(at)
    }

    /// Reads on from `offset` (a `position`), to read the file again.
    public func seek(to offset: Int64) throws(FetchError) {
        guard lseek(fd, off_t(offset), SEEK_SET) == offset else {
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
    }

    /// The file's size in bytes, when the system can tell.
    public var size: Int64? {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// Appends the file's next chunk to `bytes`; false at the end of the file (a reader that
    /// pulls its input, as the JSON export's scanner does).
    public func appendNextChunk(to bytes: inout [UInt8]) throws(FetchError) -> Bool {
        let n = try readChunk()
        guard n > 0 else { return false }
        buffer.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[0..<n])) }
        return true
    }

    /// Calls `body` with each chunk of the file in order.
    public func forEachChunk(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        while true {
            let n = try readChunk()
            if n == 0 { return }
            try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Reads the next chunk into `buffer`: how many bytes, 0 at the end of the file.
    private func readChunk() throws(FetchError) -> Int {
        let capacity = buffer.count
        let n = buffer.withUnsafeMutableBytes { raw -> Int in
            var got: Int
            repeat { got = read(fd, raw.baseAddress, capacity) } while got < 0 && errno == EINTR
            return got
        }
        if n < 0 { throw .unreadableFile(path: path, reason: String(cString: strerror(errno))) }
        return n
    }
}
