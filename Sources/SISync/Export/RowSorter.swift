#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Sorts one entity's rows by key (`KeyOrder`) as they are read, in bounded memory: rows
/// gather in a buffer of `budget` bytes; a full buffer is sorted and written to a file of
/// the run's private directory (a run); the last step merges the runs into `SortedRows`.
/// Without a directory (tests, held plans, small tools) the rows stay in the buffer.
/// Issue 34: the export no longer grows the process with the district.
struct RowSorter {
    /// 8 MiB a buffer: two files parse at once, so 16 MiB in all; a district's largest file
    /// (about 50 MB of rows at 1x) makes a handful of runs, five districts' a few dozen.
    static let defaultBudget = 8 << 20

    let valueCount: Int
    /// Names the run's files (`rows-students`), for whoever looks at the directory.
    let label: String
    let directory: RunDirectory?
    var budget = RowSorter.defaultBudget
    private var buffer: [UInt8] = []
    private var starts: [Int] = []
    private var runs: [(file: RunFile, length: Int)] = []
    /// A run that could not be written (a full disk): the rows stay in memory and the read
    /// fails with this once it ends.
    private var failure: RunDirectoryError?

    init(valueCount: Int, label: String, directory: RunDirectory?) {
        self.valueCount = valueCount
        self.label = label
        self.directory = directory
    }

    var spilledRuns: Int { runs.count }

    mutating func add(sequence: UInt32, line: Int32, inactive: Bool, strict: Bool, fingerprint: UInt64,
                      key: UnsafeBufferPointer<UInt8>, valueEnds: [UInt32], values: [UInt8]) {
        if buffer.capacity == 0 {
            // One allocation for the buffer's life: grown by doubling, it would leave each
            // smaller copy behind in the allocator's free lists (resident, issue 34).
            buffer.reserveCapacity(budget + budget / 8)
            starts.reserveCapacity(budget / 32)
        }
        starts.append(buffer.count)
        RowRecord.append(to: &buffer, sequence: sequence, line: line, inactive: inactive, strict: strict,
                         fingerprint: fingerprint, key: key, valueEnds: valueEnds, values: values)
        if buffer.count >= budget, directory != nil, failure == nil { spill() }
    }

    /// Sorts the buffer's records into key order, equal keys in the order they were read
    /// (in place: no second array per run).
    private mutating func sortStarts() {
        let n = valueCount
        buffer.withUnsafeBytes { raw in Self.sortInPlace(&starts, raw, n) }
    }

    private static func sortInPlace(_ starts: inout [Int], _ raw: UnsafeRawBufferPointer, _ n: Int) {
        starts.sort { a, b in
            let ra = RowRecord(base: raw.baseAddress! + a, valueCount: n), rb = RowRecord(base: raw.baseAddress! + b, valueCount: n)
            let c = KeyOrder.compare(ra.key, rb.key)
            return c != 0 ? c < 0 : ra.sequence < rb.sequence
        }
    }

    /// Writes the buffer, sorted, as one run.
    private mutating func spill() {
        guard let directory, !starts.isEmpty else { return }
        do {
            let file = try directory.create("rows-\(label)-run")
            // Unlinked at once: the descriptor keeps it while it is read, and nothing of it
            // outlives the process, even a kill -9.
            directory.remove(file)
            var out = FileOutput(file: file)
            sortStarts()
            try buffer.withUnsafeBytes { raw in
                for s in starts {
                    let length = Int(raw.loadUnaligned(fromByteOffset: s, as: UInt32.self))
                    try out.append(UnsafeRawBufferPointer(rebasing: raw[s..<(s + length)]))
                }
            }
            try out.flush()
            runs.append((file, out.written))
            buffer.removeAll(keepingCapacity: true)
            starts.removeAll(keepingCapacity: true)
        } catch let error as RunDirectoryError {
            failure = error
        } catch {
            failure = .cannotCreateFile(path: directory.path, reason: "\(error)")
        }
    }

