#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The rows of one entity once read, in key order (`KeyOrder`), in blocks of
/// `rowsPerBlock` records: in a file of the run's private directory when the export was
/// large enough to spill, else in memory. What stays in memory per entity is one key and
/// one offset per block and the block last read, so a district five times larger holds
/// the same few megabytes: the rows themselves live in the file (and the kernel's page
/// cache, which gives them back under pressure), not in the process.
///
/// Row numbers are positions in key order. Reads copy what they give out (a key, a value)
/// onto the stack, so callers may nest them (compare two rows' keys) and use them from
/// any thread.
final class SortedRows: @unchecked Sendable {
    static let rowsPerBlock = 64

    let count: Int
    let valueCount: Int
    /// The file holding the blocks, unlinked (nothing is left behind however the run ends);
    /// nil when they are in `memory`.
    let file: RunFile?
    let memory: ByteBuffer
    /// Where each block starts, and one more: where the last ends.
    let blockStarts: [Int]
    /// Each block's first key, end to end (a buffer of this object's own, so that a search
    /// reads it without going through an array), and where each ends.
    private let firstKeys: UnsafeMutableBufferPointer<UInt8>
    private let firstKeyEnds: [Int]

    private let lock = NSLock()
    private var cache: [UInt8] = []
    private var cacheStarts: [Int] = []
    private var cachedBlock = -1

    init(count: Int, valueCount: Int, file: RunFile?, memory: ByteBuffer, blockStarts: [Int], firstKeys: [UInt8], firstKeyEnds: [Int]) {
        self.count = count
        self.valueCount = valueCount
        self.file = file
        self.memory = memory
        self.blockStarts = blockStarts
        self.firstKeys = .allocate(capacity: max(1, firstKeys.count))
        _ = self.firstKeys.initialize(from: firstKeys)
        self.firstKeyEnds = firstKeyEnds
    }

    deinit { firstKeys.deallocate() }

    static func empty(valueCount: Int) -> SortedRows {
        SortedRows(count: 0, valueCount: valueCount, file: nil, memory: ByteBuffer(capacity: 16), blockStarts: [0], firstKeys: [], firstKeyEnds: [])
    }

    /// Whether the rows are in a file (tests and the benchmark's notes).
    var isOnDisk: Bool { file != nil }

