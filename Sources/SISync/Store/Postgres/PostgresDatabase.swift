import Foundation
import Synchronization

/// The PostgreSQL driver of the store: one session, in the schema sisync owns, speaking
/// the stores' SQL through `PostgresDialect`. Statements are prepared on the server once
/// per session and reused. Values read back as SQLite gives them (`PostgresStatement`).
public final class PostgresDatabase: StoreDatabase {
    public let settings: PostgresStoreSettings
    public let connection: PostgresConnection
    public var location: String { settings.display }
    public private(set) var changes = 0
    private var prepared: [String: (name: String, parameters: StatementParameters)] = [:]
    /// Cursors opened by `forEachRowInPages`, for their names.
    private var cursors = 0
    /// Set by `interrupt` (from another thread): a cancelled statement is then a stop.
    private let stopRequested = Atomic<Bool>(false)
    /// True inside `trustingReferences`: a bulk load's references are then made again
    /// without a scan of the rows (`PostgresDatabase+BulkLoad`).
    var referencesTrusted = false

    /// Connects, creates the schema and its tables when missing (unless `mustExist`, when
    /// a missing schema is `StoreError.noDatabase`), and settles the session: the schema
    /// first on the search path, UTC, no notices on stderr, and 64 MB for each sort or hash
    /// (a first run sorts 300,000 role grants; the default 4 MB spills them to disk), 64 MB
    /// of buffers for the session's temporary tables (a first run's desired roles and grants
    /// are some 35 MB: with the default 8 MB the server wrote them out and read them back,
    /// a tenth of the run's CPU; taken only as the tables fill), and no JIT compilation,
    /// which costs more than it saves on statements that run once a run. (`temp_buffers`
    /// can be set only before the session's first temporary table: here, first thing.)
    public init(settings: PostgresStoreSettings, mustExist: Bool = false, applicationName: String) throws {
        self.settings = settings
        connection = try PostgresConnection(uri: settings.uri, password: try settings.password(), applicationName: applicationName)
        try connection.executeScript("SET client_min_messages TO warning; SET TimeZone TO 'UTC'; SET DateStyle TO ISO; SET work_mem TO '64MB'; SET temp_buffers TO '64MB'; SET jit TO off")
        if mustExist {
            let found = try connection.execute("SELECT to_regclass($1)", [PostgresSchema.qualified(settings.schema, "schema_version")]).value(0, 0)
            if found == nil { throw StoreError.noDatabase(path: settings.display) }
        }
        try PostgresSchema.prepare(connection, schema: settings.schema)
        try connection.executeScript("SET search_path TO \(PostgresSchema.quoted(settings.schema))")
    }

    public func execute(_ sql: String) throws {
        let script = try PostgresDialect.translate(sql)
        try interruptible { try connection.executeScript(script) }
    }

    public func prepare(_ sql: String) throws -> any StoreStatement {
        if let p = prepared[sql] { return PostgresStatement(database: self, name: p.name, sql: sql, parameters: p.parameters) }
        let t = try PostgresDialect.translation(sql)
        let name = "sisync_\(prepared.count + 1)"
        try connection.prepare(name: name, sql: t.sql, types: t.unused.isEmpty ? [] : (1...t.parameterCount).map { t.unused.contains($0) ? 25 : 0 })
        let parameters = StatementParameters(count: t.parameterCount, unused: t.unused)
        prepared[sql] = (name, parameters)
        return PostgresStatement(database: self, name: name, sql: sql, parameters: parameters)
    }

    func run(_ statement: PostgresStatement, _ parameters: [String?]) throws -> PostgresResult {
        // A failure names the statement as the store wrote it, which a reader finds in the source.
        let result = try interruptible { try connection.executePrepared(name: statement.name, sql: statement.sql, parameters) }
        changes = result.affectedRows
        return result
    }

