import XCTest
@testable import SISync

/// The PostgreSQL schema (issue 14) against a real server: the same tables and columns as
/// the SQLite schema of the same version, created in one transaction inside its own schema,
/// idempotent, refusing a newer version, and saying what to GRANT when it may not create.
final class PostgresSchemaTests: XCTestCase {
    private func connect() throws -> PostgresConnection {
        try PostgresConnection(uri: TestPostgresServer.shared().uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
    }

    private func uniqueSchema() -> String { "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12) }

    func testSameTablesAndColumnsAsTheSQLiteSchema() throws {
        let w = Workspace(sqlite: true)
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let sqlite = try RosterStore(path: w.database)
        XCTAssertEqual(try (sqlite.database as! SQLiteDatabase).userVersion, Int32(PostgresSchema.version), "bump PostgresSchema with the SQLite schema")
        var expected: Set<String> = []
        var tables: [String] = []
        try sqlite.database.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name").forEachRow { tables.append($0.text(0)) }
        // (`table_xinfo`: SQLite's generated columns too. Since schema 16 SQLite stores
        // `users.email_key` and `scim_id` in the columns below, generated from them;
        // PostgreSQL keeps the two as they were: `UserKeyColumns`.)
        let sqliteStorage: Set = ["users.stored_email_key", "users.scim_id_high", "users.scim_id_low", "users.scim_id_other"]
        for t in tables {
            try sqlite.database.prepare("SELECT name FROM pragma_table_xinfo('\(t)')").forEachRow { expected.insert("\(t).\($0.text(0))") }
        }
        XCTAssertTrue(sqliteStorage.isSubset(of: expected))
        expected.subtract(sqliteStorage)
        let c = try connect()
        let schema = uniqueSchema()
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), 0)
        let found = Set(try c.execute("SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = $1", [schema])
            .rows.compactMap { $0[0] }).subtracting(["schema_version.id", "schema_version.version"])
        XCTAssertEqual(found.subtracting(expected).sorted(), [], "columns only PostgreSQL has")
        XCTAssertEqual(expected.subtracting(found).sorted(), [], "columns only SQLite has")
        // The types that differ are PostgreSQL's own.
        let types = try c.execute("SELECT table_name || '.' || column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND column_name IN ('active', 'started_at', 'until', 'fingerprint')", [schema]).rows
        let byColumn = Dictionary(types.map { ($0[0]!, $0[1]!) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byColumn["staff.active"], "boolean")
        XCTAssertEqual(byColumn["runs.started_at"], "timestamp with time zone")
        XCTAssertEqual(byColumn["links.until"], "date")
        XCTAssertEqual(byColumn["staff.fingerprint"], "bigint")
    }

    func testPrepareIsIdempotentAndRefusesANewerVersion() throws {
        let c = try connect()
        let schema = uniqueSchema()
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), 0)
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), PostgresSchema.version)
        // Usernames are unique regardless of case, as in SQLite (COLLATE NOCASE).
        try c.execute("INSERT INTO \(schema).users (username, email, created_at) VALUES ('Ann', 'ann@d.org', now())")
        XCTAssertThrowsError(try c.execute("INSERT INTO \(schema).users (username, email, created_at) VALUES ('ann', 'other@d.org', now())")) { e in
            guard case .query(_, "23505", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }
        try c.execute("UPDATE \(schema).schema_version SET version = 99")
        XCTAssertThrowsError(try PostgresSchema.prepare(c, schema: schema)) { e in
            XCTAssertTrue("\(e)".contains("version 99, newer than this sisync understands"), "\(e)")
        }
        XCTAssertThrowsError(try PostgresSchema.prepare(c, schema: "Bad-Name; DROP")) { e in
            XCTAssertTrue("\(e)".contains("invalid schema name"), "\(e)")
        }
        XCTAssertTrue(PostgresSchema.isValidName("sisync") && PostgresSchema.isValidName("district_42") && !PostgresSchema.isValidName("1abc"))
    }

    /// Version 6 to 7 (issue 16): users and attachments gain `added_by`, and `change_log`
    /// shows what a bulk import kept in its rows; what was there stays.
    func testMigrationFromVersion6AddsTheBulkImportColumns() throws {
        let c = try connect()
        let schema = uniqueSchema()
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), 0)
        // The version 6 schema: without the columns, and its view without their entries.
        let view = Schema.changeLogView(rolesGrantedByRun: true, bulkAdditions: true, .postgres)
        let version6View = view.components(separatedBy: "\n").filter { !$0.contains("added_by IS NOT NULL") }.joined(separator: "\n")
        try c.execute("SET search_path TO \(schema)")
        for sql in ["DROP VIEW change_log", "ALTER TABLE users DROP COLUMN added_by",
                    "ALTER TABLE user_attachments DROP COLUMN added_by", "ALTER TABLE user_attachments DROP COLUMN added_at",
                    "ALTER TABLE user_attachments DROP COLUMN added_seq",
                    "DROP TABLE held_plans", "ALTER TABLE runs DROP COLUMN approves",
                    "DROP TABLE api_clients", "DROP TABLE api_failures",
                    "DROP TABLE events", "DROP TABLE event_feed", "DROP TABLE webhook_state",
                    "ALTER TABLE users DROP COLUMN external_id", "ALTER TABLE users DROP COLUMN provisioned_by",
                    "ALTER TABLE users DROP COLUMN given_name", "ALTER TABLE users DROP COLUMN family_name", "ALTER TABLE users DROP COLUMN modified_at",
                    "ALTER TABLE users DROP COLUMN scim_id", "ALTER TABLE users DROP COLUMN email_type",
                    "ALTER TABLE users DROP COLUMN active_removed", "ALTER TABLE users DROP COLUMN email_primary", "DROP TABLE manual_roles", "DROP TABLE rekeys", "DROP TABLE rekey_requests",
                    // (Version 13 replaced the email key index; the external id's went with its column.)
                    "DROP INDEX users_by_other_email_key", "CREATE INDEX users_by_email_key ON users (email_key)",
                    version6View, "UPDATE schema_version SET version = 6",
                    "INSERT INTO users (username, email, created_at) VALUES ('Ann', 'ann@d.org', now())"] {
            try c.execute(sql)
        }
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), 6)
        XCTAssertEqual(try c.execute("SELECT version FROM \(schema).schema_version").value(0, 0), String(PostgresSchema.version))
        try c.execute("UPDATE \(schema).users SET added_by = 'registrar'")
        XCTAssertEqual(try c.execute("SELECT record_id, new_value, kind FROM \(schema).change_log WHERE entity = 'users'").rows.map { $0.compactMap { $0 } },
                       [["Ann", "ann@d.org", "added"]])
        // Version 8 (held runs): the held plans and the approving run's reference.
        XCTAssertEqual(try c.execute("SELECT count(*) FROM \(schema).held_plans WHERE run_id IN (SELECT approves FROM \(schema).runs)").value(0, 0), "0")
    }

    /// A role without CREATE on the database gets nothing half made and a message that says
    /// what to grant (exit 73 material).
    func testARoleThatMayNotCreateGetsNothingAndAGrantHint() throws {
        let admin = try connect()
        let role = "r_" + uniqueSchema()
        try admin.execute("CREATE ROLE \(role) LOGIN PASSWORD 'pw-\(role)'")
        try admin.execute("REVOKE CREATE ON DATABASE postgres FROM PUBLIC")
        let server = try TestPostgresServer.shared()
        let limited = try PostgresConnection(uri: "postgresql://\(role)@127.0.0.1:\(server.port)/postgres", password: "pw-\(role)", applicationName: "t")
        let schema = uniqueSchema()
        XCTAssertThrowsError(try PostgresSchema.prepare(limited, schema: schema)) { e in
            guard case .query(_, "42501", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("GRANT CREATE"), "\(e)")
            XCTAssertFalse("\(e)".contains("pw-"), "\(e)")
        }
        XCTAssertEqual(try admin.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", [schema]).value(0, 0), "0")
    }

    /// Issue 26 item 16: a schema a newer sisync migrated (a rolling upgrade of a standby
    /// pair) is exit 75 for a run and for sisyncctl, naming both versions and what to do,
    /// and is left as it is.
    func testANewerSchemaIsExit75NamingBothVersionsAndWhatToDo() throws {
        let w = Workspace(postgres: try TestPostgresServer.shared())
        let c = w.configure()
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let raw = try connect()
        let newer = PostgresSchema.version + 1
        try raw.execute("UPDATE \(w.schema).schema_version SET version = $1::integer", [String(newer)])
        func check(_ message: String) {
            XCTAssertTrue(message.contains("schema \(w.schema)"), message)
            XCTAssertTrue(message.contains("version \(newer), newer than this sisync understands"), message)
            XCTAssertTrue(message.contains("knows versions up to \(PostgresSchema.version)"), message)
            XCTAssertTrue(message.contains("Upgrade sisync on this host"), message)
            XCTAssertTrue(message.contains("on a standby pair, upgrade both hosts"), message)
        }
        let run = w.sync(c)
        XCTAssertEqual(run.summary.exitCode, 75)
        check(run.summary.error ?? "no error")
        for args in [["status"], ["staff", "list"]] {
            let r = w.ctl(args)
            XCTAssertEqual(r.code, 75, "\(args): \(r.err)")
            check(r.err)
        }
        XCTAssertEqual(w.ctl(["sync"]).code, 75, "the run's message goes to the log, as for sisyncd --once")
        XCTAssertEqual(try raw.execute("SELECT version FROM \(w.schema).schema_version").value(0, 0), String(newer))
        XCTAssertEqual(try raw.execute("SELECT count(*) FROM \(w.schema).runs").value(0, 0), "1", "no run was recorded")
    }

    /// Issue 26 item 16: a newer sisync migrating while this one waits for the migration
    /// lock is found under the lock and refused; `locked..<version` trapped here before.
    func testANewerSisyncMigratingWhileThisOneWaitsIsRefusedNotATrap() throws {
        let c = try connect(), other = try connect()
        let schema = uniqueSchema()
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), 0)
        try c.execute("UPDATE \(schema).schema_version SET version = \(PostgresSchema.version - 1)")
        // The newer sisync holds the row, migrating; this one reads the old version and waits.
        try other.execute("BEGIN")
        try other.execute("UPDATE \(schema).schema_version SET version = \(PostgresSchema.version + 3)")
        let uri = try TestPostgresServer.shared().uri(), name = "sisync-tests-waiting-" + schema
        let outcome = ThreadOutcome()
        let thread = Thread {
            outcome.set(Result {
                let waiting = try PostgresConnection(uri: uri, password: TestPostgresServer.password, applicationName: name)
                return try PostgresSchema.prepare(waiting, schema: schema)
            })
        }
        thread.start()
        let deadline = Date().addingTimeInterval(30)
        var blocked = false
        while !blocked && Date() < deadline {
            blocked = try c.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [name]).rowCount == 1
            if !blocked { usleep(10_000) }
        }
        XCTAssertTrue(blocked, "the second prepare never waited for the row")
        try other.execute("COMMIT")
        let result = try XCTUnwrap(outcome.wait(timeout: 30))
        XCTAssertThrowsError(try result.get()) { e in
            guard case .newerSchema(_, let found, let supported)? = e as? StoreError else { return XCTFail("\(e)") }
            XCTAssertEqual(found, PostgresSchema.version + 3)
            XCTAssertEqual(supported, PostgresSchema.version)
        }
    }

    /// Issue 26 item 16: a stored version below the first PostgreSQL version (6) or below 0
    /// is a clear error (exit 73); it was a negative index into the migrations before.
    func testAVersionBelowTheFirstKnownIsAClearErrorNotATrap() throws {
        let c = try connect()
        let schema = uniqueSchema()
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), 0)
        for stored in [PostgresSchema.firstVersion - 1, 1, -4] {
            try c.execute("UPDATE \(schema).schema_version SET version = \(stored)")
            XCTAssertThrowsError(try PostgresSchema.prepare(c, schema: schema)) { e in
                guard case .unknownSchemaVersion(_, let found, let oldest)? = e as? StoreError else { return XCTFail("\(e)") }
                XCTAssertEqual(found, stored)
                XCTAssertEqual(oldest, PostgresSchema.firstVersion)
                XCTAssertTrue("\(e)".contains("version \(stored), which no sisync wrote (the oldest is 6)"), "\(e)")
                XCTAssertTrue("\(e)".contains("Restore the database from a backup"), "\(e)")
                XCTAssertEqual(SyncRun.classify(e).exitCode, 73)
            }
            XCTAssertEqual(try c.execute("SELECT version FROM \(schema).schema_version").value(0, 0), String(stored), "left as it was")
        }
        XCTAssertEqual(try Migrator().steps(from: PostgresSchema.firstVersion, oldest: PostgresSchema.firstVersion, location: "x").count, PostgresSchema.version - 6)
        XCTAssertTrue(try Migrator().steps(from: PostgresSchema.version, oldest: PostgresSchema.firstVersion, location: "x").isEmpty)
    }
}

/// The result of work on another thread, awaited with a timeout.
final class ThreadOutcome: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var value: Result<Int, Error>?

    func set(_ result: Result<Int, Error>) {
        lock.withLock { value = result }
        done.signal()
    }

    func wait(timeout: TimeInterval) -> Result<Int, Error>? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { value }
    }
}
