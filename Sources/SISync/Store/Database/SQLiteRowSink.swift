import CSQLite

/// `insertRows` for SQLite. The rows gather here, their bytes copied into one buffer, and go
/// in `rowsPerStatement` at a time with one `INSERT … VALUES (…), (…), …` (issue 34).
///
/// Why: a statement per row sought each row's place from the table's root, since a
/// statement closes its cursor when it is reset; within one statement the cursor stays on
/// the rightmost leaf, and rows in key order (the mirror's additions) go in without a
/// seek. Per row that was about 40% of SQLite's work (a district's first import: 2.3 of
/// its 5.6 billion instructions were `sqlite3_step` of these INSERTs).
///
/// A batch is `INSERT OR FAIL`: a failing row keeps the batch's rows before it instead of
/// taking the statement back, so SQLite keeps no statement journal for it (a statement that
/// may be taken back copies every page it changes that existed before it, first, to a
/// temporary file). For a copy loaded into the temp schema after another was dropped
/// (`loadingPacked`: seven tables, one after the other), every page came from the temp
/// schema's free list, so every batch wrote the pages it filled to the journal first: at
/// five times a district, 1.97 GB of 3.97 GB written, and the import 5.7 times as long as at
/// 1x (issue 34's linear scale). A reference that fails still takes the statement back
/// whole; after a constraint `sqlite3_changes` says which rows stayed either way. Any other
/// failure of a batch is the answer itself (without a journal SQLite cannot take back the
/// rows it wrote, nor say how many).
///
/// What stays as it was, row by row: when a batch fails (a key that exists, a value SQLite
/// refuses), the rows after those that stayed go again one at a time
/// through the one-row statement, so the rows before the bad one stay and the error is
/// that row's, with that statement's SQL; a row with a value too many or too few fails as
/// the one-row statement fails; the rows given before `body` throws stay. A stop, or an
/// error after which SQLite rolled the whole transaction back, is the answer itself.
/// Fewer rows than a batch (the last ones, a small insert) take the one-row statement.
/// Nobody may read the table between `endRow` and the end of `body` expecting the row:
/// PostgreSQL's COPY allows no query there either.
final class SQLiteRowSink: RowSink {
    private enum Value {
        case text(offset: Int, count: Int)
        case integer(Int64)
        case null
    }

    /// Rows per multi-row statement: past about 64 the gain is under 3% (measured with
    /// callgrind on 50,000 student rows: 1 row 533, 16 rows 334, 64 rows 304, 256 rows 297
    /// million instructions in `sqlite3_step`).
    static let rowsPerStatement = 64

    private let database: SQLiteDatabase
    /// `INSERT INTO table (columns)`, or a temporary table's name alone.
    private let target: String
    private let width: Int
    private let batchRows: Int
    /// The values of the rows held, then those of the row being added: at most a batch
    /// and one row (a value past a row's last column is refused before it is held).
    /// Plain memory and fields the runtime does not check for exclusive access: this is
    /// per value of an import, and Swift's arrays and checked fields cost more than the
    /// statements saved (only the thread that calls `insertRows` touches them).
    private let values: UnsafeMutablePointer<Value>
    @exclusivity(unchecked) private var count = 0
    @exclusivity(unchecked) private var inRow = 0
    /// Complete rows among `values`.
    @exclusivity(unchecked) private var rows = 0
    /// The text values' bytes, copied: the caller's may be gone before the batch runs.
    @exclusivity(unchecked) private var bytes: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var byteCount = 0
    @exclusivity(unchecked) private var byteCapacity = 1 << 14
    /// Prepared when first needed and kept for the sink's life.
    @exclusivity(unchecked) private var singleStatement: SQLiteStatement?
    @exclusivity(unchecked) private var batchStatement: SQLiteStatement?