    /// A statement the server cancelled because `interrupt` asked it to (a daemon told to
    /// stop) is `StoreError.interrupted`, which the run reports as a stop rather than a store
    /// failure. The server cancels with the same code when a `statement_timeout` an
    /// administrator set runs out: that stays the server's error, which says so.
    private func interruptible<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as PostgresError {
            if case .query(_, "57014", _, _, _) = e, stopRequested.load(ordering: .acquiring) { throw StoreError.interrupted }
            throw e
        }
    }

    public func transaction<T>(commit: Bool, _ body: () throws -> T) throws -> T {
        try connection.executeScript("BEGIN")
        do {
            let result = try body()
            try connection.executeScript(commit ? "COMMIT" : "ROLLBACK")
            return result
        } catch {
            if connection.isConnected { try? connection.executeScript("ROLLBACK") }
            throw error
        }
    }

    public func insertRows(into table: String, columns: [String], _ body: (any RowSink) throws -> Void) throws {
        let target = table.hasPrefix("temp.") ? "pg_temp." + table.dropFirst(5) : table
        try interruptible { try connection.copy(into: target, columns: columns) { rows in
            let sink = PostgresRowSink(rows)
            try body(sink)
            rows = sink.rows
        } }
    }

    /// Through a cursor `WITH HOLD`, which works in and outside a transaction (outside one,
    /// the server keeps the result for it), closed when the rows are read or `body`
    /// throws. A query with a placeholder it does not use (whose type the server could not
    /// infer) is read whole instead; the linking reads have none.
    public func forEachRowInPages(_ query: SQLQuery, pageSize: Int, _ body: (any StoreStatement) throws -> Void) throws {
        let t = try PostgresDialect.translation(query.sql)
        guard t.unused.isEmpty, t.parameterCount == query.values.count else { return try forEachRow(query, body) }
        let values: [String?] = query.values.map {
            switch $0 {
            case .null: nil
            case .text(let s): s
            case .integer(let n): String(n)
            case .boolean(let b): b ? "true" : "false"
            case .real(let d): String(d)
            }
        }
        cursors += 1
        let cursor = "sisync_pages_\(cursors)"
        _ = try interruptible { try connection.execute("DECLARE \(cursor) NO SCROLL CURSOR WITH HOLD FOR \(t.sql)", values) }
        defer { if connection.isConnected { try? connection.executeScript("CLOSE \(cursor)") } }
        let fetch = "FETCH FORWARD \(max(1, pageSize)) FROM \(cursor)"
        while true {
            let page = try interruptible { try connection.execute(fetch) }
            let rows = PostgresStatement(database: self, sql: query.sql, page: page)
            while try rows.step() { try body(rows) }
            if page.rowCount < max(1, pageSize) { return }
        }
    }

    public func refreshStatistics(_ tables: [String]) throws {
        guard !tables.isEmpty else { return }
        try execute(tables.map { "ANALYZE \($0)" }.joined(separator: "; "))
    }

    /// `SET`, not `SET LOCAL`, so that it works inside and outside a transaction; a
    /// transaction that fails in `body` rolls the setting back with it.
    public func preferringIndexLookups<T>(_ body: () throws -> T) throws -> T {
        try connection.executeScript("SET enable_hashjoin TO off")
        defer { if connection.isConnected { try? connection.executeScript("RESET enable_hashjoin") } }
        return try body()
    }

    /// Held until the transaction ends; `SELECT` (ACCESS SHARE) is not blocked by it.
    /// The lock is released only after the commit is visible, so the next writer's ids
    /// are drawn, and seen, after these.
    public func serializeAppends(to table: String) throws {
        try execute("LOCK TABLE \(table) IN EXCLUSIVE MODE")
    }

    public func announce(channel: String, payload: String) throws {
        _ = try connection.execute("SELECT pg_notify($1, $2)", [channel, payload])
    }

    public func interrupt() {
        noteStopRequested()
        connection.cancelRunningStatement()
    }

    /// What `interrupt` notes before it sends the cancel (for tests, whose statements
    /// cancel themselves).
    func noteStopRequested() { stopRequested.store(true, ordering: .releasing) }

    public func tableExists(_ name: String) throws -> Bool {
        try connection.execute("SELECT to_regclass($1)", [PostgresSchema.qualified(settings.schema, name)]).value(0, 0) != nil
    }

    /// Every table and index of the schema, as `pg_total_relation_size` counts them.
    public func sizeInBytes() throws -> Int {
        let sql = """
            SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')
            """
        return Int(try connection.execute(sql, [settings.schema]).value(0, 0) ?? "0") ?? 0
    }
}

/// A statement of `PostgresDatabase`: parameters are kept as text until the first `step`,
/// which runs it and keeps the result until `reset`. Booleans read as 0 and 1 and
/// timestamps as `2026-12-01T08:15:00Z`, as the SQLite store stores them.
final class PostgresStatement: StoreStatement {
    unowned let database: PostgresDatabase
    let name: String
    /// As the store wrote it (the server runs `PostgresDialect`'s translation), for
    /// messages: what a reader finds in the source.
    let sql: String
    private var values: [String?]
    private var parameters: StatementParameters
    private var result: PostgresResult?
    private var row = -1

