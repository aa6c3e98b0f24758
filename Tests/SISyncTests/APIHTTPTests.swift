import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI
#if canImport(Glibc)
import Glibc
#endif

/// The API over real HTTP (issue 30, "What to show"): the `sisync-api` executable on a
/// socket of 127.0.0.1, over a real store (both stores: POSTGRES_TESTS), asked as an
/// application asks it. Each endpoint, each scope refusal, 401, the lockout shared with
/// `sisyncctl user login`, a write waiting for a run, TLS with a test CA, two processes
/// sharing the throttle, tenants, and `sisyncctl api client revoke`.
final class APIHTTPTests: XCTestCase {
    private let servers = APIServerProcesses()

    override func tearDown() { servers.stopAll() }

    /// The school's configuration with these `[api]` lines, in a file of its own.
    private func configuration(_ s: APISchool, _ api: String = "", name: String = "api.conf") throws -> String {
        let path = s.w.root + "/" + name
        let text = try String(contentsOfFile: s.w.configPath, encoding: .utf8) + "\n[api]\naccess_log = all\n" + api + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func start(_ arguments: [String]) throws -> (api: SpawnedAPI, port: Int) { try servers.start(arguments) }

    typealias Answer = HTTPAnswer

    private func call(_ port: Int, _ method: String, _ target: String, token: String? = nil, json: String? = nil) throws -> Answer {
        try APIServerProcesses.call(port, method, target, token: token, json: json)
    }

    private func login(_ port: Int, _ token: String, _ user: String, _ password: String) throws -> Answer {
        try call(port, "POST", "/v1/logins", token: token, json: #"{"username": "\#(user)", "password": "\#(password)"}"#)
    }

    // MARK: endpoints, scopes, tokens

    func testEveryEndpointScopeAndTokenOverHTTP() throws {
        let s = try APISchool.make()
        let store = try s.w.store()
        var without: [APIScope: String] = [:]
        for scope in APIScope.allCases {
            without[scope] = try store.apiClients.add(name: "no-\(scope.rawValue)", scopes: Set(APIScope.allCases).subtracting([scope]), actor: "admin", now: Date()).token
        }
        let (_, port) = try start(["--config", try configuration(s)])

        let health = try call(port, "GET", "/v1/health")
        XCTAssertEqual(health.status, 200, health.body)
        XCTAssertEqual(health.json["status"] as? String, "up")
        XCTAssertEqual(health.json["schema_version"] as? Int, Int(Schema.currentVersion))
        XCTAssertEqual(Set(health.json.keys), ["status", "sisync_version", "schema_version", "last_run"])

        let user = try call(port, "GET", "/v1/users/ann", token: s.token)
        XCTAssertEqual(user.status, 200, user.body)
        XCTAssertEqual(user.header("Content-Type"), "application/json")
        XCTAssertEqual(user.json["username"] as? String, "ann")
        XCTAssertEqual((user.json["link"] as? [String: Any])?["staff_id"] as? String, "S1")
        XCTAssertNil(user.json["history"])
        XCTAssertFalse(user.body.contains("private note"), "a manual link's reason is the administrators'")
        XCTAssertEqual(try call(port, "GET", "/v1/users/nobody", token: s.token).status, 404)

        let staff = try call(port, "GET", "/v1/staff/S1", token: s.token)
        XCTAssertEqual(staff.status, 200, staff.body)
        XCTAssertEqual(staff.json["users"] as? [String], ["ann"])

        let access = try call(port, "GET", "/v1/form-access?username=ann&form=IEP&building=101", token: s.token)
        XCTAssertEqual(access.status, 200, access.body)
        XCTAssertEqual([access.json["default"] as? String, access.json["max"] as? String], ["view", "edit"])

        XCTAssertEqual(try login(port, s.token, "ann", APISchool.password).result, "accepted")
        XCTAssertEqual(try login(port, s.token, "ann", "wrong").result, "rejected")

        let paired = try call(port, "POST", "/v1/pairings", token: s.token, json: #"{"username": "mom", "code": "\#(s.codes["ST1"]!)"}"#)
        XCTAssertEqual(paired.status, 200, paired.body)
        XCTAssertEqual(paired.json["student_id"] as? String, "ST1")
        XCTAssertEqual(try s.w.store().roles.of("mom").calculated.map(\.role), ["Parent"])

        // 401: no token, a wrong one, another scheme: one answer, with WWW-Authenticate.
        let none = try call(port, "GET", "/v1/users/ann")
        let wrong = try call(port, "GET", "/v1/users/ann", token: "sisync_" + String(repeating: "0", count: 64))
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none.header("WWW-Authenticate"), #"Bearer realm="sisync""#)
        XCTAssertEqual(none.header("Content-Type"), "application/problem+json")
        XCTAssertEqual([wrong.status, wrong.body] as [AnyHashable], [none.status, none.body] as [AnyHashable])

        // 403: each route without its scope.
        let needs: [(APIScope, String, String, String?)] = [
            (.read, "GET", "/v1/users/ann", nil), (.read, "GET", "/v1/staff/S1", nil),
            (.login, "POST", "/v1/logins", #"{"username": "ann", "password": "x"}"#),
            (.pair, "POST", "/v1/pairings", #"{"username": "dad", "code": "ZZZZ-ZZZZ"}"#),
            (.forms, "GET", "/v1/form-access?username=ann&form=IEP&building=101", nil),
        ]
        for (scope, method, target, body) in needs {
            let refused = try call(port, method, target, token: without[scope]!, json: body)
            XCTAssertEqual(refused.status, 403, "\(target) without \(scope)")
            XCTAssertEqual(refused.type, "scope-missing")
            for other in APIScope.allCases where other != scope {
                XCTAssertNotEqual(try call(port, method, target, token: without[other]!, json: body).status, 403, "\(target) with \(scope)")
            }
        }
        XCTAssertEqual(try call(port, "OPTIONS", "/v1/users/ann", token: s.token).status, 405)
    }

    // MARK: logins and the run lock

    /// Issue 30: the same lockout through the API and `sisyncctl user login`: four failures
    /// over HTTP, the fifth by sisyncctl, and both tell only the right password `locked`.
    func testLockoutThroughHTTPAndSisyncctlAgree() throws {
        let s = try APISchool.make()
        let (_, port) = try start(["--config", try configuration(s, "max_failures_per_minute = 1000")])
        for i in 1...4 { XCTAssertEqual(try login(port, s.token, "ann", "wrong \(i)").result, "rejected") }
        XCTAssertFalse(try XCTUnwrap(s.w.store().accounts.user("ann")).locked)
        XCTAssertEqual(s.w.ctl(["user", "login", "ann"], input: ["wrong 5"]).code, 1)
        XCTAssertTrue(try XCTUnwrap(s.w.store().accounts.user("ann")).locked, "the fifth in a row locks, whoever counted the four")
        XCTAssertEqual(try login(port, s.token, "ann", APISchool.password).result, "locked")
        XCTAssertEqual(try login(port, s.token, "ann", "wrong 6").result, "rejected", "only the right password learns it")
        XCTAssertEqual(try login(port, s.token, "nobody", "wrong").result, "rejected", "an unknown user is a wrong password")
        XCTAssertTrue(s.w.ctl(["user", "login", "ann"], input: [APISchool.password]).err.contains("locked"))
        XCTAssertEqual(s.w.ctl(["user", "unlock", "ann"]).code, 0)
        // And the other way round: four by sisyncctl, the fifth over HTTP.
        for i in 1...4 { XCTAssertEqual(s.w.ctl(["user", "login", "ann"], input: ["wrong \(i)"]).code, 1) }
        XCTAssertEqual(try login(port, s.token, "ann", "wrong 5").result, "rejected")
        XCTAssertTrue(try XCTUnwrap(s.w.store().accounts.user("ann")).locked)
        XCTAssertTrue(try s.w.store().auditTrail.userHistory("ann").contains { $0.actor == "api:app" && $0.change.field == "locked" })
    }

    /// R9: a write waits for the run at most `[api] write_wait`, then 503 with Retry-After
    /// and nothing written; a read answers at once meanwhile; a run that ends in time lets
    /// the write through.
    func testAWriteWaitsForARunThenGets503WithRetryAfter() throws {
        let s = try APISchool.make()
        let (_, port) = try start(["--config", try configuration(s, "write_wait = 1s")])
        let held = try XCTUnwrap(RunLock.acquire(location: s.w.location, holder: "sisyncd pid 4242, run 7", wait: 0))
        let started = Date()
        let busy = try login(port, s.token, "ann", "wrong")
        XCTAssertEqual(busy.status, 503, busy.body)
        XCTAssertEqual(busy.header("Retry-After"), "1")
        XCTAssertEqual(busy.type, "busy")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1, "it waited write_wait")
        XCTAssertTrue((busy.json["detail"] as? String ?? "").contains("sisyncd pid 4242, run 7"))
        XCTAssertEqual(try s.w.rawDatabase().int("SELECT failed_logins FROM users WHERE username = 'ann'"), 0, "nothing written")
        let read = Date()
        XCTAssertEqual(try call(port, "GET", "/v1/users/ann", token: s.token).status, 200)
        XCTAssertEqual(try login(port, s.token, "ann", APISchool.password).result, "accepted", "a login that writes nothing waits for nothing")
        XCTAssertLessThan(Date().timeIntervalSince(read), 1)
        let release = DispatchWorkItem { held.release() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3, execute: release)
        XCTAssertEqual(try login(port, s.token, "ann", "wrong").result, "rejected")
        XCTAssertEqual(try s.w.rawDatabase().int("SELECT failed_logins FROM users WHERE username = 'ann'"), 1)
    }

    /// Found attacking the running service: a login or write waiting for the run lock held
    /// one of libmicrohttpd's few threads, and every other connection of that thread with it:
    /// reads stalled for write_wait, and requests sent in time were cut as 408. Requests that
    /// may wait now run off those threads; reads answer while the writes wait.
    func testReadsAnswerWhileLoginsWaitForARun() throws {
        let s = try APISchool.make()
        let (api, port) = try start(["--config", try configuration(s, "write_wait = 4s\nmax_failures_per_minute = 1000")])
        // Readers connected first, kept alive, spread over the server's threads.
        let readers = try (0..<12).map { _ in try RawHTTPConnection(port: port) }
        let held = try XCTUnwrap(RunLock.acquire(location: s.w.location, holder: "sisyncd pid 4242, run 7", wait: 0))
        let sent = Date()
        let writers = try (0..<16).map { i -> RawHTTPConnection in
            let c = try RawHTTPConnection(port: port)
            let body = #"{"username": "nobody\#(i)", "password": "wrong"}"#
            c.send("POST /v1/logins HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \(s.token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            return c
        }
        usleep(500_000)
        var slowest = 0.0
        for c in readers {
            let started = Date()
            c.send("GET /v1/users/ann HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(s.token)\r\n\r\n")
            let r = c.receive(timeout: 8) { $0.contains("\"permission_roles\"") }
            XCTAssertEqual(RawHTTPConnection.parse(r.text, closed: r.closed).status, 200, r.text)
            slowest = max(slowest, Date().timeIntervalSince(started))
        }
        XCTAssertLessThan(slowest, 1, "no read waits for the logins that wait for the run")
        for c in writers {
            let r = c.receive(timeout: 15)
            XCTAssertEqual(RawHTTPConnection.parse(r.text, closed: r.closed).status, 503, "busy (the run or the hashing slots), never 408: \(r.text)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(sent), 8, "each waits write_wait (4 s) at most, side by side, not one after another")
        held.release()
        XCTAssertFalse(api.seen.contains(" 408 "), api.seen)
    }

    // MARK: TLS, processes, tenants, revocation

    func testTLSWithATestCertificateAuthority() throws {
        let s = try APISchool.make()
        let certs = s.w.root + "/tls"
        try TestCertificates.make(in: certs)
        let (_, port) = try start(["--config", try configuration(s, "tls_certificate = \(certs)/server.pem\ntls_key = \(certs)/server.key")])
        let ok = try runTool("/usr/bin/curl", ["-sS", "--cacert", certs + "/ca.pem", "-H", "Authorization: Bearer \(s.token)", "https://localhost:\(port)/v1/users/ann"])
        XCTAssertEqual(ok.code, 0, ok.err)
        XCTAssertTrue(ok.out.contains("\"username\":\"ann\""), ok.out)
        XCTAssertNotEqual(try runTool("/usr/bin/curl", ["-sS", "https://localhost:\(port)/v1/health"]).code, 0, "not trusted without the CA")
        XCTAssertNotEqual(try runTool("/usr/bin/curl", ["-sS", "--max-time", "5", "http://localhost:\(port)/v1/health"]).out.prefix(8), "HTTP/1.1")
    }

    /// The per-client failure counter is in the store: two processes over it share it.
    func testTwoProcessesOverOneStoreShareTheThrottle() throws {
        let s = try APISchool.make()
        let config = try configuration(s, "max_failures_per_minute = 5")
        let (_, first) = try start(["--config", config])
        let (_, second) = try start(["--config", config])
        for i in 1...5 { XCTAssertEqual(try login(i % 2 == 0 ? first : second, s.token, "nobody\(i)", "wrong").result, "rejected") }
        for port in [first, second] {
            let refused = try login(port, s.token, "mom", "anything")
            XCTAssertEqual(refused.status, 429, refused.body)
            XCTAssertTrue((1...60).contains(Int(refused.header("Retry-After") ?? "") ?? 0), refused.head)
        }
        XCTAssertEqual(try call(first, "GET", "/v1/users/ann", token: s.token).status, 200, "reads are not throttled")
    }

    /// `--tenants DIR`: a token of one tenant opens nothing of another, over HTTP too.
    func testTenantsAreIsolatedOverHTTP() throws {
        let north = try APISchool.make(), south = try APISchool.make()
        XCTAssertEqual(south.w.ctl(["user", "add", "--username", "only-south", "--email", "only-south@district.org"]).code, 0)
        let dir = north.w.root + "/tenants"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try configuration(north), toPath: dir + "/north.conf")
        try FileManager.default.copyItem(atPath: try configuration(south), toPath: dir + "/south.conf")
        let (_, port) = try start(["--config", dir + "/north.conf", "--tenants", dir])
        XCTAssertEqual(try call(port, "GET", "/t/south/v1/users/only-south", token: south.token).status, 200)
        XCTAssertEqual(try call(port, "GET", "/t/north/v1/users/only-south", token: north.token).status, 404)
        XCTAssertEqual(try call(port, "GET", "/t/south/v1/users/ann", token: north.token).status, 401, "north's token in south")
        XCTAssertEqual(try login(port, north.token, "ann", "wrong").status, 404, "no tenant prefix")
        XCTAssertEqual(try call(port, "POST", "/t/south/v1/logins", token: north.token, json: #"{"username": "ann", "password": "x"}"#).status, 401)
        XCTAssertEqual(try south.w.rawDatabase().int("SELECT failed_logins FROM users WHERE username = 'ann'"), 0, "nothing written in south")
        for path in ["/t/../t/south/v1/users/ann", "/t/%2e%2e/v1/health", "/t/south/../north/v1/users/ann", "/t/south%2f..%2fnorth/v1/users/ann"] {
            let r = try call(port, "GET", path, token: north.token)
            XCTAssertNotEqual(r.status, 200, path)
        }
        XCTAssertEqual(try call(port, "GET", "/t/north/v1/health").status, 200)
    }

    func testRevokeBySisyncctlTakesEffectWithinFiveSeconds() throws {
        let s = try APISchool.make()
        let config = try configuration(s)
        let (_, port) = try start(["--config", config])
        XCTAssertEqual(try call(port, "GET", "/v1/users/ann", token: s.token).status, 200, "the clients are read")
        let revoke = try runProcess("sisyncctl", ["--config", config, "api", "client", "revoke", "app"])
        XCTAssertEqual(revoke.code, 0, revoke.stderr)
        let revoked = Date()
        var status = 200
        while status == 200 && Date().timeIntervalSince(revoked) < 10 {
            status = try call(port, "GET", "/v1/users/ann", token: s.token).status
            if status == 200 { usleep(100_000) }
        }
        XCTAssertEqual(status, 401)
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(revoked), ClientDirectory.maximumAge + 0.5)
    }

    /// SIGTERM with a long poll parked (issue 31): the poll gets what there is (an empty
    /// page) and the process ends within systemd's budget of 5 s.
    func testSIGTERMAnswersAParkedLongPollAndStopsWithinFiveSeconds() throws {
        let s = try APISchool.make()
        let (api, port) = try start(["--config", try configuration(s, "[events]\nenabled = true")])
        let head = try XCTUnwrap(try call(port, "GET", "/v1/events", token: s.token).json["head"] as? Int)
        let poll = try RawHTTPConnection(port: port)
        poll.send("GET /v1/events?after=\(head)&wait=60s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(s.token)\r\nConnection: close\r\n\r\n")
        // Parked once the process runs its waiter's thread.
        func threads() -> [String] {
            let dir = "/proc/\(api.pid)/task"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap {
                try? String(contentsOfFile: "\(dir)/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while !threads().contains(LongPollWaiter.threadName) && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(threads().contains(LongPollWaiter.threadName), "\(threads())")
        let stopped = Date()
        kill(api.pid, SIGTERM)
        let r = poll.receive(timeout: 10)
        let answer = RawHTTPConnection.parse(r.text, closed: r.closed)
        XCTAssertEqual(answer.status, 200, answer.head)
        XCTAssertTrue(answer.body.hasPrefix("{\"events\":[],"), answer.body)
        XCTAssertTrue(api.waitForExit(timeout: 10))
        XCTAssertLessThan(Date().timeIntervalSince(stopped), 5)
        XCTAssertEqual(api.status, 0, api.seen)
    }
}
