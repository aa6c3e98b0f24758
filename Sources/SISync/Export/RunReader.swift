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
    /// The buffer's size now: `firstRead` at first, doubled at each read after it up to
    /// `maximum` (or more, for a record larger than that).
    private(set) var capacity: Int
    private let maximum: Int
    private var reads = 0
    /// The buffer holds the file's bytes from `offset` up to `offset + filled`.
    private var offset: Int
    private var filled = 0
    private var at = 0
    private(set) var current: RowRecord?

    /// `start`: where the first record begins; `buffer`: bytes read at a time; `firstRead`:
    /// fewer bytes for the first read, for a reader that may be dropped after a few records
    /// (`SortedRowsWalk`, started again at each break in a mirror table's order: a quarter
    /// megabyte for each start would be read for a few dozen rows).
    init(file: RunFile, start: Int = 0, length: Int, valueCount: Int, buffer size: Int = 256 << 10, firstRead: Int? = nil) throws {
        self.file = file
        self.length = length
        self.valueCount = valueCount
        offset = start
        maximum = size
        capacity = max(8, min(size, firstRead ?? size))
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
        // A length the file cannot hold (a file damaged under the run) fails before any
        // buffer of that size is made; one under 4 would never move on.
        guard size >= 4, size <= length - (offset + at) else {
            throw RunDirectoryError.cannotReadFile(path: file.shownAs, reason: "a record's length, \(size) bytes, does not fit in the file")
        }
        if at + size > filled { try refill(needing: size) }
        current = RowRecord(base: UnsafeRawPointer(buffer + at), valueCount: valueCount)
        return true
    }

    /// Moves the unread bytes to the buffer's start and reads on, so that `needing` bytes
    /// from `at` are in it.
    private func refill(needing: Int) throws {
        let left = filled - at
        let wanted = max(needing, reads > 0 && capacity < maximum ? min(maximum, capacity * 2) : capacity)
        reads += 1
        if wanted > capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: wanted, alignment: 8)
            bigger.copyMemory(from: buffer + at, byteCount: left)
            buffer.deallocate()
            buffer = bigger
            capacity = wanted
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
                throw RunDirectoryError.cannotReadFile(path: file.shownAs, reason: n < 0 ? String(cString: strerror(errno)) : "the file is shorter than was written")
            }
            filled += n
        }
        guard filled >= needing else {
            throw RunDirectoryError.cannotReadFile(path: file.shownAs, reason: "the file is shorter than was written")
        }
    }
}