    private init(database: SQLiteDatabase, target: String, width: Int) {
        self.database = database
        self.target = target
        self.width = width
        let limit = Int(sqlite3_limit(database.handle, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
        batchRows = width > 0 ? max(1, min(Self.rowsPerStatement, limit / width)) : 1
        values = .allocate(capacity: (batchRows + 1) * max(width, 1))
        bytes = .allocate(capacity: byteCapacity)
    }

    deinit {
        // The batch statement goes back to the cache pointing at nothing of ours.
        if let batchStatement { sqlite3_clear_bindings(batchStatement.handle) }
        values.deallocate()
        bytes.deallocate()
    }

    /// Runs `body` with a sink into `target` (`table (a, b)`, or a table whose columns are
    /// all given, in order) and inserts what it gave, also when it throws.
    static func fill(database: SQLiteDatabase, into target: String, width: Int, _ body: (any RowSink) throws -> Void) throws {
        let sink = SQLiteRowSink(database: database, target: target, width: width)
        do {
            try body(sink)
        } catch {
            // The rows given before the error stay, as they did a statement per row; the
            // body's error is the answer.
            try? sink.insertPending()
            throw error
        }
        try sink.insertPending()
    }

    private static func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ", ") }

    /// The one-row INSERT, the SQL `insertRows` always had (errors name it).
    private func single() throws -> SQLiteStatement {
        if let singleStatement { return singleStatement }
        let made = try SQLiteStatement(database: database, sql: "INSERT INTO \(target) VALUES (\(Self.placeholders(width)))")
        singleStatement = made
        return made
    }

    private func batch() throws -> SQLiteStatement {
        if let batchStatement { return batchStatement }
        let row = "(\(Self.placeholders(width)))"
        let made = try SQLiteStatement(database: database, sql: "INSERT OR FAIL INTO \(target) VALUES " + Array(repeating: row, count: batchRows).joined(separator: ", "))
        batchStatement = made
        return made
    }

    func add(utf8 text: UnsafeBufferPointer<UInt8>) throws {
        if inRow == width { try refuseValueTooMany() }
        let n = text.count
        if byteCount + n > byteCapacity { grow(to: byteCount + n) }
        if n > 0, let source = text.baseAddress { (bytes + byteCount).initialize(from: source, count: n) }
        hold(.text(offset: byteCount, count: n))
        byteCount += n
    }

    func add(_ value: String?) throws {
        guard var value else {
            if inRow == width { try refuseValueTooMany() }
            return hold(.null)
        }
        try value.withUTF8 { try add(utf8: $0) }
    }

    func add(_ value: Int64?) throws {
        if inRow == width { try refuseValueTooMany() }
        hold(value.map(Value.integer) ?? .null)
    }

    func add(_ value: Bool) throws {
        if inRow == width { try refuseValueTooMany() }
        hold(.integer(value ? 1 : 0))
    }

    @inline(__always)
    private func hold(_ value: Value) {
        (values + count).initialize(to: value)
        count += 1
        inRow += 1
    }

    private func grow(to needed: Int) {
        let capacity = max(byteCapacity * 2, needed)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.initialize(from: bytes, count: byteCount)
        bytes.deallocate()
        bytes = grown
        byteCapacity = capacity
    }

    func endRow() throws {
        guard inRow == width else {
            // Too few values: the one-row statement says which is missing, as it did.
            try insertPending()
            defer { forgetAll() }
            return try insertOneRow(from: 0, count: inRow, into: try single())
        }
        inRow = 0
        rows += 1
        if rows == batchRows { try insertPending() }
    }

    /// A value beyond the row's last column fails as binding it to the one-row statement
    /// fails (`StoreError.parameterMismatch`), after the rows before it went in.
    private func refuseValueTooMany() throws {
        try insertPending()
        let statement = try single()
        defer { statement.reset() }
        try bind(statement, from: 0, count: width)
        try statement.bind(Int32(width + 1), nil as Int64?)
    }

