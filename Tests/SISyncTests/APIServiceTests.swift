import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import SISync
@testable import SISyncAPI

/// The applications' HTTP API (issue 30), called with request values on a real store (both
/// stores: POSTGRES_TESTS): each endpoint, scopes, tokens, lockout, the run lock, the
/// throttle, tenants and strict input.
final class APIServiceTests: XCTestCase {
    static let password = APISchool.password

    typealias School = APISchool

    func school(_ w: Workspace = Workspace(), tenant: String? = nil) throws -> School { try APISchool.make(w) }

    func get(_ path: String, token: String?, query: [(name: String, value: String)] = []) -> HTTPRequest {
        HTTPRequest(method: "GET", path: path, query: query, headers: token.map { [("authorization", "Bearer " + $0)] } ?? [])
    }

    func post(_ path: String, token: String?, _ body: String, type: String = "application/json") -> HTTPRequest {
        HTTPRequest(method: "POST", path: path, headers: (token.map { [("authorization", "Bearer " + $0)] } ?? []) + [("content-type", type)], body: Array(body.utf8))
    }

    func json(_ r: HTTPResponse, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], String(decoding: r.body, as: UTF8.self), file: file, line: line)
    }

    func login(_ api: APIService, _ token: String, _ user: String, _ password: String) throws -> String? {
        let r = api.handle(post("/v1/logins", token: token, #"{"username": "\#(user)", "password": "\#(password)"}"#))
        return r.status == 200 ? try json(r)["result"] as? String : "status \(r.status)"
    }

    func failedLogins(_ w: Workspace, _ user: String) throws -> Int? {
        try w.rawDatabase().int("SELECT failed_logins FROM users WHERE username = \(user)")
    }

    // MARK: clients

    func testClientTokenIsShownOnceAndOnlyItsSHA256IsKeptAndAddAndRevokeAreInTheChangeLog() throws {
        let s = try school()
        XCTAssertTrue(s.token.hasPrefix("sisync_") && s.token.count == 7 + 64, s.token)
        let dump = try s.w.dump().joined(separator: "\n")
        XCTAssertFalse(dump.contains(s.token) || dump.contains(String(s.token.dropFirst(7))), "the token is kept nowhere")
        XCTAssertTrue(dump.contains(APIToken.digest(s.token)))
        let store = try s.w.store()
        let other = try store.apiClients.add(name: "portal", scopes: [.pair, .read], actor: "admin", now: Date())
        XCTAssertNotEqual(other.token, s.token)
        XCTAssertEqual(try store.apiClients.list().map(\.name), ["app", "portal"])
        XCTAssertEqual(try store.apiClients.client(named: "portal")?.scopes, [.read, .pair])
        XCTAssertThrowsError(try store.apiClients.add(name: "portal", scopes: [.read], actor: "admin", now: Date())) { XCTAssertEqual($0 as? APIClientError, .exists("portal")) }
        XCTAssertThrowsError(try APIScope.parse(list: "read,admin")) { XCTAssertEqual($0 as? APIClientError, .unknownScope("admin")) }
        XCTAssertEqual(try APIScope.parse(list: "forms,read,forms"), [.read, .forms])
        XCTAssertThrowsError(try store.apiClients.add(name: "a b", scopes: [.read], actor: "admin", now: Date()))
        try store.apiClients.revoke(name: "portal", actor: "admin", now: Date())
        XCTAssertThrowsError(try store.apiClients.revoke(name: "portal", actor: "admin", now: Date())) { XCTAssertEqual($0 as? APIClientError, .noSuchClient("portal")) }
        var log: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT actor, kind, old_value, new_value FROM changes WHERE entity = 'api_clients' AND record_id = 'portal' ORDER BY change_id") { row in
            log.append((0..<4).map { i in row.string(Int32(i)) ?? "-" }.joined(separator: " "))
        }
        XCTAssertEqual(log, ["admin added - read,pair", "admin deactivated read,pair -"])
    }

    /// A revoked token stops working within 5 s (the cache's age); last use is written
    /// when due and never moves backwards.
    func testRevokeTakesEffectWithinFiveSecondsAndLastUseIsWritten() throws {
        let s = try school()
        let api = s.service()
        XCTAssertEqual(api.handle(get("/v1/users/ann", token: s.token)).status, 200)
        api.flushLastUse()
        XCTAssertNotNil(try s.w.store().apiClients.client(named: "app")?.lastUsedAt)
        try s.w.store().apiClients.revoke(name: "app", actor: "admin", now: Date())
        let revoked = Date()
        var status = 200
        while status == 200 && Date().timeIntervalSince(revoked) < 8 {
            status = api.handle(get("/v1/users/ann", token: s.token)).status
            if status == 200 { usleep(100_000) }
        }
        XCTAssertEqual(status, 401)
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(revoked), ClientDirectory.maximumAge + 1)
    }

    // MARK: authentication, scopes, routing

    func testNoTokenAndAWrongTokenGetTheSame401AndEachScopeIsChecked() throws {
        var s = try school()
        let api = s.service()
        let none = api.handle(get("/v1/users/ann", token: nil))
        let wrong = api.handle(get("/v1/users/ann", token: "sisync_" + String(repeating: "0", count: 64)))
        let basic = api.handle(HTTPRequest(method: "GET", path: "/v1/users/ann", headers: [("authorization", "Basic " + s.token)]))
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none, wrong, "no token and a wrong one are answered alike")
        XCTAssertEqual(none, basic)
        XCTAssertEqual(none.header("WWW-Authenticate"), #"Bearer realm="sisync""#)
        XCTAssertEqual(none.header("Content-Type"), "application/problem+json")
        XCTAssertEqual(try json(none)["status"] as? Int, 401)
        XCTAssertEqual(none.route, "/v1/users/{username}")
        XCTAssertNil(none.clientName)
        XCTAssertEqual(api.handle(get("/v1/users/ann", token: s.token.uppercased())).status, 401, "tokens compare exactly")
        XCTAssertEqual(api.handle(HTTPRequest(method: "GET", path: "/v1/users/ann", headers: [("authorization", "bearer  " + s.token)])).status, 200)

        let store = try s.w.store()
        let requests: [(APIScope, HTTPRequest)] = [
            (.read, get("/v1/users/ann", token: nil)), (.read, get("/v1/staff/S1", token: nil)),
            (.login, post("/v1/logins", token: nil, #"{"username": "ann", "password": "x"}"#)),
            (.pair, post("/v1/pairings", token: nil, #"{"username": "mom", "code": "ZZZZ-ZZZZ"}"#)),
            (.forms, get("/v1/form-access", token: nil, query: [("username", "ann"), ("form", "IEP"), ("building", "101")])),
        ]
        for scope in APIScope.allCases {
            let others = Set(APIScope.allCases).subtracting([scope])
            let token = try store.apiClients.add(name: "without-\(scope.rawValue)", scopes: others, actor: "admin", now: Date()).token
            s.c.api.writeWait = ConfigDuration(seconds: 0.5)
            let fresh = s.service()
            for (needed, var request) in requests {
                request.headers.append(("authorization", "Bearer " + token))
                let r = fresh.handle(request)
                if needed == scope {
                    XCTAssertEqual(r.status, 403, "\(request.path) without \(scope)")
                    XCTAssertTrue(try json(r)["detail"] as? String ?? "" ~= "needs the scope `\(scope.rawValue)`", String(decoding: r.body, as: UTF8.self))
                    XCTAssertEqual(r.clientName, "without-\(scope.rawValue)")
                } else {
                    XCTAssertNotEqual(r.status, 403, "\(request.path) with \(needed)")
                    XCTAssertNotEqual(r.status, 401)
                }
            }
        }
    }

    func testRouterDecodesEachSegmentAndAnswers404And405WithoutCORS() throws {
        let s = try school()
        let api = s.service()
        let unknown = api.handle(get("/v1/nothing", token: s.token))
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.route, APIService.unmatchedRoute)
        let options = api.handle(HTTPRequest(method: "OPTIONS", path: "/v1/users/ann", headers: [("origin", "https://evil.example"), ("access-control-request-method", "GET")]))
        XCTAssertEqual(options.status, 405)
        XCTAssertEqual(options.header("Allow"), "GET")
        XCTAssertFalse(options.headers.contains { $0.name.lowercased().hasPrefix("access-control-") }, "no CORS headers")
        XCTAssertEqual(api.handle(HTTPRequest(method: "DELETE", path: "/v1/logins")).status, 405)
        XCTAssertEqual(api.handle(get("/v1/logins", token: s.token)).header("Allow"), "POST")
        // An encoded slash stays inside its segment: a username, not two segments.
        let slash = api.handle(get("/v1/users/ann%2Fx", token: s.token))
        XCTAssertEqual(slash.status, 404)
        XCTAssertEqual(slash.route, "/v1/users/{username}")
        XCTAssertTrue(try json(slash)["detail"] as? String ?? "" ~= "no user `ann/x`")
        XCTAssertEqual(api.handle(get("/v1/users/%61nn", token: s.token)).status, 200, "decoded")
        XCTAssertEqual(api.handle(get("/v1/users/a%zz", token: s.token)).status, 400)
        XCTAssertEqual(api.handle(get("/v1/users/a%00", token: s.token)).status, 400)
        XCTAssertEqual(api.handle(get("/v1/users/ann/", token: s.token)).status, 404)
        XCTAssertEqual(api.handle(get("v1/health", token: nil)).status, 404)
        XCTAssertEqual(api.handle(get("/t/x/v1/health", token: nil)).status, 404, "no tenants in a single-store process")
    }

    func testBodiesAndQueriesAreReadStrictly() throws {
        let s = try school()
        let api = s.service()
        func detail(_ r: HTTPResponse) -> String { ((try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any])?["detail"] as? String ?? "" }
        let unknown = api.handle(post("/v1/logins", token: s.token, #"{"username": "ann", "password": "x", "remember": "yes"}"#))
        XCTAssertEqual(unknown.status, 400)
        XCTAssertEqual(unknown.header("Content-Type"), "application/problem+json")
        XCTAssertTrue(detail(unknown) ~= "unknown field `remember`", detail(unknown))
        let wrongType = api.handle(post("/v1/logins", token: s.token, #"{"username": "ann", "password": 12345}"#))
        XCTAssertEqual(wrongType.status, 400)
        XCTAssertTrue(detail(wrongType) ~= "field `password` must be a string, not a number")
        XCTAssertTrue(detail(api.handle(post("/v1/logins", token: s.token, #"{"username": "ann""#))) ~= "not JSON")
        XCTAssertTrue(detail(api.handle(post("/v1/logins", token: s.token, #"{"username": "ann"}"#))) ~= "field `password` is missing")
        XCTAssertTrue(detail(api.handle(post("/v1/logins", token: s.token, #"{"username": "a", "username": "b", "password": "x"}"#))) ~= "given twice")
        XCTAssertTrue(detail(api.handle(post("/v1/logins", token: s.token, #"["ann"]"#))) ~= "one JSON object")
        XCTAssertEqual(api.handle(post("/v1/logins", token: s.token, String(repeating: "[", count: 10_000))).status, 400)
        XCTAssertEqual(api.handle(post("/v1/logins", token: s.token, #"{"username": "ann", "password": "x"}"#, type: "text/plain")).status, 415)
        let query = api.handle(get("/v1/form-access", token: s.token, query: [("username", "ann"), ("form", "IEP"), ("building", "101"), ("debug", "1")]))
        XCTAssertEqual(query.status, 400)
        XCTAssertTrue(detail(query) ~= "unknown query parameter `debug`")
        XCTAssertEqual(api.handle(get("/v1/form-access", token: s.token, query: [("username", "ann"), ("form", "IEP")])).status, 400)
        XCTAssertEqual(api.handle(get("/v1/form-access", token: s.token, query: [("username", "ann"), ("form", "IEP"), ("building", "1"), ("student", "ST1")])).status, 400)
        XCTAssertEqual(try StrictJSON.readObject(Array(#" {"a":"\u00e9\ud83d\ude00\n"} "#.utf8), fields: ["a"]), ["a": "é😀\n"])
        XCTAssertThrowsError(try StrictJSON.readObject(Array(#"{"a":"\ud83d"}"#.utf8), fields: ["a"]))
        XCTAssertThrowsError(try StrictJSON.readObject([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D], fields: ["a"]), "not UTF-8")
    }

    // MARK: endpoints

    func testReadsAnswerWhatSisyncctlShowsWithoutHistoryOrReasons() throws {
        let s = try school()
        let api = s.service()
        let r = api.handle(get("/v1/users/ann", token: s.token))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.route, "/v1/users/{username}")
        XCTAssertEqual(r.clientName, "app")
        var shown = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.w.ctl(["--json", "user", "show", "ann"]).out.utf8)) as? [String: Any])
        XCTAssertNotNil(shown.removeValue(forKey: "history"))
        var link = try XCTUnwrap(shown["link"] as? [String: Any])
        XCTAssertEqual(link.removeValue(forKey: "reason") as? String, "private note of the office")
        shown["link"] = link
        XCTAssertEqual(try json(r) as NSDictionary, shown as NSDictionary)
        XCTAssertFalse(String(decoding: r.body, as: UTF8.self).contains("private note"))
        XCTAssertEqual(api.handle(get("/v1/users/nobody", token: s.token)).status, 404)

        let staff = api.handle(get("/v1/staff/S1", token: s.token))
        XCTAssertEqual(staff.status, 200)
        var staffShown = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.w.ctl(["--json", "staff", "show", "S1"]).out.utf8)) as? [String: Any])
        staffShown.removeValue(forKey: "history")
        XCTAssertEqual(try json(staff) as NSDictionary, staffShown as NSDictionary)
        XCTAssertEqual(api.handle(get("/v1/staff/S9", token: s.token)).status, 404)

        for (place, value) in [("building", "101"), ("student", "ST1"), ("student", "ST2"), ("building", "999")] {
            for grant in [nil, "owner"] {
                let q: [(name: String, value: String)] = [("username", "ann"), ("form", "IEP"), (place, value)] + (grant.map { [("grant", $0)] } ?? [])
                let a = api.handle(get("/v1/form-access", token: s.token, query: q))
                XCTAssertEqual(a.status, 200)
                let ctl = s.w.ctl(["--json", "access-check", "ann", "IEP", "--\(place)", value] + (grant.map { ["--grant", $0] } ?? []))
                XCTAssertEqual(try json(a) as NSDictionary, try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ctl.out.utf8)) as? NSDictionary), "\(place) \(value) \(grant ?? "")")
            }
        }
        XCTAssertEqual(try json(api.handle(get("/v1/form-access", token: s.token, query: [("username", "ann"), ("form", "IEP"), ("student", "ST1")])))["max"] as? String, "edit")
        for q in [[("username", "zed"), ("form", "IEP"), ("building", "101")], [("username", "ann"), ("form", "Nope"), ("building", "101")],
                  [("username", "ann"), ("form", "IEP"), ("student", "ST9")]] {
            XCTAssertEqual(api.handle(get("/v1/form-access", token: s.token, query: q.map { (name: $0.0, value: $0.1) })).status, 404)
        }
    }

    func testHealthAnswersWithAndWithoutAStoreAndNeverErrorText() throws {
        let s = try school()
        let up = s.service().handle(get("/v1/health", token: nil))
        XCTAssertEqual(up.status, 200)
        XCTAssertEqual(up.route, "/v1/health")
        let body = try json(up)
        XCTAssertEqual(body["status"] as? String, "up")
        XCTAssertEqual(body["schema_version"] as? Int, Int(Schema.currentVersion))
        XCTAssertEqual((body["last_run"] as? [String: Any])?["outcome"] as? String, "applied")

        let empty = Workspace()
        let c = empty.configure()
        let log = MemoryLog()
        let down = APIService(configuration: c, log: log).handle(get("/v1/health", token: nil))
        XCTAssertEqual(down.status, 503)
        XCTAssertEqual(Set(try json(down).keys), ["status", "sisync_version"], "up or down and the version, never why")
        XCTAssertEqual(try json(down)["status"] as? String, "down")
        XCTAssertTrue(log.events.contains { $0.type == .apiFailed }, "the reason is in the journal")
        let noStore = APIService(configuration: c, log: log).handle(get("/v1/users/ann", token: "x"))
        XCTAssertEqual(noStore.status, 503)
        XCTAssertEqual(noStore.header("Retry-After"), "5")
    }

    /// Issue 30 and issue 26 item 7: the same rules through the API and `sisyncctl user
    /// login` (one function): the fifth failure in a row locks, whichever path made the
    /// four before; unknown users and wrong passwords of locked or unapproved accounts are
    /// `rejected`; each path costs one hash; an accepted login writes nothing.
    func testLockoutThroughTheAPIAndSisyncctlAgree() throws {
        var s = try school()
        s.c.api.maxFailuresPerMinute = 1000
        let api = s.service()
        let before = try s.w.dump()
        let hashes = PasswordHash.tally.withLock { $0.count }
        XCTAssertEqual(try login(api, s.token, "ann", Self.password), "accepted")
        XCTAssertEqual(PasswordHash.tally.withLock { $0.count } - hashes, 1, "one hash")
        XCTAssertEqual(try s.w.dump(), before, "an accepted login that changes nothing writes nothing")
        for user in ["nobody", "ann"] {
            let n = PasswordHash.tally.withLock { $0.count }
            XCTAssertEqual(try login(api, s.token, user, "wrong password"), "rejected")
            XCTAssertEqual(PasswordHash.tally.withLock { $0.count } - n, 1, "one hash for \(user)")
        }
        XCTAssertEqual(try login(api, s.token, "ann", "wrong 2"), "rejected")
        XCTAssertEqual(s.w.ctl(["user", "login", "ann"], input: ["wrong 3"]).code, 1)
        XCTAssertEqual(try login(api, s.token, "ann", "wrong 4"), "rejected")
        XCTAssertFalse(try XCTUnwrap(s.w.store().accounts.user("ann")).locked, "four failures")
        XCTAssertEqual(try login(api, s.token, "ann", "wrong 5"), "rejected")
        XCTAssertTrue(try XCTUnwrap(s.w.store().accounts.user("ann")).locked, "the fifth, through the API, locks")
        let history = try s.w.store().auditTrail.userHistory("ann")
        XCTAssertTrue(history.contains { $0.actor == "api:app" && $0.change.field == "locked" }, "\(history)")
        XCTAssertTrue(s.log.events.contains { $0.type == .apiWrite && $0.message.contains("ann locked") })
        XCTAssertEqual(try login(api, s.token, "ann", Self.password), "locked", "only the right password learns it")
        XCTAssertEqual(try login(api, s.token, "ann", "wrong 6"), "rejected")
        let ctlLocked = s.w.ctl(["user", "login", "ann"], input: [Self.password])
        XCTAssertTrue(ctlLocked.err.contains("locked"), ctlLocked.err)
        XCTAssertEqual(s.w.ctl(["user", "unlock", "ann"]).code, 0)
        // And the other way: four through the API, the fifth through sisyncctl.
        for i in 1...4 { XCTAssertEqual(try login(api, s.token, "ann", "wrong \(i)"), "rejected") }
        XCTAssertEqual(s.w.ctl(["user", "login", "ann"], input: ["wrong 5"]).code, 1)
        XCTAssertTrue(try XCTUnwrap(s.w.store().accounts.user("ann")).locked)
        XCTAssertEqual(s.w.ctl(["user", "passwd", "ann"], input: [Self.password]).code, 0)
        XCTAssertEqual(s.w.ctl(["user", "unapprove", "ann"]).code, 0)
        XCTAssertEqual(try login(api, s.token, "ann", Self.password), "unapproved")
        XCTAssertEqual(try login(api, s.token, "ann", "wrong"), "rejected")
    }

    /// R9 for the API: a write waits for a run at most `[api] write_wait`, then 503 with
    /// Retry-After and nothing written; reads, and a login that writes nothing, never wait.
    func testAWriteWaitsForARunThenAnswers503AndReadsNeverWait() throws {
        let s = try school()
        let api = s.service()
        let held = try XCTUnwrap(RunLock.acquire(location: s.w.location, holder: "sisyncd pid 4242, run 7", wait: 0))
        let started = Date()
        let r = api.handle(post("/v1/logins", token: s.token, #"{"username": "ann", "password": "wrong"}"#))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.header("Retry-After"), "1")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.5, "it waited write_wait")
        XCTAssertTrue(try json(r)["detail"] as? String ?? "" ~= "sisyncd pid 4242, run 7")
        XCTAssertEqual(try failedLogins(s.w, "ann"), 0, "nothing written")
        let pairing = api.handle(post("/v1/pairings", token: s.token, #"{"username": "mom", "code": "\#(s.codes["ST1"]!)"}"#))
        XCTAssertEqual(pairing.status, 503)
        let read = Date()
        XCTAssertEqual(api.handle(get("/v1/users/ann", token: s.token)).status, 200)
        XCTAssertEqual(try login(api, s.token, "ann", Self.password), "accepted", "writes nothing, so waits for nothing")
        XCTAssertLessThan(Date().timeIntervalSince(read), 0.5)
        // A run that ends within write_wait: the write goes ahead.
        var slow = s.c
        slow.api.writeWait = ConfigDuration(seconds: 10)
        let patient = APIService(configuration: slow, log: s.log)
        let release = DispatchWorkItem { held.release() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3, execute: release)
        XCTAssertEqual(try login(patient, s.token, "ann", "wrong"), "rejected")
        XCTAssertEqual(try failedLogins(s.w, "ann"), 1)
    }

    func testPasswordHashingIsLimitedAndFurtherLoginsGet503() throws {
        let s = try school()
        let limit = PasswordHashingLimit(slots: 1, waiting: 1, wait: 0.3)
        let api = s.service(hashing: limit)
        XCTAssertEqual(PasswordHashingLimit().slots, max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
        let inside = DispatchSemaphore(value: 0), finish = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { _ = limit.run { inside.signal(); finish.wait() } }
        XCTAssertEqual(inside.wait(timeout: .now() + 5), .success)
        let r = api.handle(post("/v1/logins", token: s.token, #"{"username": "ann", "password": "\#(Self.password)"}"#))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.header("Retry-After"), "1")
        XCTAssertEqual(api.handle(get("/v1/users/ann", token: s.token)).status, 200, "reads do not wait for a hash")
        finish.signal()
        var answered: String?
        let deadline = Date().addingTimeInterval(5)
        while answered != "accepted" && Date() < deadline { answered = try login(api, s.token, "ann", Self.password) }
        XCTAssertEqual(answered, "accepted")
    }

    func testPairingThroughTheAPIFollowsTheCodeRulesAndIsLoggedWithoutTheCode() throws {
        let s = try school()
        let api = s.service()
        let typed = s.codes["ST1"]!.lowercased()
        let r = api.handle(post("/v1/pairings", token: s.token, #"{"username": "mom", "code": "\#(typed.prefix(4)) \#(typed.suffix(4))"}"#))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        XCTAssertEqual(try json(r)["student_id"] as? String, "ST1")
        XCTAssertEqual(try json(r)["roles_granted"] as? [String], ["Parent"])
        XCTAssertEqual(try s.w.store().roles.of("mom").calculated.map(\.role), ["Parent"])
        XCTAssertTrue(try s.w.store().auditTrail.userHistory("mom").contains { $0.actor == "api:app" && $0.change.field == "paired_student" && $0.change.new == "ST1" })
        let wrong = api.handle(post("/v1/pairings", token: s.token, #"{"username": "dad", "code": "ZZZZ-ZZZZ"}"#))
        let inactive = api.handle(post("/v1/pairings", token: s.token, #"{"username": "dad", "code": "\#(s.codes["ST3"]!)"}"#))
        XCTAssertEqual(wrong.status, 422)
        XCTAssertEqual(wrong, inactive, "an inactive student's code is a wrong code")
        XCTAssertFalse(String(decoding: inactive.body, as: UTF8.self).contains("ST3"))
        for e in s.log.events {
            for code in s.codes.values { XCTAssertFalse(e.message.contains(code) || e.fields.contains { $0.1.contains(code) }, e.message) }
        }
        // An unknown user is answered exactly as a wrong code is (no username enumeration).
        let unknown = api.handle(post("/v1/pairings", token: s.token, #"{"username": "zed", "code": "ZZZZ-ZZZZ"}"#))
        let wrongCode = api.handle(post("/v1/pairings", token: s.token, #"{"username": "mom", "code": "ZZZZ-ZZZZ"}"#))
        XCTAssertEqual(unknown.status, 422)
        XCTAssertEqual(try json(unknown)["type"] as? String, try json(wrongCode)["type"] as? String)
        XCTAssertEqual(try json(unknown)["detail"] as? String, try json(wrongCode)["detail"] as? String)
        // The per-parent throttle of `access pair`: dad's fifth failure pauses dad.
        for _ in 0..<3 { XCTAssertEqual(api.handle(post("/v1/pairings", token: s.token, #"{"username": "dad", "code": "ZZZZ-ZZZZ"}"#)).status, 422) }
        let paused = api.handle(post("/v1/pairings", token: s.token, #"{"username": "dad", "code": "\#(s.codes["ST2"]!)"}"#))
        XCTAssertEqual(paused.status, 429)
        XCTAssertNotNil(paused.header("Retry-After").flatMap(Int.init))
    }

    /// A NUL (JSON `\u0000`, query `%00`) is refused with 400 naming where it was, before
    /// any store lookup: it would cut a C string short, and libpq refuses it outright.
    func testANULCharacterInABodyOrAQueryIs400AndReachesNothing() throws {
        let s = try school()
        let api = s.service()
        let bodies = [("/v1/logins", #"{"username": "ann\u0000x", "password": "wrong"}"#, "username"),
                      ("/v1/logins", #"{"username": "ann", "password": "\u0000"}"#, "password"),
                      ("/v1/pairings", #"{"username": "mom", "code": "\#(s.codes["ST1"]!)\u0000"}"#, "code")]
        for (path, body, field) in bodies {
            let r = api.handle(post(path, token: s.token, body))
            XCTAssertEqual(r.status, 400, body)
            let detail = try json(r)["detail"] as? String ?? ""
            XCTAssertTrue(detail.contains("field `\(field)` holds a NUL"), detail)
        }
        XCTAssertEqual(try failedLogins(s.w, "ann"), 0, "no login was tried")
        XCTAssertEqual(try s.w.store().accessCodes.pairings(student: "ST1"), [], "no pairing was made")
        let query = api.handle(get("/v1/form-access", token: s.token, query: [("username", "ann\u{0}"), ("form", "IEP"), ("building", "101")]))
        XCTAssertEqual(query.status, 400)
        XCTAssertTrue((try json(query)["detail"] as? String ?? "").contains("`username` holds a NUL"))
        XCTAssertEqual(api.handle(get("/v1/users/ann%00", token: s.token)).status, 400, "in the path too")
    }

    func testTheBearerTokenIsReadAsBeforeTheByteByByteParser() {
        XCTAssertEqual(APIService.bearerToken("Bearer abc"), "abc")
        XCTAssertEqual(APIService.bearerToken("bEaReR \t abc \t"), "abc")
        XCTAssertEqual(APIService.bearerToken("Bearer sisync_ä"), "sisync_ä")
        for other in ["", "Bearer", "Bearer ", "Bearer   ", "Basic abc", "Bearerabc", "Bearer\tabc", "xearer abc"] {
            XCTAssertEqual(APIService.bearerToken(other), "", other)
        }
    }

    /// Per client, at most max_failures_per_minute failed logins and as many failed
    /// pairings (never fewer than the lockout's five: no 429 for a username before its
    /// fifth failure), counted in the store, so two processes share the count.
    func testFailuresPerClientAreThrottledAcrossProcesses() throws {
        var s = try school()
        s.c.api.maxFailuresPerMinute = 1
        let throttled = MemoryLog()
        let hook = { @Sendable (client: String, tenant: String?, kind: APIFailureKind) in
            throttled.log(LogEvent(.apiThrottled, .info, "\(client) \(kind.rawValue)"))
        }
        let first = s.service(onThrottle: hook), second = s.service(onThrottle: hook)
        for i in 1...4 { XCTAssertEqual(try login(i % 2 == 0 ? first : second, s.token, "ann", "wrong \(i)"), "rejected", "no 429 before the fifth failure") }
        XCTAssertEqual(try login(first, s.token, "ann", "wrong 5"), "rejected")
        XCTAssertTrue(try XCTUnwrap(s.w.store().accounts.user("ann")).locked)
        let r = second.handle(post("/v1/logins", token: s.token, #"{"username": "mom", "password": "anything"}"#))
        XCTAssertEqual(r.status, 429, "the other process sees the five failures")
        let retry = try XCTUnwrap(r.header("Retry-After").flatMap(Int.init))
        XCTAssertTrue((1...60).contains(retry), "\(retry)")
        XCTAssertEqual(r.route, "/v1/logins")
        XCTAssertEqual(throttled.events.map(\.message), ["app login"])
        XCTAssertEqual(s.log.events.filter { $0.type == .apiThrottled && $0.priority == .warning }.count, 1)
        XCTAssertEqual(second.handle(post("/v1/logins", token: s.token, #"{"username": "mom", "password": "anything"}"#)).status, 429)
        XCTAssertEqual(s.log.events.filter { $0.type == .apiThrottled }.count, 1, "one warning a minute")
        // Pairings are counted apart: still allowed, until their own five.
        for user in ["mom", "dad", "mom", "dad", "mom"] {
            XCTAssertEqual(first.handle(post("/v1/pairings", token: s.token, #"{"username": "\#(user)", "code": "ZZZZ-ZZZZ"}"#)).status, 422)
        }
        XCTAssertEqual(second.handle(post("/v1/pairings", token: s.token, #"{"username": "dad", "code": "\#(s.codes["ST1"]!)"}"#)).status, 429)
        // Another client is not throttled by this one's failures.
        let other = try s.w.store().apiClients.add(name: "other", scopes: [.login], actor: "admin", now: Date()).token
        XCTAssertEqual(try login(s.service(), other, "mom", "anything"), "rejected")
    }

    /// `--tenants`: each tenant under /t/NAME with its own store and clients; a token of one
    /// opens nothing of another.
    func testTenantsAreIsolated() throws {
        let a = try school(Workspace()), b = try school(Workspace())
        XCTAssertEqual(b.w.ctl(["user", "add", "--username", "only-b", "--email", "only-b@district.org"]).code, 0)
        let api = APIService(configuration: Configuration(), tenants: [("north", a.c), ("south", b.c)], log: MemoryLog())
        XCTAssertEqual(api.handle(get("/t/north/v1/users/ann", token: a.token)).status, 200)
        let ok = api.handle(get("/t/south/v1/users/only-b", token: b.token))
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.route, "/t/{tenant}/v1/users/{username}")
        XCTAssertEqual(api.handle(get("/t/north/v1/users/only-b", token: a.token)).status, 404)
        XCTAssertEqual(api.handle(get("/t/south/v1/users/only-b", token: a.token)).status, 401, "north's token in south")
        XCTAssertEqual(api.handle(post("/t/south/v1/logins", token: a.token, #"{"username": "ann", "password": "x"}"#)).status, 401)
        XCTAssertEqual(try failedLogins(b.w, "ann"), 0, "nothing written in south")
        XCTAssertEqual(api.handle(get("/v1/users/ann", token: a.token)).status, 404)
        XCTAssertEqual(api.handle(get("/t/west/v1/users/ann", token: a.token)).status, 404)
        XCTAssertEqual(api.handle(get("/t/south/v1/health", token: nil)).status, 200)
        XCTAssertEqual(api.handle(get("/t/%2e%2e/v1/health", token: nil)).status, 404)
    }

    // MARK: the document

    /// Every route of the router is in docs/openapi.yaml (OpenAPI 3.1, in YAML's
    /// JSON-compatible subset), with its responses and its security; the document parses.
    func testOpenAPIDocumentHasEveryRoute() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        // YAML comments (whole lines starting with #) above a JSON document.
        let json = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "docs/openapi.yaml is written as JSON, which YAML reads")
        XCTAssertTrue((doc["openapi"] as? String)?.hasPrefix("3.1.") == true)
        XCTAssertNotNil((doc["info"] as? [String: Any])?["title"] as? String)
        let schemes = try XCTUnwrap(((doc["components"] as? [String: Any])?["securitySchemes"] as? [String: Any])?["bearer"] as? [String: Any])
        XCTAssertEqual(schemes["scheme"] as? String, "bearer")
        let paths = try XCTUnwrap(doc["paths"] as? [String: Any])
        var documented = 0
        for route in Route.all {
            let item = try XCTUnwrap(paths[route.template] as? [String: Any], "\(route.template) is not in docs/openapi.yaml")
            let op = try XCTUnwrap(item[route.method.lowercased()] as? [String: Any], "\(route.method) \(route.template)")
            let responses = try XCTUnwrap(op["responses"] as? [String: Any])
            // SCIM creates with 201 and deletes with 204 (RFC 7644 §3.3, §3.6).
            XCTAssertNotNil(responses["200"] ?? responses["201"] ?? responses["204"], "\(route.template)")
            let security = try XCTUnwrap(op["security"] as? [[String: [String]]], "\(route.template) says its security")
            if let scope = route.scope {
                XCTAssertEqual(security, [["bearer": [scope.rawValue]]], route.template)
                for status in ["401", "403"] { XCTAssertNotNil(responses[status], "\(route.template) \(status)") }
            } else {
                XCTAssertEqual(security, [], route.template)
            }
            documented += 1
        }
        let operations = paths.values.compactMap { $0 as? [String: Any] }.flatMap { $0.keys.filter { ["get", "post", "put", "delete", "patch"].contains($0) } }
        XCTAssertEqual(operations.count, documented, "no operation the router does not have")
    }
}

extension String {
    fileprivate static func ~= (text: String, part: String) -> Bool { text.contains(part) }
}
