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
    private var buffer = ByteBuffer(capacity: 16)
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
                      key: UnsafeBufferPointer<UInt8>, valueEnds: UnsafeBufferPointer<UInt8>, values: UnsafeBufferPointer<UInt8>) {
        if starts.capacity == 0 {
            // One allocation for the buffer's life: grown by doubling, it would leave each
            // smaller copy behind in the allocator's free lists (resident, issue 34).
            buffer = ByteBuffer(capacity: budget + budget / 8)
            starts.reserveCapacity(budget / 32)
        }
        starts.append(buffer.count)
        RowRecord.append(to: buffer, sequence: sequence, line: line, inactive: inactive, strict: strict,
                         fingerprint: fingerprint, key: key, valueEnds: valueEnds, values: values)
        if buffer.count >= budget, directory != nil, failure == nil { spill() }
    }

    /// Sorts the buffer's records into key order, equal keys in the order they were read
    /// (in place: no second array per run).
    private mutating func sortStarts() {
        Self.sortInPlace(&starts, UnsafeRawBufferPointer(buffer.bytes), valueCount)
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
            let raw = UnsafeRawBufferPointer(buffer.bytes)
            for s in starts {
                let length = Int(raw.loadUnaligned(fromByteOffset: s, as: UInt32.self))
                try out.append(UnsafeRawBufferPointer(rebasing: raw[s..<(s + length)]))
            }
            try out.flush()
            runs.append((file, out.written))
            buffer.removeAll()
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
            let raw = UnsafeRawBufferPointer(buffer.bytes)
            for s in starts {
                let r = RowRecord(base: raw.baseAddress! + s, valueCount: valueCount)
                if keep(r) { try output.add(r) }
            }
            buffer.release()
            starts = []
            return try output.finish(valueCount: valueCount)
        }
        buffer.release()
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
    private let pending = ByteBuffer(capacity: 1 << 20)
    private(set) var written = 0

    init(file: RunFile) { self.file = file }

    mutating func append(_ bytes: UnsafeRawBufferPointer) throws {
        pending.append(bytes)
        written += bytes.count
        if pending.count >= 1 << 20 { try flush() }
    }

    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        if let reason = file.write(UnsafeRawBufferPointer(pending.bytes)) {
            throw RunDirectoryError.cannotCreateFile(path: file.shownAs, reason: reason)
        }
        pending.removeAll()
    }
}

/// The sorted rows as `SortedRows` keeps them: blocks of `SortedRows.rowsPerBlock`
/// records, with each block's start and first key.
private struct BlockOutput {
    let file: RunFile?
    private var fileOutput: FileOutput?
    private let memory = ByteBuffer(capacity: 4096)
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
        if fileOutput != nil { try fileOutput!.append(bytes) } else { memory.append(bytes) }
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