    /// The rows in key order. `keep` sees every record in that order (equal keys in the
    /// order read) and says whether it is a row; the others (duplicates) are left out.
    mutating func finish(keep: (RowRecord) -> Bool) throws -> SortedRows {
        if !runs.isEmpty { spill() }
        if let failure { throw failure }
        if runs.isEmpty {
            var output = BlockOutput(file: nil)
            sortStarts()
            try buffer.withUnsafeBytes { raw in
                for s in starts {
                    let r = RowRecord(base: raw.baseAddress! + s, valueCount: valueCount)
                    if keep(r) { try output.add(r) }
                }
            }
            buffer = []
            starts = []
            return try output.finish(valueCount: valueCount)
        }
        buffer = []
        starts = []
        guard let directory else { preconditionFailure("runs without a directory") }
        let file = try directory.create("rows-\(label)")
        directory.remove(file)
        var output = BlockOutput(file: file)
        let readers = try runs.map { try RunReader(file: $0.file, length: $0.length, valueCount: valueCount) }
        runs = []
        // A binary heap of the readers that still have a record, smallest record on top.
        var heap = readers.indices.filter { readers[$0].current != nil }
        func less(_ a: Int, _ b: Int) -> Bool {
            let ra = readers[a].current!, rb = readers[b].current!
            let c = KeyOrder.compare(ra.key, rb.key)
            return c != 0 ? c < 0 : ra.sequence < rb.sequence
        }
        func siftDown(_ i: Int) {
            var i = i
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        while let top = heap.first {
            let r = readers[top].current!
            if keep(r) { try output.add(r) }
            if try readers[top].advance() {
                siftDown(0)
            } else {
                heap.swapAt(0, heap.count - 1)
                heap.removeLast()
                if !heap.isEmpty { siftDown(0) }
            }
        }
        return try output.finish(valueCount: valueCount)
    }
}

/// Appends bytes to a run file through a 1 MiB buffer.
private struct FileOutput {
    let file: RunFile
    private var pending: [UInt8] = []
    private(set) var written = 0

    init(file: RunFile) {
        self.file = file
        pending.reserveCapacity(1 << 20)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        pending.append(contentsOf: bytes)
        written += bytes.count
        if pending.count >= 1 << 20 { try flush() }
    }

    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        if let reason = pending.withUnsafeBytes({ file.write($0) }) {
            throw RunDirectoryError.cannotCreateFile(path: file.shownAs, reason: reason)
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// The sorted rows as `SortedRows` keeps them: blocks of `SortedRows.rowsPerBlock`
/// records, with each block's start and first key.
private struct BlockOutput {
    let file: RunFile?
    private var fileOutput: FileOutput?
    private var memory: [UInt8] = []
    private var blockStarts: [Int] = []
    private var firstKeys: [UInt8] = []
    private var firstKeyEnds: [Int] = []
    private var count = 0
    private var total = 0

    init(file: RunFile?) {
        self.file = file
        fileOutput = file.map { FileOutput(file: $0) }
    }

    mutating func add(_ r: RowRecord) throws {
        if count % SortedRows.rowsPerBlock == 0 {
            blockStarts.append(total)
            firstKeys.append(contentsOf: r.key)
            firstKeyEnds.append(firstKeys.count)
        }
        let bytes = UnsafeRawBufferPointer(start: r.base, count: r.length)
        if fileOutput != nil { try fileOutput!.append(bytes) } else { memory.append(contentsOf: bytes) }
        total += r.length
        count += 1
    }

    mutating func finish(valueCount: Int) throws -> SortedRows {
        try fileOutput?.flush()
        blockStarts.append(total)
        return SortedRows(count: count, valueCount: valueCount, file: file, memory: memory, blockStarts: blockStarts,
                          firstKeys: firstKeys, firstKeyEnds: firstKeyEnds)
    }
}

/// Reads one run's records in order through a buffer that always holds the whole current
/// record (a record larger than the buffer grows it).
private final class RunReader {
    let file: RunFile
    let length: Int
    let valueCount: Int
    private var buffer: UnsafeMutableRawPointer
    private var capacity = 256 << 10
    /// The buffer holds the file's bytes from `offset` up to `offset + filled`.
    private var offset = 0
    private var filled = 0
    private var at = 0
    private(set) var current: RowRecord?

    init(file: RunFile, length: Int, valueCount: Int) throws {
        self.file = file
        self.length = length
        self.valueCount = valueCount
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
