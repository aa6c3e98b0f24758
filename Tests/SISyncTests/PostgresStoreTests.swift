import XCTest
@testable import SISync

/// What only the PostgreSQL store has (issue 14): moving a SQLite deployment over with
/// `store copy`, a password that never shows, TLS rules for the URI, a second sisyncd
/// refused from the lock, a server that goes away mid-run, readers during a run, and
/// applications that create users themselves. These always run on PostgreSQL.
final class PostgresStoreTests: XCTestCase {
    private func server() throws -> TestPostgresServer { try TestPostgresServer.shared() }

    /// A SQLite deployment with something in every part: runs, a revert, users, a manual
    /// link, roles, codes, a pairing, forms and permission roles.
    private func populatedSQLite() throws -> Workspace {
        let w = Workspace(sqlite: true)
        // The password for `store copy --to`, configured before the move.
        try TestPostgresServer.password.write(toFile: w.passwordFile, atomically: true, encoding: .utf8)
        let c = w.configure(sync: "database_password_file = \(w.passwordFile)", entities: "staff, students, households, household_relationships")
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("2001", "John", "Doe", "john.doe@district.org")]))
        w.write("students.csv", "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Kim,Lima,,101,5,Enrolled,\(c.currentSchoolYear(on: Date()))\n")
        w.write("households.csv", "household_id,name\nH1,Lima\n")
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Mother\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for args in [["user", "add", "--username", "jsmith", "--email", "Jane.Smith@district.org", "--approved"],
                     ["user", "add", "--username", "intern", "--email", "intern@district.org", "--approved"],
                     ["user", "link", "intern", "1042", "--reason", "intern recording for Ms Smith"],
                     ["user", "add", "--username", "mom", "--email", "mom@home.org", "--approved"],
                     ["user", "role", "add", "mom", "PTA Chair"], ["user", "school", "add", "jsmith", "101"],
                     ["access", "enable", "ST1"], ["form", "add", "IEP", "--group", "Special Ed"],
                     ["role", "create", "Teacher"], ["role", "set", "Teacher", "IEP", "--default", "view", "--max", "edit"],
                     ["user", "assign", "jsmith", "Teacher", "--buildings", "101"]] {
            let r = w.ctl(args)
            XCTAssertEqual(r.code, 0, "\(args): \(r.err)")
        }
        let code = try XCTUnwrap(w.store().accessCodes.accessCode(student: "ST1"))
        XCTAssertEqual(w.ctl(["access", "pair", "--user", "mom", "--code", code]).code, 0)
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("2001", "John", "Doe", "john.doe@district.org"),
                                       ("3001", "Al", "New", "al@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["run", "revert", "2"]).code, 0)
        return w
    }

    /// Every read command, to compare the two stores' answers.
    private static let readCommands: [[String]] = [
        ["runs", "--limit", "10"], ["run", "show", "1"], ["run", "show", "2"], ["run", "show", "3"],
        ["staff", "list", "--all"], ["staff", "show", "1042"], ["user", "list"], ["user", "show", "intern"], ["user", "show", "mom"],
        ["audit"], ["explain", "mom"], ["explain", "jsmith"], ["access", "list"], ["form", "list"], ["role", "list"], ["role", "show", "Teacher"],
        ["access-check", "jsmith", "IEP", "--building", "101"],
    ]

    func testStoreCopyMovesEverythingAndEveryCommandAnswersTheSame() throws {
        let sqlite = try populatedSQLite()
        let target = Workspace(postgres: try server())
        target.configure()
        let copy = sqlite.ctl(["--json", "store", "copy", "--to", target.database, "--schema", target.schema])
        XCTAssertEqual(copy.code, 0, copy.err)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(copy.out.utf8)) as? [String: Any])
        let tables = try XCTUnwrap(report["tables"] as? [String: Int])
        XCTAssertEqual(Set(tables.keys), Set(StoreCopy.tables))
        let source = try sqlite.rawDatabase()
        for table in StoreCopy.tables {
            XCTAssertEqual(tables[table], try StoreCopy.count(source, table), table)
        }
        for table in ["runs", "changes", "staff", "users", "links", "user_roles", "access_codes", "access_pairings", "forms",
                      "permission_roles", "role_form_settings", "role_assignments", "user_schools"] {
            XCTAssertGreaterThan(tables[table] ?? 0, 0, "the example has \(table)")
        }
        XCTAssertFalse(copy.out.contains(TestPostgresServer.password) || copy.err.contains(TestPostgresServer.password))
        for args in Self.readCommands {
            for json in [true, false] {
                let a = sqlite.ctl((json ? ["--json"] : []) + args), b = target.ctl((json ? ["--json"] : []) + args)
                XCTAssertEqual(a.code, b.code, "\(args): \(a.err) | \(b.err)")
                XCTAssertEqual(a.out, b.out, "\(args) answers differently on PostgreSQL")
            }
        }
        // The copy goes on as a store: the next run continues the ids and changes nothing.
        let next = target.sync(try Configuration.load(path: target.configPath))
        XCTAssertEqual(next.summary.runID, Int64(tables["runs"]! + 1))
        // A schema with data is refused, and says so.
        let again = sqlite.ctl(["store", "copy", "--to", target.database, "--schema", target.schema])
        XCTAssertEqual(again.code, 73, again.err)
        XCTAssertTrue(again.err.contains("already holds data (runs: \(tables["runs"]! + 1) rows)"), again.err)
    }

    func testThePasswordNeverShowsAndAURIWithOneIsRefused() throws {
        let w = Workspace(postgres: try server())
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 0, once.stderr)
        var outputs = [once.stdout, once.stderr]
        for args in [["status"], ["--json", "status"], ["runs"], ["--json", "run", "show", "1"]] {
            let r = try runProcess("sisyncctl", ["--config", w.configPath] + args)
            XCTAssertEqual(r.code, 0, r.stderr)
            outputs += [r.stdout, r.stderr]
        }
        let status = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try runProcess("sisyncctl", ["--config", w.configPath, "--json", "status"]).stdout.utf8)) as? [String: Any])
        let database = try XCTUnwrap(status["database"] as? [String: Any])
        XCTAssertEqual(database["path"] as? String, "\(w.database) (schema \(w.schema))")
        XCTAssertGreaterThan(database["bytes"] as? Int ?? 0, 8192, "the schema's size")
        // A wrong password: exit 69, no password in the message.
        try "not-the-password".write(toFile: w.passwordFile, atomically: true, encoding: .utf8)
        let refused = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(refused.code, 69, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("authentication failed"), refused.stderr)
        outputs += [refused.stdout, refused.stderr]
        // A URI with the password in it is a configuration error that does not repeat it.
        let port = try server().port
        w.configure(sync: "")
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8)
            .replacingOccurrences(of: "sisync@127.0.0.1", with: "sisync:\(TestPostgresServer.password)@127.0.0.1")
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let inURI = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(inURI.code, 78, inURI.stderr)
        XCTAssertTrue(inURI.stderr.contains("without a password") && inURI.stderr.contains("database_password_file"), inURI.stderr)
        outputs += [inURI.stdout, inURI.stderr]
        let ctl = try runProcess("sisyncctl", ["--db", "postgresql://sisync:\(TestPostgresServer.password)@127.0.0.1:\(port)/postgres", "status"])
        XCTAssertEqual(ctl.code, 78, ctl.stderr)
        outputs += [ctl.stdout, ctl.stderr]
        for o in outputs { XCTAssertFalse(o.contains(TestPostgresServer.password), o) }
        // Nor in the change log or the runs.
        try TestPostgresServer.password.write(toFile: w.passwordFile, atomically: true, encoding: .utf8)
        let raw = try Workspace.rawPostgres(w)
        let leaked = try raw.connection.execute("SELECT count(*) FROM \(w.schema).runs WHERE coalesce(error, '') LIKE '%' || $1 || '%'", [TestPostgresServer.password])
        XCTAssertEqual(leaked.value(0, 0), "0")
    }

    /// libpq's default `sslmode=prefer` does not verify: any host but the loopback or a
    /// socket needs verify-full or verify-ca.
    func testTLSVerificationIsRequiredForRemoteHosts() throws {
        func load(_ uri: String) -> String? {
            let path = NSTemporaryDirectory() + "sisync-tls-\(UUID().uuidString).conf"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try! "[sync]\ndatabase = \(uri)\n[source]\nurl = /tmp/\nentities = staff\n".write(toFile: path, atomically: true, encoding: .utf8)
            do { _ = try Configuration.load(path: path); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(load("postgresql://sisync@db.district.org/sis?sslmode=verify-full"))
        XCTAssertNil(load("postgres://sisync@db.district.org/sis?sslmode=verify-ca&sslrootcert=/etc/ssl/district.pem"))
        XCTAssertNil(load("postgresql://sisync@localhost/sis"))
        XCTAssertNil(load("postgresql://sisync@%2Fvar%2Frun%2Fpostgresql/sis"))
        XCTAssertNil(load("postgresql:///sis?host=/var/run/postgresql"))
        let prefer = load("postgresql://sisync@db.district.org/sis")
        XCTAssertTrue(prefer?.contains("sslmode=verify-full") == true && prefer?.contains("does not verify") == true, prefer ?? "")
        XCTAssertTrue(load("postgresql://sisync@db.district.org/sis?sslmode=require")?.contains("sslmode is require") == true)
        let schema = "[sync]\ndatabase = postgresql://sisync@localhost/sis\ndatabase_schema = Bad-Name\n[source]\nurl = /tmp/\nentities = staff\n"
        let path = NSTemporaryDirectory() + "sisync-schema-\(UUID().uuidString).conf"
        try schema.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try Configuration.load(path: path)) { e in XCTAssertTrue("\(e)".contains("database_schema"), "\(e)") }
    }

    /// R9: a second sisyncd on the same schema, from any host, exits 75 naming the holder's
    /// host and its sisyncd pid (from `application_name`), not the server's backend pid.
    func testR9ASecondSisyncdExits75NamingTheHoldersHostAndPid() throws {
        let w = Workspace(postgres: try server())
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        let second = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(second.code, 75, second.stderr)
        XCTAssertTrue(second.stderr.contains("sisyncd on \(ProcessInfo.processInfo.hostName) pid \(child.process.processIdentifier)"), second.stderr)
        // The lock is the session's: a SIGKILL frees it at once.
        kill(child.process.processIdentifier, SIGKILL)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 10), .success)
        var code: Int32 = -1
        let deadline = Date().addingTimeInterval(20)
        repeat { code = try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code } while code == 75 && Date() < deadline
        XCTAssertEqual(code, 0)
    }

    /// R1 on PostgreSQL: the server going away in the middle of an apply fails the run with
    /// 69 and applies nothing; once the server is back, the next run records it as failed.
    func testR1TheServerGoingAwayMidRunFails69AndAppliesNothing() throws {
        let own = try TestPostgresServer.privateServer()
        defer { own.stop() }
        let w = Workspace(postgres: own)
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        let before = try w.dump().filter { !$0.hasPrefix("runs:") }
        w.write("staff.csv", largeStaffCSV())
        let child = try RunningDaemon(["--config", w.configPath, "--once"])
        XCTAssertTrue(child.waitFor("in one transaction", timeout: 120), child.seen)
        try own.halt()
        XCTAssertEqual(child.exited.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(child.process.terminationStatus, 69, child.seen)
        try own.start()
        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") }, before, "R1: nothing of the cut-off run was applied")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        XCTAssertEqual(try w.store().auditTrail.run(id: 2)?.outcome, .failed)
    }

    /// R9: a web application's SELECT answers during a long run, and sees committed data only.
    func testR9AReaderIsAnsweredDuringALongRunAndSeesCommittedDataOnly() throws {
        let w = Workspace(postgres: try server())
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        w.write("staff.csv", largeStaffCSV())
        let child = try RunningDaemon(["--config", w.configPath, "--once"])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("in one transaction", timeout: 120), child.seen)
        let reader = try Workspace.rawPostgres(w)
        let started = Date()
        let count = try reader.connection.execute("SELECT count(*) FROM \(w.schema).staff").value(0, 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertEqual(count, "100", "only committed rows")
        XCTAssertTrue(child.process.isRunning, "the run ended before the read; make the export larger")
        XCTAssertEqual(child.exited.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(try reader.connection.execute("SELECT count(*) FROM \(w.schema).staff").value(0, 0), "300000")
    }

    /// docs/schema.md: an application may create users itself (username, email, name,
    /// approved, created_at); the next run keys and links them, with no CSV round trip.
    func testR6UsersAnApplicationInsertsAreKeyedAndLinkedByTheNextRun() throws {
        let w = Workspace(postgres: try server())
        let c = w.configure()
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let app = try Workspace.rawPostgres(w)
        try app.connection.execute("INSERT INTO \(w.schema).users (username, email, name, approved, created_at) VALUES ('jsmith', ' Jane.Smith@District.org ', 'Jane Smith', true, now())")
        let run = w.sync(c)
        XCTAssertNotEqual(run.summary.outcome, .failed, run.summary.error ?? "")
        XCTAssertEqual(run.summary.linksMade, 1)
        XCTAssertEqual(try w.store().accounts.user("jsmith")?.link?.staffID, "1042")
        XCTAssertEqual(try w.store().roles.of("jsmith").calculated.map(\.role), ["Staff"])
    }

    /// Issue 34: a read that may hold every user (the linking read after new aliases) comes
    /// through a cursor a page at a time, not as one libpq result: every row once and in
    /// order, with bound values, in and outside a transaction, and no cursor left open
    /// afterwards, also when the reader throws part of the way through.
    func testAReadInPagesGivesEveryRowOnceThroughACursorAndClosesIt() throws {
        let w = Workspace(postgres: try server())
        w.configure()
        let db = try Workspace.rawPostgres(w)
        for n in 1...7 { try db.run("INSERT INTO users (username, email, created_at) VALUES (\("u\(n)"), \("u\(n)@d.org"), now())") }
        func cursors() throws -> Int { try db.int("SELECT count(*) FROM pg_cursors WHERE name LIKE 'sisync_pages_%'") ?? -1 }
        func read(_ query: SQLQuery) throws -> (rows: [String], openWhileReading: Int) {
            var rows: [String] = [], open = 0
            try db.forEachRowInPages(query, pageSize: 3) { r in
                if rows.isEmpty { open = try cursors() }
                rows.append(r.text(0) + (r.bool(1) ? "+" : "-"))
            }
            return (rows, open)
        }
        let all = try read("SELECT username, approved FROM users WHERE username <> \("u4") AND approved = \(false) ORDER BY username")
        XCTAssertEqual(all.rows, ["u1-", "u2-", "u3-", "u5-", "u6-", "u7-"], "pages of 3, the last one short, booleans as the store reads them")
        XCTAssertEqual(all.openWhileReading, 1, "read through a cursor")
        XCTAssertEqual(try cursors(), 0)
        let inTransaction = try db.transaction { try read("SELECT username, approved FROM users ORDER BY username") }
        XCTAssertEqual(inTransaction.rows.count, 7)
        XCTAssertEqual(try read("SELECT username, approved FROM users WHERE username = 'none'").rows, [])
        struct Enough: Error {}
        var seen = 0
        XCTAssertThrowsError(try db.forEachRowInPages("SELECT username FROM users ORDER BY username", pageSize: 2) { _ in
            seen += 1
            if seen == 3 { throw Enough() }
        }) { XCTAssertTrue($0 is Enough, "\($0)") }
        XCTAssertEqual(try cursors(), 0, "closed when the reader stopped")
    }

    /// A stop (`interrupt`) that lands while a page is read is `StoreError.interrupted`, as
    /// for every other statement, so the run reports a stop and not a store failure; the
    /// cursor is closed after it. Here the query cancels itself on its fourth row, which is
    /// what a cancel request does to the statement it finds running: in a transaction that
    /// is the second page's FETCH; outside one, the DECLARE, which reads every row for the
    /// cursor to outlive its statement.
    func testAReadInPagesThatIsCancelledIsAStopAndClosesItsCursor() throws {
        let w = Workspace(postgres: try server())
        w.configure()
        let db = try Workspace.rawPostgres(w)
        // A cancel the store did not ask for (an administrator's statement_timeout) stays the server's error.
        try db.execute("SET statement_timeout TO 50")
        XCTAssertThrowsError(try db.transaction { try db.forEachRowInPages("SELECT n, pg_sleep(0.2) FROM generate_series(1, 9) AS n", pageSize: 3) { _ in } }) { e in
            XCTAssertNil(e as? StoreError, "\(e)")
            XCTAssertTrue("\(e)".contains("statement timeout"), "\(e)")
        }
        try db.execute("SET statement_timeout TO 0")
        db.noteStopRequested()
        func read() throws -> Int {
            var seen = 0
            XCTAssertThrowsError(try db.forEachRowInPages(
                "SELECT n, CASE WHEN n = 4 THEN pg_cancel_backend(pg_backend_pid()) END FROM generate_series(1, 9) AS n", pageSize: 3
            ) { _ in seen += 1 }) { e in
                XCTAssertEqual(e as? StoreError, .interrupted, "\(e)")
            }
            return seen
        }
        XCTAssertEqual(try read(), 0, "outside a transaction, the DECLARE was cancelled")
        XCTAssertEqual(try db.int("SELECT count(*) FROM pg_cursors WHERE name LIKE 'sisync_pages_%'"), 0)
        XCTAssertThrowsError(try db.transaction { XCTAssertEqual(try read(), 3, "in one, the second page's FETCH"); throw StoreError.interrupted })
        XCTAssertEqual(try db.int("SELECT count(*) FROM pg_cursors WHERE name LIKE 'sisync_pages_%'"), 0)
        XCTAssertEqual(try db.int("SELECT 1"), 1, "the session goes on")
    }

    /// Issue 26 item 16: a schema named by a reserved word passes the configuration's check
    /// and then works: runs into it, reads from it, and `store copy` into it (whose
    /// sequences are set through the quoted name). `CREATE SCHEMA user` failed before.
    func testSchemasNamedUserAndOrderWorkEndToEnd() throws {
        let pg = try server()
        let admin = try PostgresConnection(uri: pg.uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
        func drop() throws { for name in ["user", "order"] { try admin.execute("DROP SCHEMA IF EXISTS \"\(name)\" CASCADE") } }
        try drop()
        defer { try? drop() }
        do {
            let w = Workspace(postgres: pg, schema: "user")
            let c = w.configure()
            XCTAssertEqual(c.databaseSchema, "user")
            w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org")]))
            let first = w.sync(c)
            XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
            w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("2001", "John", "Doe", "john.doe@district.org")]))
            XCTAssertEqual(w.sync(c).summary.outcome, .applied)
            let list = w.ctl(["staff", "list"])
            XCTAssertEqual(list.code, 0, list.err)
            XCTAssertTrue(list.out.contains("John") && list.out.contains("Jane"), list.out)
            XCTAssertEqual(w.ctl(["status"]).code, 0)
            XCTAssertEqual(try admin.execute("SELECT count(*) FROM \"user\".staff").value(0, 0), "2")
            XCTAssertEqual(try admin.execute("SELECT count(*) FROM \"user\".runs").value(0, 0), "2")
        }
        do {
            let sqlite = try populatedSQLite()
            let copy = sqlite.ctl(["store", "copy", "--to", pg.uri(), "--schema", "order"])
            XCTAssertEqual(copy.code, 0, copy.err)
            let w = Workspace(postgres: pg, schema: "order")
            let c = w.configure()
            w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("4001", "Ann", "Later", "ann@district.org")]))
            let run = w.sync(c)
            XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
            XCTAssertEqual(run.summary.runID, 4, "the copied runs' sequence continues in the quoted schema")
            XCTAssertEqual(try admin.execute("SELECT count(*) FROM \"order\".staff WHERE active").value(0, 0), "2")
        }
    }
}

extension Workspace {
    /// A connection of its own to the workspace's PostgreSQL store (an application's).
    static func rawPostgres(_ w: Workspace) throws -> PostgresDatabase {
        guard case .postgres(let settings) = w.location else { throw TestPostgresError("not a PostgreSQL workspace") }
        return try PostgresDatabase(settings: settings, applicationName: "test-reader")
    }
}
