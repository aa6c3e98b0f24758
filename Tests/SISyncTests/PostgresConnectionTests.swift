import XCTest
@testable import SISync

/// The libpq wrapper the PostgreSQL store is built on (issue 14), against a real server
/// started by the tests: parameters, COPY, advisory locks (R9), and errors that name the
/// server, say what to do and never carry the password.
final class PostgresConnectionTests: XCTestCase {
    private func connect(_ server: TestPostgresServer, password: String? = TestPostgresServer.password) throws -> PostgresConnection {
        try PostgresConnection(uri: server.uri(), password: password, applicationName: "sisync-tests/\(getpid())")
    }

    func testParametersNullsAndResults() throws {
        let c = try connect(TestPostgresServer.shared())
        let r = try c.execute("SELECT $1::text, $2::text, length($1), 'é' || $1", ["a'b\"c;--", nil])
        XCTAssertEqual(r.rows, [["a'b\"c;--", nil, "8", "éa'b\"c;--"]])
        XCTAssertEqual(try c.execute("SELECT current_setting('application_name')").value(0, 0), "sisync-tests/\(getpid())")
    }

    /// Bulk writes go through COPY; the text format's special bytes arrive unchanged.
    func testCopyCarriesTabsNewlinesBackslashesAndNulls() throws {
        let c = try connect(TestPostgresServer.shared())
        try c.execute("CREATE TEMP TABLE t (a text, b text)")
        let tricky = "tab\there\nnew line\\back\rslash ☃"
        let stored = try c.copy(into: "t", columns: ["a", "b"]) { rows in
            try rows.add([tricky, nil])
            for i in 0..<20_000 { try rows.add(["row \(i)", String(repeating: "x", count: i % 50)]) }
        }
        XCTAssertEqual(stored, 20_001)
        XCTAssertEqual(try c.execute("SELECT a, b FROM t WHERE b IS NULL").rows, [[tricky, nil]])
        XCTAssertEqual(try c.execute("SELECT count(*) FROM t").value(0, 0), "20001")
        // A row the server refuses fails the copy with the server's words, and the session goes on.
        try c.execute("CREATE TEMP TABLE n (a integer NOT NULL)")
        XCTAssertThrowsError(try c.copy(into: "n", columns: ["a"]) { try $0.add(["not a number"]) }) { e in
            guard case .query(_, "22P02", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(try c.execute("SELECT 1").value(0, 0), "1")
    }

    /// R9: an advisory lock is held by one session, and freed when that session ends,
    /// however it ends.
    func testR9AdvisoryLockIsHeldBySessionAndFreedWhenItEnds() throws {
        let server = try TestPostgresServer.shared()
        var first: PostgresConnection? = try connect(server)
        let second = try connect(server)
        XCTAssertTrue(try first!.tryAdvisoryLock(4242))
        XCTAssertFalse(try second.tryAdvisoryLock(4242))
        let holder = try second.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objid = 4242")
        XCTAssertEqual(holder.value(0, 0), "sisync-tests/\(getpid())")
        first = nil
        let deadline = Date().addingTimeInterval(10)
        var taken = false
        while !taken && Date() < deadline { taken = try second.tryAdvisoryLock(4242); if !taken { usleep(20_000) } }
        XCTAssertTrue(taken, "the lock is freed when its session ends")
    }

    func testQueryErrorsNameTheServerAndSQLSTATE() throws {
        let server = try TestPostgresServer.shared()
        let c = try connect(server)
        XCTAssertThrowsError(try c.execute("SELECT * FROM no_such_table")) { e in
            guard case .query(let target, "42P01", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
            XCTAssertEqual(target.port, server.port)
            XCTAssertTrue("\(e)".contains("127.0.0.1:\(server.port)/postgres") && "\(e)".contains("SQLSTATE 42P01"), "\(e)")
        }
        XCTAssertEqual(try c.execute("SELECT 2").value(0, 0), "2", "the session survives a failed statement")
    }

    /// Exit 69 material: a refused connection, a wrong password, a session the server ended.
    /// None of the messages carries the password.
    func testConnectionFailuresSayWhatToDoWithoutThePassword() throws {
        let server = try TestPostgresServer.shared()
        let closed = try TestPostgresServer.freePort()
        XCTAssertThrowsError(try PostgresConnection(uri: "postgresql://sisync@127.0.0.1:\(closed)/postgres?connect_timeout=5", password: "s3cret-never-shown", applicationName: "t")) { e in
            XCTAssertTrue((e as? PostgresError)?.isUnavailable == true)
            XCTAssertEqual("\(e)", "cannot connect to 127.0.0.1:\(closed) (connection refused): is PostgreSQL running and is [sync] database right?")
        }
        XCTAssertThrowsError(try connect(server, password: "s3cret-never-shown")) { e in
            XCTAssertTrue((e as? PostgresError)?.isUnavailable == true)
            XCTAssertTrue("\(e)".contains("authentication failed") && "\(e)".contains("database_password_file"), "\(e)")
            XCTAssertFalse("\(e)".contains("s3cret"), "\(e)")
        }
        let victim = try connect(server)
        let killer = try connect(server)
        try killer.execute("SELECT pg_terminate_backend($1::int)", [String(victim.backendPID)])
        XCTAssertThrowsError(try victim.execute("SELECT 1")) { e in
            XCTAssertTrue((e as? PostgresError)?.isUnavailable == true, "\(e)")
            XCTAssertFalse("\(e)".contains(TestPostgresServer.password), "\(e)")
        }
    }

    func testTargetReadsURIsAndNeverShowsAPassword() {
        let t = PostgresTarget(uri: "postgresql://sisync:hunter2@db.district.org:6432/sis?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem")
        XCTAssertTrue(t.hadPassword)
        XCTAssertEqual(t.host, "db.district.org")
        XCTAssertEqual(t.port, 6432)
        XCTAssertEqual(t.database, "sis")
        XCTAssertEqual(t.user, "sisync")
        XCTAssertEqual(t.parameter("sslmode"), "verify-full")
        XCTAssertNotNil(PostgresTLSRequirement.unverifiedServer(options: ["host": t.host!], environment: [:]), "a remote host")
        XCTAssertEqual(t.display, "postgresql://sisync@db.district.org:6432/sis?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fca.pem")
        XCTAssertEqual("\(t)", "db.district.org:6432/sis")
        let q = PostgresTarget(uri: "postgres:///sis?host=/run/postgresql&password=x")
        XCTAssertTrue(q.hadPassword)
        XCTAssertEqual(q.host, "/run/postgresql")
        XCTAssertNil(PostgresTLSRequirement.unverifiedServer(options: ["host": q.host!], environment: [:]), "a unix socket")
        XCTAssertFalse(q.display.contains("password"))
        let key = PostgresTarget(uri: "postgresql://sisync@db.district.org/sis?sslmode=verify-full&sslkey=/k.pem&sslpassword=k3ypass")
        XCTAssertEqual(key.display, "postgresql://sisync@db.district.org/sis?sslmode=verify-full&sslkey=%2Fk.pem&sslpassword=REDACTED",
                       "the client key's passphrase is a secret too")
        XCTAssertTrue(PostgresTarget.isURI("PostgreSQL://x") && PostgresTarget.isURI("postgres://x") && !PostgresTarget.isURI("/var/lib/sisync/sisync.db"))
    }

    /// Issue 26 item 8: `sslmode=prefer` only where libpq will reach a unix socket or the
    /// loopback, judged on what libpq reads from the URI and the environment, not on the
    /// URI's host as written. Each URI here connected elsewhere without verifying before.
    func testTLSIsRequiredWhereverLibpqWouldActuallyConnect() throws {
        func refusal(_ uri: String, _ environment: [String: String] = [:]) -> String? {
            do { try Configuration.checkPostgresURI(uri, file: "/etc/sisync/sisync.conf", line: 4, environment: environment); return nil } catch {
                return "\(error)"
            }
        }
        // Local: sockets, the loopback, libpq's default socket.
        for uri in ["postgresql:///sis", "postgresql://localhost/sis", "postgresql://LOCALHOST/sis", "postgresql://127.0.0.1:5433/sis",
                    "postgresql://127.8.9.10/sis", "postgresql://[::1]/sis", "postgresql://%2Fvar%2Frun%2Fpostgresql/sis",
                    "postgresql:///sis?host=/var/run/postgresql", "postgresql:///sis?host=@pg", "postgresql://localhost,127.0.0.1,%2Ftmp/sis",
                    "postgresql://localhost/sis?hostaddr=127.0.0.1", "postgresql://db.district.org/sis?hostaddr=127.0.0.1",
                    "postgresql:///sis?hostaddr=::ffff:127.0.0.1", "postgresql://localhost/sis?host="] {
            XCTAssertNil(refusal(uri), uri)
        }
        // The URI's own parameters replace or add to its host.
        let bypasses = [
            ("postgresql://localhost/db?hostaddr=203.0.113.7", "hostaddr 203.0.113.7 (in the URI)"),
            ("postgresql://localhost/db?host=remote", "the host remote (in the URI)"),
            ("postgresql:///db?host=remote.example", "the host remote.example (in the URI)"),
            ("postgresql://localhost/db?service=district", "service=district"),
            ("postgresql://localhost,db.district.org/db", "the host db.district.org (in the URI)"),
            ("postgresql://localhost:5432,localhost:5433/db?hostaddr=127.0.0.1,198.51.100.2", "hostaddr 198.51.100.2"),
            ("postgresql://127.0.0.1.evil.example/db", "the host 127.0.0.1.evil.example"),
            ("postgresql://localhost/db?sslmode=require&hostaddr=203.0.113.7", "sslmode is require"),
        ]
        for (uri, reason) in bypasses {
            let message = refusal(uri)
            XCTAssertTrue(message?.contains(reason) == true, "\(uri): \(message ?? "accepted")")
        }
        // The environment fills in what the URI leaves out.
        let environmental = [
            ("postgresql:///db", ["PGHOST": "db.district.org"], "the host db.district.org (PGHOST in the environment)"),
            ("postgresql://:5433/db", ["PGHOST": "db.district.org"], "PGHOST in the environment"),
            ("postgresql://localhost/db", ["PGHOSTADDR": "203.0.113.7"], "hostaddr 203.0.113.7 (PGHOSTADDR in the environment)"),
            ("postgresql:///db", ["PGHOST": "localhost,remote"], "the host remote (PGHOST in the environment)"),
            ("postgresql://localhost/db", ["PGSERVICE": "district"], "PGSERVICE=district in the environment"),
            ("postgresql://localhost/db", ["PGSERVICE": "district", "PGSERVICEFILE": "/tmp/pg_service.conf"], "PGSERVICE=district"),
        ]
        for (uri, environment, reason) in environmental {
            let message = refusal(uri, environment)
            XCTAssertTrue(message?.contains(reason) == true, "\(uri) with \(environment): \(message ?? "accepted")")
        }
        // What the URI sets, the environment does not change; a service file alone names nothing.
        XCTAssertNil(refusal("postgresql://localhost/db", ["PGHOST": "remote"]))
        XCTAssertNil(refusal("postgresql:///db?host=/var/run/postgresql", ["PGHOST": "remote"]))
        XCTAssertNil(refusal("postgresql://localhost/db?hostaddr=127.0.0.1", ["PGHOSTADDR": "203.0.113.7"]))
        XCTAssertNil(refusal("postgresql:///db", ["PGSERVICEFILE": "/tmp/pg_service.conf"]))
        // The administrator's answer in the configuration: a verifying sslmode, whatever connects.
        for (uri, environment) in [("postgresql://localhost/db?hostaddr=203.0.113.7&sslmode=verify-full", [String: String]()),
                                   ("postgresql:///db?sslmode=verify-ca", ["PGHOST": "remote", "PGSERVICE": "district"]),
                                   ("postgresql://localhost/db?service=district&sslmode=verify-full", [:])] {
            XCTAssertNil(refusal(uri, environment), uri)
        }
        // The message names the file, the line, what connects where and the fix.
        let message = try XCTUnwrap(refusal("postgresql://sisync@localhost/sis?hostaddr=203.0.113.7"))
        XCTAssertTrue(message.hasPrefix("/etc/sisync/sisync.conf:4: [sync] database"), message)
        XCTAssertTrue(message.contains("add ?sslmode=verify-full"), message)
        XCTAssertTrue(message.contains("does not verify"), message)
        // A URI libpq refuses is a configuration error with libpq's reason, not a later failure.
        let unknown = try XCTUnwrap(refusal("postgresql://localhost/db?hostadr=127.0.0.1"))
        XCTAssertTrue(unknown.contains("libpq says: invalid URI query parameter: \"hostadr\""), unknown)
    }

    func testLoopbackAddressesAreReadAsLibpqReadsThem() {
        for a in ["127.0.0.1", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            XCTAssertTrue(PostgresTLSRequirement.isLoopbackAddress(a), a)
        }
        for a in ["128.0.0.1", "10.0.0.1", "::2", "::", "::ffff:10.0.0.1", "localhost", "127.1", "", "[::1]"] {
            XCTAssertFalse(PostgresTLSRequirement.isLoopbackAddress(a), a)
        }
    }
}
