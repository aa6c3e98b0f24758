import CPostgres
import Foundation

/// One libpq connection (issue 14's PostgreSQL store builds on it). It owns the `PGconn`
/// and finishes it when released; every libpq call stays in this file and
/// `PostgresResult`. The password is handed to libpq as its own parameter, never put into
/// the URI, so no message built from the URI can carry it.
public final class PostgresConnection {
    public let target: PostgresTarget
    private let handle: OpaquePointer
    private let cancel: OpaquePointer?

    /// Connects to `uri` (a libpq URI without a password), with `password` from
    /// `database_password_file` (or nil: libpq's `.pgpass`), naming itself
    /// `applicationName` in `pg_stat_activity` (`sisyncd/HOST/PID`).
    public init(uri: String, password: String? = nil, applicationName: String) throws(PostgresError) {
        target = PostgresTarget(uri: uri)
        // TCP keepalives before `dbname`, so that the URI's own values win: a server that
        // vanishes is noticed in about 25 s (10 s idle, then 3 probes 5 s apart), not in
        // the kernel's default of two hours.
        // And a server that does not answer at all is given up after 10 s, not left to the
        // kernel's connect timeout (the URI's `connect_timeout` wins here too).
        var keywords = ["keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "connect_timeout",
                        "dbname", "application_name", "client_encoding"]
        var values = ["1", "10", "5", "3", "25000", "10", uri, applicationName, "UTF8"]
        if let password { keywords.append("password"); values.append(password) }
        let conn = Self.withCStrings(keywords) { k in
            Self.withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else { throw .cannotConnect(target: target, message: "out of memory") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw .cannotConnect(target: target, message: message)
        }
        handle = conn
        cancel = PQgetCancel(conn)
        // The server's side of the same bound: a sisyncd whose host vanished loses its
        // session, and with it its locks, about 25 s later, whatever the server's
        // postgresql.conf says (these settings are the session's own; on a unix socket
        // they do nothing). One round trip; servers before 12 do not know
        // `tcp_user_timeout`, which is then left out rather than undoing the others.
        let keepalives = "SET tcp_keepalives_idle TO 10; SET tcp_keepalives_interval TO 5; SET tcp_keepalives_count TO 3"
        _ = try? executeScript(keepalives + (PQserverVersion(conn) >= 120000 ? "; SET tcp_user_timeout TO 25000" : ""))
    }

    /// libpq's own reading of `uri` (`PQconninfoParse`): every keyword the URI sets, as
    /// libpq will use it (percent-decoded, `[::1]` unbracketed, query parameters applied).
    /// The environment and service files are not consulted here; a URI libpq would refuse
    /// throws libpq's reason.
    public static func options(of uri: String) throws(PostgresURIError) -> [String: String] {
        var message: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(uri, &message) else {
            let reason = message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "out of memory"
            if let message { PQfreemem(message) }
            throw PostgresURIError(message: reason)
        }
        defer { PQconninfoFree(parsed) }
        var options: [String: String] = [:]
        var option = parsed
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { options[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return options
    }

    deinit {
        if let cancel { PQfreeCancel(cancel) }
        PQfinish(handle)
    }

    /// Asks the server to cancel the statement running now (safe from another thread);
    /// the statement then fails with SQLSTATE 57014.
    public func cancelRunningStatement() {
        guard let cancel else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
    }

    /// Runs a script of statements without parameters (schema, temporary tables).
    public func executeScript(_ sql: String) throws(PostgresError) {
        _ = try check(PQexec(handle, sql), sql: sql)
    }

    /// Prepares `sql` on the server under `name`, for `executePrepared`. `types` gives a
    /// type oid per parameter (0: the server infers it).
    public func prepare(name: String, sql: String, types: [UInt32] = []) throws(PostgresError) {
        let raw: OpaquePointer? = types.isEmpty ? PQprepare(handle, name, sql, 0, nil)
            : types.map { Oid($0) }.withUnsafeBufferPointer { PQprepare(handle, name, sql, Int32(types.count), $0.baseAddress) }
        _ = try check(raw, sql: sql)
    }

    /// Runs a statement `prepare` made, with text parameters (nil binds NULL).
    public func executePrepared(name: String, sql: String, _ parameters: [String?]) throws(PostgresError) -> PostgresResult {
        let raw: OpaquePointer? = Self.withOptionalCStrings(parameters) { p in
            PQexecPrepared(handle, name, Int32(parameters.count), p, nil, nil, 0)
        }
        return try check(raw, sql: sql)
    }

    /// Whether the session is still up (after a failed statement: a dropped connection).
    public var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The server's backend process id for this session (what `pg_locks.pid` shows).
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Runs one statement with text parameters (`$1`, `$2` ...); nil binds NULL. The
    /// result is read at once and freed when the returned value goes.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresResult {
        let raw: OpaquePointer? = Self.withOptionalCStrings(parameters) { p in
            PQexecParams(handle, sql, Int32(parameters.count), nil, p, nil, nil, 0)
        }
        return try check(raw, sql: sql)
    }

    /// The payload of the next `NOTIFY` on a channel this session `LISTEN`s to, waiting at
    /// most `timeout` seconds for one (poll on the socket: no thread is busy meanwhile);
    /// nil when none came.
    public func nextNotification(timeout: Double) throws(PostgresError) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let n = PQnotifies(handle) {
                defer { PQfreemem(n) }
                return String(cString: n.pointee.extra)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            var fd = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, Int32(min(left, 1) * 1000) + 1)
            if PQconsumeInput(handle) == 0 { try executeScript("SELECT 1") }
        }
    }