    /// Loads the block holding `row` into the cache (the lock is held).
    private func load(block: Int) {
        guard block != cachedBlock else { return }
        let start = blockStarts[block], length = blockStarts[block + 1] - start
        if cache.count < length { cache = [UInt8](repeating: 0, count: length) }
        if let file {
            let read = cache.withUnsafeMutableBytes { buffer -> Int in
                var done = 0
                while done < length {
                    let n = pread(file.descriptor, buffer.baseAddress! + done, length - done, off_t(start + done))
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { return done }
                    done += n
                }
                return done
            }
            // The file is this process's own, written moments ago and never shown to anyone:
            // a short read means the disk failed under the run, which no caller can repair.
            guard read == length else { fatalError("\(file.shownAs): cannot read back the export's rows (\(String(cString: strerror(errno))))") }
        } else {
            cache.withUnsafeMutableBufferPointer { to in
                _ = UnsafeMutableBufferPointer(rebasing: to[0..<length]).initialize(from: UnsafeBufferPointer(rebasing: memory.bytes[start..<(start + length)]))
            }
        }
        cacheStarts.removeAll(keepingCapacity: true)
        cache.withUnsafeBytes { raw in
            var at = 0
            while at < length {
                cacheStarts.append(at)
                at += Int(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))
            }
        }
        cachedBlock = block
    }

    /// Calls `body` with row `row`'s record, under the lock (the record lives in the cache):
    /// `body` must not read these rows again, it would wait for itself.
    func withRecord<R>(_ row: Int, _ body: (RowRecord) throws -> R) rethrows -> R {
        precondition(row >= 0 && row < count, "row \(row) of \(count)")
        lock.lock()
        defer { lock.unlock() }
        load(block: row / Self.rowsPerBlock)
        return try cache.withUnsafeBytes { try body(RowRecord(base: $0.baseAddress! + cacheStarts[row % Self.rowsPerBlock], valueCount: valueCount)) }
    }

    /// Copies the bytes `part` picks out of row `row` onto the stack and hands them to `body`.
    private func withBytes<R>(_ row: Int, _ part: (RowRecord) -> Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        precondition(row >= 0 && row < count, "row \(row) of \(count)")
        lock.lock()
        load(block: row / Self.rowsPerBlock)
        let start = cacheStarts[row % Self.rowsPerBlock]
        let range = cache.withUnsafeBytes { part(RowRecord(base: $0.baseAddress! + start, valueCount: valueCount)) }
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(range.count, 1)) { copy in
            cache.withUnsafeBufferPointer { all in
                for i in 0..<range.count { copy[i] = all[start + range.lowerBound + i] }
            }
            lock.unlock()
            return try body(UnsafeBufferPointer(rebasing: copy[0..<range.count]))
        }
    }

    func withKeyBytes<R>(_ row: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withBytes(row, { $0.keyRange }, body)
    }

    func withValueBytes<R>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withBytes(row, { $0.valueRange(column) }, body)
    }

    func fingerprint(_ row: Int) -> UInt64 { withRecord(row) { $0.fingerprint } }
    func isInactive(_ row: Int) -> Bool { withRecord(row) { $0.isInactive } }
    func line(_ row: Int) -> Int { withRecord(row) { Int($0.line) } }

    /// The row with this key, if there is one: the block from the keys kept in memory, then
    /// the row within it.
    func row(forKey key: UnsafeBufferPointer<UInt8>) -> Int? {
        let p = position(of: key)
        return p.found ? p.index : nil
    }

    /// Where `key` is or would be: the first row whose key is not before it, and whether
    /// that row has this key.
    func position(of key: UnsafeBufferPointer<UInt8>) -> (index: Int, found: Bool) {
        guard count > 0 else { return (0, false) }
        let blocks = blockStarts.count - 1
        if KeyOrder.compare(key, firstKey(0)) < 0 { return (0, false) }
        // The last block whose first key is at most `key`.
        var low = 0, high = blocks - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if KeyOrder.compare(firstKey(mid), key) <= 0 { low = mid } else { high = mid - 1 }
        }
        let block = low
        lock.lock()
        defer { lock.unlock() }
        load(block: block)
        let rows = cacheStarts.count
        return cache.withUnsafeBytes { raw -> (Int, Bool) in
            var lo = 0, hi = rows
            while lo < hi {
                let mid = (lo + hi) / 2
                if KeyOrder.compare(RowRecord(base: raw.baseAddress! + cacheStarts[mid], valueCount: valueCount).key, key) < 0 { lo = mid + 1 } else { hi = mid }
            }
            let index = block * Self.rowsPerBlock + lo
            let found = lo < rows && KeyOrder.compare(RowRecord(base: raw.baseAddress! + cacheStarts[lo], valueCount: valueCount).key, key) == 0
            return (index, found)
        }
    }

    /// The same as `position(of:)` for a key known to come after every row before `start`:
    /// the rows are walked forward from there (whole blocks skipped by their first keys),
    /// so keys asked in key order cost a comparison or two each instead of a search.
    func position(of key: UnsafeBufferPointer<UInt8>, from start: Int) -> (index: Int, found: Bool) {
        var i = start
        let blocks = blockStarts.count - 1
        lock.lock()
        defer { lock.unlock() }
        while i < count {
            let block = i / Self.rowsPerBlock
            if block + 1 < blocks && KeyOrder.compare(firstKey(block + 1), key) <= 0 {
                i = (block + 1) * Self.rowsPerBlock
                continue
            }
            load(block: block)
            let end = min(count, (block + 1) * Self.rowsPerBlock)
            let c = cache.withUnsafeBytes { raw -> Int in
                while i < end {
                    let c = KeyOrder.compare(RowRecord(base: raw.baseAddress! + cacheStarts[i % Self.rowsPerBlock], valueCount: valueCount).key, key)
                    if c >= 0 { return c }
                    i += 1
                }
                return -1
            }
            if c >= 0 { return (i, c == 0) }
        }
        return (count, false)
    }

    /// The first key of block `b`, kept in memory.
    private func firstKey(_ b: Int) -> UnsafeBufferPointer<UInt8> {
        let s = b == 0 ? 0 : firstKeyEnds[b - 1]
        return UnsafeBufferPointer(rebasing: firstKeys[s..<firstKeyEnds[b]])
    }
}
