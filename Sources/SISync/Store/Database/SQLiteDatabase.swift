import CSQLite
import Foundation

/// One SQLite connection. Owns the handle and closes it when released; all raw SQLite
/// calls stay in this file and `SQLiteStatement`.
public final class SQLiteDatabase: StoreDatabase {
    public let path: String
    public var location: String { path }
    let handle: OpaquePointer
    /// Prepared statements no one holds, by their SQL, reset and ready: a statement is
    /// prepared once per connection instead of once per use (a user's profile is seven
    /// statements, and preparing them was a large part of a `GET /v1/users/{u}`). Bounded:
    /// past `cacheLimit` idle statements a released one is finalized, so a run's many
    /// one-off statements cost nothing more than before.
    private var idle: [String: [IdleStatement]] = [:]
    private var idleCount = 0
    static let cacheLimit = 64

    /// A statement kept for its next use, with what preparing it found out.
    struct IdleStatement {
        let handle: OpaquePointer
        let parameters: StatementParameters
    }

    /// SQLite's process-wide settings, made once before the first connection opens: no
    /// memory statistics (nothing reads them, and keeping them takes a process-wide mutex on
    /// every allocation: locking was about 4% of the CPU profile of a first import).
    private static let configured: Void = { _ = sisync_sqlite_disable_memory_statistics() }()