    /// `COPY table (columns) FROM STDIN` in text format: `write` adds rows, which are sent in
    /// 64 KiB chunks. Values are escaped here, so any text (tabs, newlines, backslashes) goes
    /// through unchanged; nil is NULL. Returns the number of rows the server stored.
    @discardableResult
    public func copy(into table: String, columns: [String], _ write: (inout PostgresCopyRows) throws -> Void) throws -> Int {
        let sql = "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN"
        let start = try check(PQexec(handle, sql), sql: sql, expecting: PGRES_COPY_IN)
        _ = start
        var rows = PostgresCopyRows(columns: columns.count) { [self] chunk throws(PostgresError) in
            try send(chunk, sql: sql)
        }
        do {
            try write(&rows)
            try rows.flush()
        } catch {
            _ = PQputCopyEnd(handle, "sisync stopped the copy")
            while let r = PQgetResult(handle) { PQclear(r) }
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else { throw failure(sql) }
        var stored = 0
        var firstError: PostgresError?
        while let r = PQgetResult(handle) {
            if PQresultStatus(r) == PGRES_COMMAND_OK {
                stored = Int(String(cString: PQcmdTuples(r))) ?? rows.count
            } else if firstError == nil {
                firstError = Self.error(from: r, target: target, sql: sql)
            }
            PQclear(r)
        }
        if let firstError { throw firstError }
        return stored
    }

    /// `pg_try_advisory_lock(key)`: true when this session now holds the lock. The server
    /// drops it when the session ends, however it ends.
    public func tryAdvisoryLock(_ key: Int64) throws(PostgresError) -> Bool {
        try execute("SELECT pg_try_advisory_lock($1::bigint)", [String(key)]).value(0, 0) == "t"
    }

    public func advisoryUnlock(_ key: Int64) throws(PostgresError) {
        try execute("SELECT pg_advisory_unlock($1::bigint)", [String(key)])
    }

    private func send(_ chunk: [UInt8], sql: String) throws(PostgresError) {
        let rc = chunk.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { PQputCopyData(handle, $0, Int32(b.count)) }
        }
        guard rc == 1 else { throw failure(sql) }
    }

    private func failure(_ sql: String) -> PostgresError {
        let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PQstatus(handle) == CONNECTION_OK ? .query(target: target, sqlstate: nil, message: message, hint: nil, sql: sql)
            : .connectionLost(target: target, message: message)
    }