    init(database: PostgresDatabase, name: String, sql: String, parameters: StatementParameters) {
        self.database = database
        self.name = name
        self.sql = sql
        self.parameters = parameters
        values = Array(repeating: nil, count: parameters.count)
    }

    /// The rows of one page a cursor fetched (`forEachRowInPages`), read as a statement's.
    convenience init(database: PostgresDatabase, sql: String, page: PostgresResult) {
        self.init(database: database, name: "", sql: sql, parameters: StatementParameters(count: 0))
        result = page
    }

    /// A number the statement does not have is an error, as on SQLite.
    private func set(_ index: Int32, _ value: String?) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.location) }
        values[Int(index) - 1] = value
    }

    func bind(_ index: Int32, _ value: String?) throws { try set(index, value) }
    func bind(_ index: Int32, utf8 bytes: UnsafeBufferPointer<UInt8>) throws { try set(index, String(decoding: bytes, as: UTF8.self)) }
    func bind(_ index: Int32, _ value: Int64?) throws { try set(index, value.map { String($0) }) }
    func bind(_ index: Int32, _ value: Bool) throws { try set(index, value ? "true" : "false") }
    func bind(_ index: Int32, _ value: Double) throws { try set(index, String(value)) }

    @discardableResult
    func step() throws -> Bool {
        if result == nil {
            try parameters.checkComplete(sql: sql, location: database.location)
            result = try database.run(self, values)
            row = 0
        } else {
            row += 1
        }
        return row < result!.rowCount
    }

    func reset() {
        result = nil
        row = -1
        for i in values.indices { values[i] = nil }
        parameters.clear()
    }

    var columnCount: Int32 { Int32(result?.columnCount ?? 0) }

    func isNull(_ column: Int32) -> Bool { result?.isNull(row, Int(column)) ?? true }

    private static let boolean: UInt32 = 16
    private static let timestamptz: UInt32 = 1184

    func string(_ column: Int32) -> String? {
        guard let result, !result.isNull(row, Int(column)), let text = result.value(row, Int(column)) else { return nil }
        switch result.type(Int(column)) {
        case Self.boolean: return text == "t" ? "1" : "0"
        case Self.timestamptz: return Self.sqliteTimestamp(text)
        default: return text
        }
    }

    func int64(_ column: Int32) -> Int64 {
        guard let result, !result.isNull(row, Int(column)) else { return 0 }
        if result.type(Int(column)) == Self.boolean { return result.value(row, Int(column)) == "t" ? 1 : 0 }
        return result.withValue(row, Int(column)) { bytes in
            var n: Int64 = 0
            var negative = false
            for (i, b) in bytes.enumerated() {
                if i == 0 && b == UInt8(ascii: "-") { negative = true; continue }
                guard b >= 0x30 && b <= 0x39 else {
                    return Int64(Double(String(decoding: bytes, as: UTF8.self)) ?? 0)
                }
                n = n &* 10 &+ Int64(b - 0x30)
            }
            return negative ? -n : n
        }
    }

    func withText<R>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        guard let result else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        switch result.type(Int(column)) {
        case Self.boolean, Self.timestamptz:
            var s = string(column) ?? ""
            return try s.withUTF8 { try body($0) }
        default:
            return try result.withValue(row, Int(column), body)
        }
    }

    /// `2026-12-01 08:15:00+00` (or with fractions) as `2026-12-01T08:15:00Z`; the session
    /// is in UTC.
    static func sqliteTimestamp(_ text: String) -> String {
        var s = Substring(text)
        if let plus = s.lastIndex(where: { $0 == "+" || $0 == "-" }), plus > s.index(s.startIndex, offsetBy: min(10, s.count)) {
            s = s[..<plus]
        }
        if let dot = s.firstIndex(of: ".") { s = s[..<dot] }
        return s.replacingOccurrences(of: " ", with: "T") + "Z"
    }
}

/// `insertRows` for PostgreSQL: each value escaped into the `COPY` stream as it comes.
final class PostgresRowSink: RowSink {
    var rows: PostgresCopyRows

    init(_ rows: PostgresCopyRows) { self.rows = rows }

    func add(utf8 bytes: UnsafeBufferPointer<UInt8>) throws { try rows.append(utf8: bytes) }
    func add(_ value: String?) throws {
        guard var value else { try rows.append(utf8: nil); return }
        try value.withUTF8 { try rows.append(utf8: $0) }
    }
    func add(_ value: Int64?) throws { try add(value.map { String($0) }) }
    func add(_ value: Bool) throws { try add(value ? "t" : "f") }
    func endRow() throws { try rows.endRow() }
}