    /// Inserts the complete rows: a full batch with one statement, fewer a row at a time.
    /// Keeps a row being added (its values move to the front). The rows are forgotten
    /// also when one fails: those before it went in, and the body stops there, as it did
    /// when each row was a statement.
    private func insertPending() throws {
        guard rows > 0 else { return }
        defer { forgetCompleteRows() }
        let done = rows == batchRows && batchRows > 1 ? try insertBatch() : 0
        guard done < rows else { return }
        let statement = try single()
        for r in done..<rows { try insertOneRow(from: r * width, count: width, into: statement) }
    }

    /// The batch with one statement, bound here without the per-value checks of
    /// `SQLiteStatement` (it has exactly a value per placeholder, by construction): how
    /// many of its rows went in, all of them unless it failed, when the rest should go
    /// again one at a time.
    private func insertBatch() throws -> Int {
        let statement = try batch()
        let handle = statement.handle
        var rc = SQLITE_OK
        for i in 0..<(rows * width) where rc == SQLITE_OK {
            let index = Int32(i + 1)
            switch values[i] {
            case .text(let offset, let n):
                // A value of 2 GiB or more: the one-row statement says SQLite's "too big".
                guard let length = Int32(exactly: n) else { rc = SQLITE_TOOBIG; break }
                rc = n == 0 ? sisync_sqlite_bind_text_transient(handle, index, "", 0)
                    : UnsafeRawPointer(bytes + offset).withMemoryRebound(to: CChar.self, capacity: n) { sqlite3_bind_text(handle, index, $0, length, nil) }
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .null: rc = sqlite3_bind_null(handle, index)
            }
        }
        var stepped = false
        if rc == SQLITE_OK {
            rc = sqlite3_step(handle)
            stepped = true
        }
        let failure = rc == SQLITE_DONE ? nil : database.error(rc, statement.sql)
        // Read before the reset, and trusted for a constraint only: a constraint stops the
        // statement at a row, and the count is of those before it that stayed (`OR FAIL`),
        // or 0 when a reference took the statement back whole. Any other failure may stop
        // it before it counted anything (a lock not had: the count is still the last
        // statement's) or after rows it could not take back (no journal), so it is the
        // answer itself.
        let kept = Int(sqlite3_changes64(database.handle))
        sqlite3_reset(handle)
        guard let failure else { return rows }
        if case .interrupted = failure { throw failure }
        // SQLite rolled the whole transaction back: nothing to go again on.
        guard sqlite3_get_autocommit(database.handle) == 0 else { throw failure }
        // A batch that failed binding never ran: its rows go again, the bad one saying why.
        guard stepped else { return 0 }
        guard rc & 0xff == SQLITE_CONSTRAINT, kept >= 0, kept < rows else { throw failure }
        return kept
    }

    private func forgetCompleteRows() {
        let done = rows * width
        let kept = count - done
        if kept > 0 {
            // The row being added keeps its values; their bytes stay where they are.
            values.update(from: values + done, count: kept)
        } else {
            byteCount = 0
        }
        count = kept
        rows = 0
    }

    private func forgetAll() {
        count = 0
        inRow = 0
        rows = 0
        byteCount = 0
    }

    private func insertOneRow(from first: Int, count n: Int, into statement: SQLiteStatement) throws {
        do {
            try bind(statement, from: first, count: n)
            try statement.run()
        } catch {
            statement.reset()
            throw error
        }
    }

    /// Through `SQLiteStatement`'s checks, so that a row's error is what it was.
    private func bind(_ statement: SQLiteStatement, from first: Int, count n: Int) throws {
        for i in 0..<n {
            let index = Int32(i + 1)
            switch values[first + i] {
            case .text(let offset, let length):
                try statement.bind(index, borrowing: UnsafeBufferPointer(start: length > 0 ? UnsafePointer(bytes + offset) : nil, count: length))
            case .integer(let v): try statement.bind(index, v)
            case .null: try statement.bind(index, nil as String?)
            }
        }
    }
}