    private func check(_ raw: OpaquePointer?, sql: String, expecting: ExecStatusType? = nil) throws(PostgresError) -> PostgresResult {
        guard let raw else { throw failure(sql) }
        let status = PQresultStatus(raw)
        if let expecting, status == expecting { return PostgresResult(raw) }
        if expecting == nil, status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return PostgresResult(raw) }
        let error = PQstatus(handle) == CONNECTION_OK ? Self.error(from: raw, target: target, sql: sql)
            : .connectionLost(target: target, message: String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines))
        PQclear(raw)
        throw error
    }

    private static func error(from r: OpaquePointer, target: PostgresTarget, sql: String) -> PostgresError {
        func field(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
        let message = field(sisync_pq_primary_message(r)) ?? String(cString: PQresultErrorMessage(r)).trimmingCharacters(in: .whitespacesAndNewlines)
        return .query(target: target, sqlstate: field(sisync_pq_sqlstate(r)), message: message, hint: field(sisync_pq_hint(r)), sql: sql)
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withOptionalCStrings<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
        let copies = strings.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// The rows of one `COPY … FROM STDIN`, escaped as PostgreSQL's text format wants and
/// handed on in 64 KiB chunks.
public struct PostgresCopyRows {
    let columns: Int
    private let sink: ([UInt8]) throws(PostgresError) -> Void
    private var buffer: [UInt8] = []
    private var pending = 0
    public private(set) var count = 0

    init(columns: Int, sink: @escaping ([UInt8]) throws(PostgresError) -> Void) {
        self.columns = columns
        self.sink = sink
        buffer.reserveCapacity(1 << 16)
    }

    /// One value of the row being written (in column order); nil is NULL.
    public mutating func append(utf8 bytes: UnsafeBufferPointer<UInt8>?) throws(PostgresError) {
        if pending > 0 { buffer.append(0x09) }
        pending += 1
        guard let bytes else { buffer.append(contentsOf: [0x5C, 0x4E]); return }  // \N
        escape(bytes)
    }

    /// The text format's escapes: backslash, tab, newline and carriage return.
    private mutating func escape<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for b in bytes {
            switch b {
            case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])
            case 0x09: buffer.append(contentsOf: [0x5C, 0x74])
            case 0x0A: buffer.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: buffer.append(contentsOf: [0x5C, 0x72])
            default: buffer.append(b)
            }
        }
    }

    /// Ends the row `append` wrote.
    public mutating func endRow() throws(PostgresError) {
        precondition(pending == columns, "a COPY row needs one value per column")
        pending = 0
        buffer.append(0x0A)
        count += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    /// One row; `values.count` must equal the number of columns.
    public mutating func add(_ values: [String?]) throws(PostgresError) {
        precondition(values.count == columns, "a COPY row needs one value per column")
        for v in values {
            guard let v else { try append(utf8: nil); continue }
            if pending > 0 { buffer.append(0x09) }
            pending += 1
            escape(v.utf8)
        }
        try endRow()
    }

    mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        try sink(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// A query's result, freed as soon as this value goes.
public final class PostgresResult {
    private let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }
    deinit { PQclear(raw) }

    public var rowCount: Int { Int(PQntuples(raw)) }
    public var columnCount: Int { Int(PQnfields(raw)) }
    /// Rows an INSERT, UPDATE or DELETE touched.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(raw))) ?? 0 }

    /// The column's type oid (`16` boolean, `1184` timestamptz ...).
    public func type(_ column: Int) -> UInt32 { UInt32(PQftype(raw, Int32(column))) }

    public func isNull(_ row: Int, _ column: Int) -> Bool {
        row >= rowCount || column >= columnCount || PQgetisnull(raw, Int32(row), Int32(column)) != 0
    }

    /// One value's bytes without a copy; valid only inside `body`.
    public func withValue<R>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        guard !isNull(row, column), let p = PQgetvalue(raw, Int32(row), Int32(column)) else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let n = Int(PQgetlength(raw, Int32(row), Int32(column)))
        return try p.withMemoryRebound(to: UInt8.self, capacity: n) { try body(UnsafeBufferPointer(start: n > 0 ? $0 : nil, count: n)) }
    }

    /// The text of one value; nil for NULL.
    public func value(_ row: Int, _ column: Int) -> String? {
        guard row < rowCount, column < columnCount, PQgetisnull(raw, Int32(row), Int32(column)) == 0 else { return nil }
        return String(cString: PQgetvalue(raw, Int32(row), Int32(column)))
    }

    public var rows: [[String?]] {
        (0..<rowCount).map { r in (0..<columnCount).map { value(r, $0) } }
    }
}
