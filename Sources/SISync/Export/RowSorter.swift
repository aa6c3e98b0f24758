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
    /// A row too large for a record (its length is 32 bits): left out, and the read fails
    /// once it ends. (`EntityRows` refuses such rows before; a OneRoster sorter of users or
    /// enrollments meets one only in a file of gigabytes, its bytes not UTF-8.)
    private var oversized = false
    /// The largest record, in bytes (tests lower it).
    var recordLimit = Int(UInt32.max)
    /// The file the rows come from, for that failure's message.
    var source: String
    /// The sorted rows themselves, while every row has come with a key after the one
    /// before (a SIS's file sorted by its ids: most of a district's export). Such rows need
    /// no sort, no run and no merge: they are written once, where the merge would write
    /// them (issue 34: the sort and the merge were a fifth of the parse on a day on which
    /// every file changed). The first row out of order ends it; what was written then
    /// becomes the first run (or the buffer's first rows) and the rows go on as before.
    private var inOrder: BlockOutput? = BlockOutput(file: nil, memoryCapacity: 16)
    private let lastKey = ByteBuffer(capacity: 64)
    private let record = ByteBuffer(capacity: 256)
    /// A row given as strings (`add(key:values:...)`), its values end to end and their ends.
    private let givenValues = ByteBuffer(capacity: 16)
    private let givenEnds = ByteBuffer(capacity: 16)

    init(valueCount: Int, label: String, directory: RunDirectory?) {
        self.valueCount = valueCount
        self.label = label
        self.directory = directory
        source = label
    }

    var spilledRuns: Int { runs.count }

    mutating func add(sequence: UInt32, line: Int32, inactive: Bool, strict: Bool, fingerprint: UInt64,
                      key: UnsafeBufferPointer<UInt8>, valueEnds: UnsafeBufferPointer<UInt8>, values: UnsafeBufferPointer<UInt8>) {
        guard RowRecord.headerSize + valueEnds.count + key.count + values.count <= recordLimit else {
            oversized = true
            return
        }
        // Taken out and put back (a move): used in place through the optional, the output's
        // references were retained and released at each use.
        if var out = inOrder.take() {
            if out.count == 0 {
                // The buffer the rows would have been sorted in, allocated at once: grown by
                // doubling, each step would copy the rows and fault in fresh pages.
                out = BlockOutput(file: nil, memoryCapacity: budget + budget / 8)
            }
            if out.count == 0 || KeyOrder.compare(lastKey.bytes, key) < 0 {
                record.removeAll()
                RowRecord.append(to: record, sequence: sequence, line: line, inactive: inactive, strict: strict,
                                 fingerprint: fingerprint, key: key, valueEnds: valueEnds, values: values)
                lastKey.removeAll()
                lastKey.append(key)
                do {
                    try out.add(RowRecord(base: UnsafeRawPointer(record.base), valueCount: valueCount))
                    if out.file == nil, out.total >= budget, let directory {
                        // As the buffer would have spilled: the rows go on in a file.
                        let file = try directory.create("rows-\(label)")
                        directory.remove(file)
                        try out.move(to: file)
                    }
                    inOrder = out
                } catch {
                    failure = error as? RunDirectoryError ?? .cannotCreateFile(path: directory?.path ?? label, reason: "\(error)")
                }
                return
            }
            inOrder = out
            leaveOrder()
        }
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

    /// Adds a row given as strings: the OneRoster translation's rows of users, agents,
    /// students and verdicts, sorted by a user's id.
    mutating func add(key: String, values list: [String], sequence: UInt32, line: Int, inactive: Bool = false, strict: Bool = false,
                      fingerprint: UInt64 = 0) {
        givenValues.removeAll()
        givenEnds.removeAll()
        for v in list {
            var v = v
            v.withUTF8 { givenValues.append($0) }
            // Past 32 bits the row is refused below (`recordLimit`), so the end may wrap.
            givenEnds.append(littleEndian: UInt32(truncatingIfNeeded: givenValues.count))
        }
        var key = key
        let (values, ends) = (givenValues, givenEnds)
        key.withUTF8 { key in
            // A line past 2^31 is no file sisync reads (`max_bytes`).
            add(sequence: sequence, line: Int32(clamping: line), inactive: inactive, strict: strict, fingerprint: fingerprint,
                key: key, valueEnds: ends.bytes, values: values.bytes)
        }
    }

    /// Every row, in key order (equal keys in the order added). Rows that came in order
    /// need no merge.
    mutating func finishKeepingAll() throws -> SortedRows {
        try finish(keepsDistinctKeys: true) { _ in true }
    }

    /// Of equal keys only the first added (the least `sequence`), every other key. Rows that
    /// came in order (no equal keys among them) need no merge.
    mutating func finishKeepingFirstOfEachKey() throws -> SortedRows {
        let previous = ByteBuffer(capacity: 64)
        var first = true
        return try finish(keepsDistinctKeys: true) { r in
            defer { first = false }
            if !first && previous.equals(r.key) { return false }
            previous.removeAll()
            previous.append(r.key)
            return true
        }
    }

    /// A row came out of order: the rows written in order become the first run, or, still
    /// in memory, the buffer's first rows.
    private mutating func leaveOrder() {
        guard var out = inOrder else { return }
        inOrder = nil
        do {
            if let run = try out.asRun() {
                runs.append(run)
                return
            }
        } catch {
            failure = error as? RunDirectoryError ?? .cannotCreateFile(path: directory?.path ?? label, reason: "\(error)")
            return
        }
        guard out.count > 0 else { return }
        // The rows' own buffer (allocated for sorting them) becomes the sort buffer: a copy
        // would hold them twice for a moment, up to twice the budget (issue 34's peak).
        buffer = out.takeMemory()
        starts.reserveCapacity(budget / 32)
        let raw = UnsafeRawBufferPointer(buffer.bytes)
        var at = 0
        while at < raw.count {
            starts.append(at)
            at += Int(raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))
        }
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
    /// `keepsDistinctKeys`: `keep` keeps every record whose key no other record has (no
    /// skipped row protects one), so rows that came in order are the output as written.
    mutating func finish(keepsDistinctKeys: Bool = false, keep: (RowRecord) -> Bool) throws -> SortedRows {
        if let failure { throw failure }
        if oversized { throw ExportError.tooLargeToHold(file: source, what: "bytes in one row", limit: recordLimit) }
        if keepsDistinctKeys, var out = inOrder {
            inOrder = nil
            return try out.finish(valueCount: valueCount)
        }
        leaveOrder()
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

/// The sorted rows as `SortedRows` keeps them: blocks of `SortedRows.rowsPerBlock`
/// records, with each block's start and first key.
private struct BlockOutput {
    private(set) var file: RunFile?
    private var fileOutput: FileOutput?
    private var memory: ByteBuffer
    private var blockStarts: [Int] = []
    private var firstKeys: [UInt8] = []
    private var firstKeyEnds: [Int] = []
    private(set) var count = 0
    private(set) var total = 0

    init(file: RunFile?, memoryCapacity: Int = 4096) {
        self.file = file
        memory = ByteBuffer(capacity: file == nil ? memoryCapacity : 16)
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

    /// The records written so far go on in `file` (they outgrew memory), and so will the next.
    mutating func move(to file: RunFile) throws {
        precondition(self.file == nil, "rows moved to a file twice")
        var out = FileOutput(file: file)
        try out.append(UnsafeRawBufferPointer(memory.bytes))
        self.file = file
        fileOutput = out
        memory = ByteBuffer(capacity: 16)
    }

    /// Hands over the buffer holding the records in memory; this output is not used after.
    mutating func takeMemory() -> ByteBuffer {
        let taken = memory
        memory = ByteBuffer(capacity: 16)
        return taken
    }

    /// The records written as a run of the merge: its file and length; nil when they are
    /// still in memory (`takeMemory`).
    mutating func asRun() throws -> (file: RunFile, length: Int)? {
        guard let file else { return nil }
        try fileOutput?.flush()
        return (file, total)
    }

    mutating func finish(valueCount: Int) throws -> SortedRows {
        try fileOutput?.flush()
        blockStarts.append(total)
        // Rows kept in memory keep a buffer of their own size: the one they were written
        // into was allocated at the sorter's budget (9 MiB) for the rows that would come,
        // and a small file's rows (staff, applicants) would hold it until the run ends,
        // memory the allocator had handed out before and the kernel counts (issue 34: a
        // district's records step peaked 4-8 MB above the last release).
        if file == nil && memory.capacity > 2 * memory.count + 4096 {
            let exact = ByteBuffer(capacity: memory.count)
            exact.append(memory.bytes)
            memory = exact
        }
        return SortedRows(count: count, valueCount: valueCount, file: file, memory: memory, blockStarts: blockStarts,
                          firstKeys: firstKeys, firstKeyEnds: firstKeyEnds)
    }
}
