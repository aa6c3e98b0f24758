import XCTest
@testable import SISync
@testable import SISyncAPI

/// `GET /v1/events` (issue 31, docs/events.md): the change feed by cursor, with the API's
/// own writes in it; both stores (POSTGRES_TESTS runs APIServiceTests).
extension APIServiceTests {
    /// The school with the change feed on, for the store and the service alike.
    private func feedSchool() throws -> School {
        var s = try school()
        s.c.events.enabled = true
        return s
    }

    private func page(_ api: APIService, _ token: String, _ query: [(name: String, value: String)]) throws -> (events: [[String: Any]], next: Int64, head: Int64) {
        let r = api.handle(get("/v1/events", token: token, query: query))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let o = try json(r)
        return ((o["events"] as? [[String: Any]]) ?? [], (o["next"] as? NSNumber)?.int64Value ?? -1, (o["head"] as? NSNumber)?.int64Value ?? -1)
    }

    func testTheAPIsWritesAreInTheFeedItServesByCursor() throws {
        let s = try feedSchool()
        let api = s.service()
        // A client without the scope gets 403.
        let reader = try s.w.store().apiClients.add(name: "reader", scopes: [.read], actor: "admin", now: Date()).token
        XCTAssertEqual(api.handle(get("/v1/events", token: reader)).status, 403)
        let start = try page(api, s.token, [("after", "0")])
        XCTAssertEqual(start.events.map { $0["type"] as? String }, [], "nothing before the feed was on")
        // The API's own writes: five wrong passwords lock ann; mom pairs with ST1.
        for _ in 0..<5 { _ = try login(api, s.token, "ann", "wrong") }
        XCTAssertEqual(api.handle(post("/v1/pairings", token: s.token, #"{"username": "mom", "code": "\#(s.codes["ST1"]!)"}"#)).status, 200)
        let all = try page(api, s.token, [("after", String(start.next))])
        let types = all.events.compactMap { $0["type"] as? String }
        XCTAssertEqual(types.prefix(3), ["feed.started", "user.locked", "pairing.created"])
        XCTAssertTrue(types.dropFirst(3).allSatisfy { $0 == "role.granted" } && types.count > 3, "the pairing's roles: \(types)")
        XCTAssertEqual(all.events[1]["actor"] as? String, "api:app")
        XCTAssertEqual(all.events[2]["subject"] as? [String: String], ["username": "mom", "student_id": "ST1"])
        XCTAssertFalse(String(decoding: api.handle(get("/v1/events", token: s.token)).body, as: UTF8.self).contains(s.codes["ST1"]!), "never the code")
        XCTAssertEqual(all.next, all.head)
        // limit and next; types filters and still moves the cursor past what it skips.
        let one = try page(api, s.token, [("after", String(start.next)), ("limit", "1")])
        XCTAssertEqual(one.events.count, 1)
        XCTAssertEqual(one.next, (all.events[0]["id"] as? NSNumber)?.int64Value)
        let pairings = try page(api, s.token, [("after", String(start.next)), ("types", "pairing.*,user.unlocked")])
        XCTAssertEqual(pairings.events.compactMap { $0["type"] as? String }, ["pairing.created"])
        XCTAssertEqual(pairings.next, all.head)
        // Bad input is 400, never a crash.
        for bad in [[("after", "-1")], [("limit", "0")], [("limit", "1001")], [("wait", "61s")], [("types", "staff.fired")], [("after", "1"), ("after", "2")], [("cursor", "1")]] {
            XCTAssertEqual(api.handle(get("/v1/events", token: s.token, query: bad)).status, 400, "\(bad)")
        }
    }

    func testAPrunedCursorIsGoneWithTheHead() throws {
        let s = try feedSchool()
        let api = s.service()
        let store = try s.w.store()
        store.events.settings = s.c.events
        for u in ["mom", "dad"] { try store.accounts.setFlag(u, field: "locked", to: true, actor: "admin", now: Date()) }
        store.events.settings.maxEvents = 1
        XCTAssertEqual(try store.events.prune(now: Date()), 2)
        let head = try store.events.head()
        let r = api.handle(get("/v1/events", token: s.token, query: [("after", "0")]))
        XCTAssertEqual(r.status, 410)
        let problem = try json(r)
        XCTAssertEqual(problem["type"] as? String, "urn:sisync:problem:cursor-gone")
        XCTAssertEqual((problem["head"] as? NSNumber)?.int64Value, head)
        XCTAssertTrue((problem["detail"] as? String)?.contains("re-read the current state") == true)
        XCTAssertEqual(try page(api, s.token, [("after", String(head - 1))]).events.count, 1)
        XCTAssertEqual(api.handle(get("/v1/events", token: s.token, query: [("after", String(head + 1))])).status, 410, "a cursor beyond the head is not this store's")
    }

    func testALongPollAnswersAsSoonAsSomethingNewerCommits() throws {
        let s = try feedSchool()
        let api = s.service()
        let head = try page(api, s.token, []).head
        let answered = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var response: HTTPResponse?
        let request = get("/v1/events", token: s.token, query: [("after", String(head)), ("wait", "30s")])
        let started = Date()
        Thread.detachNewThread {
            response = api.handle(request)
            answered.signal()
        }
        // Once the request waits, a change commits.
        let deadline = Date().addingTimeInterval(20)
        while api.longPolls.count == 0 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(api.longPolls.count, 1, "the request waits")
        let store = try s.w.store()
        store.events.settings = s.c.events
        try store.accounts.setFlag("dad", field: "locked", to: true, actor: "admin", now: Date())
        XCTAssertEqual(answered.wait(timeout: .now() + 25), .success)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "answered at the commit, not at the end of the wait")
        let body = try json(try XCTUnwrap(response))
        XCTAssertEqual((body["events"] as? [[String: Any]])?.compactMap { $0["type"] as? String }, ["feed.started", "user.locked"])
        XCTAssertEqual(api.longPolls.count, 0, "its slot is given back")
        // Past the limit of parked polls, 503 with Retry-After at once (an empty page at
        // once would be asked for again at once).
        let busy = APIService(configuration: s.c, log: s.log, longPolls: LongPollLimit(slots: 0))
        let now = Date()
        let quick = busy.handle(get("/v1/events", token: s.token, query: [("after", String(try store.events.head())), ("wait", "30s")]))
        XCTAssertEqual(quick.status, 503)
        XCTAssertEqual(quick.header("Retry-After"), "1")
        XCTAssertEqual(quick.route, "/v1/events")
        XCTAssertLessThan(Date().timeIntervalSince(now), 5)
    }
}
