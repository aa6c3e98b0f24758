#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reads records (`RowRecord`) one after another from a file of the run's directory (a
/// sorted run, or the sorted rows from a block on) through a buffer that always holds the
/// whole current record (a record larger than the buffer grows it).
final class RunReader {
    let file: RunFile
    /// Where the records end in the file.
    let length: Int
    let valueCount: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// The buffer holds the file's bytes from `offset` up to `offset + filled`.
    private var offset: Int
    private var filled = 0
    private var at = 0
    private(set) var current: RowRecord?

    /// `start`: where the first record begins; `buffer`: bytes read at a time.
    init(file: RunFile, start: Int = 0, length: Int, valueCount: Int, buffer size: Int = 256 << 10) throws {
        self.file = file
        self.length = length
        self.valueCount = valueCount
        offset = start
        capacity = size
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        _ = try advance(first: true)
    }

    deinit { buffer.deallocate() }

    /// Moves to the next record; false at the run's end.
    @discardableResult
    func advance(first: Bool = false) throws -> Bool {
        if !first, let c = current { at += c.length }
        current = nil
        guard offset + at < length else { return false }
        if at + 4 > filled { try refill(needing: 4) }
        let size = Int(buffer.loadUnaligned(fromByteOffset: at, as: UInt32.self))
        if at + size > filled { try refill(needing: size) }
        current = RowRecord(base: UnsafeRawPointer(buffer + at), valueCount: valueCount)
        return true
    }

    /// Moves the unread bytes to the buffer's start and reads on, so that `needing` bytes
    /// from `at` are in it.
    private func refill(needing: Int) throws {
        let left = filled - at
        if needing > capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: needing, alignment: 8)
            bigger.copyMemory(from: buffer + at, byteCount: left)
            buffer.deallocate()
            buffer = bigger
            capacity = needing
        } else if left > 0 {
            memmove(buffer, buffer + at, left)
        }
        offset += at
        at = 0
        filled = left
        while filled < capacity && offset + filled < length {
            let n = pread(file.descriptor, buffer + filled, min(capacity - filled, length - offset - filled), off_t(offset + filled))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw RunDirectoryError.cannotCreateFile(path: file.shownAs, reason: n < 0 ? String(cString: strerror(errno)) : "the file is shorter than was written")
            }
            filled += n
        }
        guard filled >= needing else {
            throw RunDirectoryError.cannotCreateFile(path: file.shownAs, reason: "the file is shorter than was written")
        }
    }
}