    /// Opens (creating, unless `readOnly`) the database at `path`, or an in-memory one for
    /// `:memory:`. A file is never reached through a symbolic link, and a new one is made
    /// 0600 (`SQLiteFiles`). A file this user may only read is opened read-only.
    public init(path: String, readOnly: Bool = false) throws(StoreError) {
        _ = Self.configured
        self.path = path
        var openPath = path
        if path != ":memory:" && !path.isEmpty {
            let files = try SQLiteFiles(path: path)
            try files.check()
            if !readOnly { try files.createIfMissing() }
            openPath = files.resolvedPath
        }
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(openPath, &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, nil)
        guard rc == SQLITE_OK, let db else {
            var message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            let code = db.map { sqlite3_extended_errcode($0) } ?? rc
            let systemErrno = db.map { sqlite3_system_errno($0) } ?? 0
            if systemErrno != 0 { message += ": " + String(cString: strerror(systemErrno)) }
            if let db { sqlite3_close_v2(db) }
            if code & 0xff == SQLITE_CANTOPEN && systemErrno == EACCES { throw .noAccess(path: path) }
            throw Self.storeError(code, message: message, sql: "", path: path)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 10_000)
        if !isReadOnly {
            // The -wal and -shm files stay when the last connection closes, so that a user
            // who may only read the database (and not create files in its folder) can
            // still read it while no sisync has it open (SQLite's "persistent WAL").
            var persist: Int32 = 1
            sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
    }

    deinit {
        // The -wal file outlives the connection (persistent WAL, above). Left at a large
        // run's size (45 MB after 300,000 staff), it made the next open scan all of it again
        // (+70 ms on every run), so a writer empties it as it closes. Not during the run:
        // a WAL that must grow again after every checkpoint made the import slower.
        // Without waiting: a truncating checkpoint waits for a writer, and a reader (any
        // `sisyncctl status` during a run) must never wait for one (R9). Busy, it is left to
        // the next connection that closes.
        for list in idle.values { for s in list { sqlite3_finalize(s.handle) } }
        if !isReadOnly {
            sqlite3_busy_timeout(handle, 0)
            sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
        }
        sqlite3_close_v2(handle)
    }

    /// True when SQLite opened the file read-only (this user may not write it).
    public var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    func error(_ rc: Int32, _ sql: String) -> StoreError {
        Self.storeError(rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql, path: path)
    }

    /// What a failed SQLite call means to an administrator: a database this user may not
    /// write, a file that is not a database, a damaged one, a link where the database
    /// should be. Anything else keeps SQLite's code and the statement.
    static func storeError(_ rc: Int32, message: String, sql: String, path: String) -> StoreError {
        switch rc {
        case SQLITE_INTERRUPT: return .interrupted
        case SQLITE_READONLY | (6 << 8): return .readOnly(path: path, folderOnly: true)      // SQLITE_READONLY_DIRECTORY
        case SQLITE_READONLY | (4 << 8): break                                               // SQLITE_READONLY_DBMOVED
        case SQLITE_CANTOPEN | (6 << 8): return .unsafeFile(path: path, problem: "is reached through a symbolic link")  // SQLITE_CANTOPEN_SYMLINK
        case SQLITE_CANTOPEN | (2 << 8): return .unusablePath(path: path, problem: "is a directory")                    // SQLITE_CANTOPEN_ISDIR
        default: break
        }
        switch rc & 0xff {
        case SQLITE_READONLY where rc != SQLITE_READONLY | (4 << 8), SQLITE_PERM: return .readOnly(path: path, folderOnly: false)
        case SQLITE_CANTOPEN: return .cannotOpen(path: path, message: message)
        case SQLITE_NOTADB: return .notADatabase(path: path)
        case SQLITE_CORRUPT: return .corrupt(path: path, message: message)
        case SQLITE_FULL: return .storageFailed(path: path, full: true, message: message)
        case SQLITE_IOERR: return .storageFailed(path: path, full: false, message: message)
        default: return .sqlite(path: path, code: rc, message: message, sql: sql)
        }
    }

    /// Runs SQL without parameters (schema, pragmas, transaction control).
    public func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw Self.storeError(rc, message: text, sql: sql, path: path)
        }
    }

    public func prepare(_ sql: String) throws(StoreError) -> any StoreStatement {
        try SQLiteStatement(database: self, sql: sql)
    }

    public func readingOneSnapshot<T>(_ body: () throws -> T) throws -> T {
        // Inside a transaction already: its snapshot is the one.
        guard sqlite3_get_autocommit(handle) != 0 else { return try body() }
        try prepare("BEGIN DEFERRED").run()
        let result: T
        do { result = try body() } catch {
            try? prepare("ROLLBACK").run()
            throw error
        }
        try prepare("COMMIT").run()
        return result
    }

    /// An idle statement of this SQL, taken out of the cache (nil: prepare one).
    func takeIdle(_ sql: String) -> IdleStatement? {
        guard let s = idle[sql]?.popLast() else { return nil }
        idleCount -= 1
        return s
    }

    /// A statement its holder released, reset (its read ends, its values cleared): kept
    /// for the next use of its SQL, or finalized when the cache is full.
    func release(_ statement: IdleStatement, sql: String) {
        sqlite3_reset(statement.handle)
        sqlite3_clear_bindings(statement.handle)
        guard idleCount < Self.cacheLimit else {
            sqlite3_finalize(statement.handle)
            return
        }
        idle[sql, default: []].append(statement)
        idleCount += 1
    }

    /// How many statements wait in the cache (for the tests).
    var cachedStatements: Int { idleCount }

    /// The file and its write-ahead log.
    public func sizeInBytes() -> Int {
        [path, path + "-wal"].reduce(0) { total, p in
            total + ((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0)
        }
    }

    /// Runs `body` in one write transaction: committed if it returns (rolled back instead
    /// when `commit` is false, for dry runs), rolled back if it throws.
    public func transaction<T>(commit: Bool, _ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute(commit ? "COMMIT" : "ROLLBACK")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    public func insertRows(into table: String, columns: [String], _ body: (any RowSink) throws -> Void) throws {
        let sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
        // Outside a transaction every row would be a transaction of its own: a commit, and
        // for a temporary table (the keys a plan looks up, a rekey's pairs) a journal
        // written and truncated per row, most of a renumbered district's rekey search
        // (issue 33). One transaction instead; the rows added before an error stay, as they
        // did row by row.
        guard sqlite3_get_autocommit(handle) != 0 else { return try insertRowsInTransaction(into: table, columns: columns, sql: sql, body) }
        try execute("BEGIN DEFERRED")
        do {
            try insertRowsInTransaction(into: table, columns: columns, sql: sql, body)
        } catch {
            try? execute("COMMIT")
            throw error
        }
        try execute("COMMIT")
    }

    /// Rows in batches, one multi-row INSERT each (`SQLiteRowSink`: no seek from the root
    /// per row), except into a table with a trigger (`users` had one for its SCIM id before
    /// schema 14; an application may add its own), where
    /// each row's INSERT is a statement transaction that copies every page it touches (the
    /// table's and each index's) to the statement journal, a temporary file: 1.5 million
    /// page writes, a third of a 207,000-user import (issue 34). There the rows gather in a
    /// temporary table and one `INSERT … SELECT` moves them, journaling a page at most once
    /// and none it adds. If that statement fails, the rows go again one at a time with the
    /// per-row statement: the rows before the bad one stay and the error is that row's, as
    /// without the staging; so do the rows given before `body` throws.
    private func insertRowsInTransaction(into table: String, columns: [String], sql: String, _ body: (any RowSink) throws -> Void) throws {
        guard try hasTrigger(table) else { return try SQLiteRowSink.fill(database: self, into: "\(table) (\(columns.joined(separator: ", ")))", width: columns.count, body) }
        let staged = "temp.sisync_staged_rows"
        let names = columns.indices.map { "c\($0)" }.joined(separator: ", ")
        try execute("DROP TABLE IF EXISTS \(staged); CREATE TEMP TABLE sisync_staged_rows (\(names))")
        defer { try? execute("DROP TABLE IF EXISTS \(staged)") }
        var failure: (any Error)?
        do {
            try SQLiteRowSink.fill(database: self, into: staged, width: columns.count, body)
        } catch {
            failure = error
        }
        do {
            try execute("INSERT INTO \(table) (\(columns.joined(separator: ", "))) SELECT \(names) FROM \(staged) ORDER BY rowid")
        } catch {
            // A stop, or an error after which SQLite rolled the whole transaction back (the
            // staged rows with it), is the answer itself: there is nothing to replay.
            if case StoreError.interrupted = error { throw error }
            guard sqlite3_get_autocommit(handle) == 0 else { throw error }
            let read = try SQLiteStatement(database: self, sql: "SELECT \(names) FROM \(staged) ORDER BY rowid")
            defer { read.reset() }
            let insert = try SQLiteStatement(database: self, sql: sql)
            while try read.step() {
                for c in columns.indices { try insert.bind(Int32(c + 1), valueOf: read, column: Int32(c)) }
                try insert.run()
            }
        }
        if let failure { throw failure }
    }

    public func hasTriggers(on tables: [String]) throws -> Bool {
        try tables.contains { try hasTrigger($0) }
    }

    /// Whether `table` (`schema.name` or a main table's name) has a trigger: one its schema
    /// keeps, or a TEMP trigger, which the temp schema keeps whatever table it is on (an
    /// application on the same connection may make one on a main table).
    private func hasTrigger(_ table: String) throws(StoreError) -> Bool {
        let parts = table.split(separator: ".", maxSplits: 1)
        let schema = parts.count == 2 ? String(parts[0]) : "main"
        let kept = schema == "temp" ? "sqlite_temp_master" : "(SELECT type, tbl_name FROM \(schema).sqlite_master UNION ALL SELECT type, tbl_name FROM sqlite_temp_master)"
        let s = try SQLiteStatement(database: self, sql: "SELECT 1 FROM \(kept) WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE")
        defer { s.reset() }
        try s.bind(1, String(parts.last ?? ""))
        return try s.step()
    }

    public func refreshStatistics(_ tables: [String]) {}

    public func preferringIndexLookups<T>(_ body: () throws -> T) throws -> T { try body() }

    /// Turned off through `sqlite3_db_config`, which (unlike `PRAGMA foreign_keys`) takes
    /// effect inside the run's transaction, and set back as it was after `body`, whether
    /// it throws or not. (Either change makes SQLite prepare statements again.)
    public func trustingReferences<T>(_ body: () throws -> T) throws -> T {
        guard sisync_sqlite_enforce_foreign_keys(handle, -1) == 1 else { return try body() }
        guard sisync_sqlite_enforce_foreign_keys(handle, 0) == 0 else {
            throw StoreError.sqlite(path: path, code: SQLITE_ERROR, message: "SQLite refused to set aside the foreign-key checks for the first run's calculated roles (sqlite3_db_config, SQLITE_DBCONFIG_ENABLE_FKEY); the run was rolled back and changed nothing. Run it again; if this repeats, the SQLite library (`sqlite3 --version`) is not the one sisync was built for: reinstall the sisync package", sql: "")
        }
        let result: T
        do { result = try body() } catch {
            try enforceForeignKeysAgain()
            throw error
        }
        try enforceForeignKeysAgain()
        return result
    }

    /// Through `PRAGMA ignore_check_constraints`, which takes effect inside the run's
    /// transaction (it makes SQLite prepare statements again), and set back as it was
    /// after `body`, whether it throws or not.
    public func trustingChecks<T>(_ body: () throws -> T) throws -> T {
        guard try int("PRAGMA ignore_check_constraints") == 0 else { return try body() }
        try execute("PRAGMA ignore_check_constraints = ON")
        let result: T
        do { result = try body() } catch {
            try execute("PRAGMA ignore_check_constraints = OFF")
            throw error
        }
        try execute("PRAGMA ignore_check_constraints = OFF")
        return result
    }

    /// A connection left without its checks would let a user's deletion skip its `ON DELETE
    /// CASCADE` for as long as the daemon runs: if they do not come back, the run fails
    /// (rolled back) and the connection is closed by the caller's error path.
    private func enforceForeignKeysAgain() throws {
        guard sisync_sqlite_enforce_foreign_keys(handle, 1) == 1 else {
            throw StoreError.sqlite(path: path, code: SQLITE_ERROR, message: "SQLite refused to turn the foreign-key checks on again after the first run's calculated roles (sqlite3_db_config, SQLITE_DBCONFIG_ENABLE_FKEY); the run was rolled back and changed nothing. Run it again; if this repeats, the SQLite library (`sqlite3 --version`) is not the one sisync was built for: reinstall the sisync package", sql: "")
        }
    }

    public func serializeAppends(to table: String) {}

    public func announce(channel: String, payload: String) {}

    public var userVersion: Int32 {
        get throws(StoreError) {
            let s = try SQLiteStatement(database: self, sql: "PRAGMA user_version")
            _ = try s.step()
            return Int32(s.int64(0))
        }
    }

    public func setUserVersion(_ v: Int32) throws(StoreError) { try execute("PRAGMA user_version = \(v)") }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Makes a running statement fail with SQLITE_INTERRUPT (safe from another thread).
    public func interrupt() { sqlite3_interrupt(handle) }

    public func tableExists(_ name: String) throws(StoreError) -> Bool {
        let s = try SQLiteStatement(database: self, sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
        try s.bind(1, name)
        return try s.step()
    }
}

/// One prepared statement. Parameters are always bound, never spliced into SQL text.
public final class SQLiteStatement: StoreStatement {
    let database: SQLiteDatabase
    let handle: OpaquePointer
    let sql: String
    /// Unchecked: only this statement's own calls touch them, one at a time, and the
    /// runtime's access check per bind cost an import 10% (`insertRows` binds every value).
    @exclusivity(unchecked) private var parameters: StatementParameters
    /// Whether the statement has stepped since it was last reset (its values are checked
    /// on the first step only).
    @exclusivity(unchecked) private var running = false

    /// What `parameters` was when prepared (nothing bound), for the cache.
    private let unbound: StatementParameters

    init(database: SQLiteDatabase, sql: String) throws(StoreError) {
        self.database = database
        self.sql = sql
        if let cached = database.takeIdle(sql) {
            handle = cached.handle
            unbound = cached.parameters
        } else {
            var stmt: OpaquePointer?
            // PERSISTENT: kept for reuse (`SQLiteDatabase.release`), so not in lookaside memory.
            let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
            guard rc == SQLITE_OK, let stmt else {
                sqlite3_finalize(stmt)
                throw database.error(rc, sql)
            }
            handle = stmt
            unbound = StatementParameters(count: Int(sqlite3_bind_parameter_count(stmt)), unused: Self.unusedNumbers(stmt, sql))
        }
        parameters = unbound
    }

    /// SQLite names each `?N` placeholder and leaves `?` and the numbers nothing uses
    /// without a name: only a statement with both kinds needs its text read to tell them apart.
    private static func unusedNumbers(_ stmt: OpaquePointer, _ sql: String) -> Set<Int> {
        let count = sqlite3_bind_parameter_count(stmt)
        guard count > 1 else { return [] }
        let named = (1...count).filter { sqlite3_bind_parameter_name(stmt, $0) != nil }.count
        return named == 0 || named == Int(count) ? [] : StatementParameters.unusedNumbers(in: sql)
    }

    deinit { database.release(.init(handle: handle, parameters: unbound), sql: sql) }

    private func check(_ rc: Int32) throws(StoreError) {
        if rc != SQLITE_OK { throw database.error(rc, sql) }
    }

    public func bind(_ index: Int32, _ value: String?) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        guard let value else { try check(sqlite3_bind_null(handle, index)); return }
        var v = value
        let rc = v.withUTF8 { buf in bindText(index, buf) }
        try check(rc)
    }

    public func bind(_ index: Int32, utf8 bytes: UnsafeBufferPointer<UInt8>) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        try check(bindText(index, bytes))
    }

    /// Binds bytes that stay valid and unchanged until the statement is stepped and reset
    /// (`SQLiteRowSink`'s buffer of its rows): SQLite points at them instead of copying them
    /// (SQLITE_STATIC); `reset` unbinds them before they go.
    func bind(_ index: Int32, borrowing bytes: UnsafeBufferPointer<UInt8>) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        try check(bindText(index, bytes, copying: false))
    }

    private func bindText(_ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>, copying: Bool = true) -> Int32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return sisync_sqlite_bind_text_transient(handle, index, "", 0)
        }
        // A value of 2 GiB or more (one field of a 4 GiB export) is SQLite's own "too big".
        guard let length = Int32(exactly: bytes.count) else { return SQLITE_TOOBIG }
        return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
            copying ? sisync_sqlite_bind_text_transient(handle, index, $0, length) : sqlite3_bind_text(handle, index, $0, length, nil)
        }
    }

    public func bind(_ index: Int32, _ value: Int64?) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        guard let value else { try check(sqlite3_bind_null(handle, index)); return }
        try check(sqlite3_bind_int64(handle, index, value))
    }

    public func bind(_ index: Int32, _ value: Bool) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        try check(sqlite3_bind_int64(handle, index, value ? 1 : 0))
    }

    /// Binds what column `column` of `row`'s current row holds, as it is stored (type
    /// included).
    func bind(_ index: Int32, valueOf row: SQLiteStatement, column: Int32) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        try check(sqlite3_bind_value(handle, index, sqlite3_column_value(row.handle, column)))
    }

    public func bind(_ index: Int32, _ value: Double) throws(StoreError) {
        guard parameters.bind(index) else { throw parameters.tooMany(index, sql: sql, location: database.path) }
        try check(sqlite3_bind_double(handle, index, value))
    }

    /// Advances; true when a row is available.
    @discardableResult
    public func step() throws(StoreError) -> Bool {
        if !running {
            try parameters.checkComplete(sql: sql, location: database.path)
            running = true
        }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw database.error(rc, sql)
    }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        parameters.clear()
        running = false
    }

    public var columnCount: Int32 { sqlite3_column_count(handle) }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func string(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, column) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// The column's UTF-8 bytes without making a String; valid only inside `body`.
    public func withText<R>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let p = sqlite3_column_text(handle, column)
        let n = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeBufferPointer(start: n > 0 ? p : nil, count: n))
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// The column's UTF-8 bytes in place, as `withText` gives them without the closure:
    /// valid only until the statement is stepped or reset (a loop that reads 300,000 rows).
    func unsafeText(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        let p = sqlite3_column_text(handle, column)
        let n = Int(sqlite3_column_bytes(handle, column))
        return UnsafeBufferPointer(start: n > 0 ? p : nil, count: n)
    }

}
