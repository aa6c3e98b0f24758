/// The sorted rows read one after another from a row on, as the planner's scan of a mirror
/// table meets them: from the run's file a quarter megabyte at a time (or in place, when the
/// rows are in memory), without the lock, the block cache and the read of one block per 64
/// rows that a look-up by row number costs (`SortedRows.withRecord`). Used by one thread.
final class SortedRowsWalk {
    let rows: SortedRows
    private var reader: RunReader?
    /// In memory: where the current record starts in `rows.memory`.
    private var memoryAt = 0
    /// The current row's number (`rows.count` at the end).
    private(set) var index = 0
    private(set) var current: RowRecord?

    /// The first read of a walk started on the file: a block is a few kilobytes, and a
    /// walk started again after a break in the mirror table's order (PostgreSQL's heap,
    /// once updates have moved rows) may last only for its 64 rows; a walk that goes on
    /// doubles its reads up to `RunReader`'s quarter megabyte.
    static let firstRead = 16 << 10

    init(rows: SortedRows, from row: Int = 0) throws {
        self.rows = rows
        try move(to: row)
    }

    /// Starts again at row `row`: its block is read, then the rows before it in the block
    /// skipped.
    func move(to row: Int) throws {
        precondition(row >= 0 && row <= rows.count, "row \(row) of \(rows.count)")
        reader = nil
        current = nil
        index = row
        guard row < rows.count else { return }
        let block = row / SortedRows.rowsPerBlock
        let start = rows.blockStarts[block]
        if let file = rows.file {
            reader = try RunReader(file: file, start: start, length: rows.blockStarts[rows.blockStarts.count - 1], valueCount: rows.valueCount,
                                   firstRead: Self.firstRead)
            current = reader!.current
        } else {
            memoryAt = start
            current = RowRecord(base: UnsafeRawPointer(rows.memory.base + start), valueCount: rows.valueCount)
        }
        for _ in 0..<(row % SortedRows.rowsPerBlock) { try step() }
        index = row
    }

    /// What the file's reader holds now (nil in memory, or past the end): for tests.
    var bytesBuffered: Int? { reader?.capacity }

    /// Moves past every row whose key sorts before `key` (`KeyOrder`), for a walk read
    /// beside another sorted the same way; returns the row then current if it has `key`.
    @discardableResult
    func skip(before key: UnsafeBufferPointer<UInt8>) throws -> RowRecord? {
        while let r = current, KeyOrder.compare(r.key, key) < 0 { try advance() }
        guard let r = current, KeyOrder.compare(r.key, key) == 0 else { return nil }
        return r
    }

    /// Moves to the next row; `current` is nil past the last.
    func advance() throws {
        guard current != nil else { return }
        try step()
        index += 1
    }

    private func step() throws {
        guard let c = current else { return }
        if let reader {
            try reader.advance()
            current = reader.current
        } else {
            memoryAt += c.length
            current = memoryAt < rows.blockStarts[rows.blockStarts.count - 1]
                ? RowRecord(base: UnsafeRawPointer(rows.memory.base + memoryAt), valueCount: rows.valueCount) : nil
        }
    }
}
