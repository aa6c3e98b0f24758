import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI
#if canImport(Glibc)
import Glibc
#endif

/// `GET /v1/events?wait=` over real HTTP (issue 31, "Pull"): a waiting request is a
/// suspended connection, not a blocked worker thread. The service and the server run in this
/// process on 127.0.0.1, so that the tests see how many polls are parked; both stores
/// (POSTGRES_TESTS).
final class LongPollHTTPTests: XCTestCase {
    private var servers: [HTTPServer] = []
    override func tearDown() { servers.forEach { $0.stop() }; servers = [] }

    private struct Served {
        let school: APISchool
        let api: APIService
        let server: HTTPServer
        let port: Int
        let seen: ExchangeLog
        let store: RosterStore

        /// A change that writes an event (ann is locked or unlocked).
        func commitAnEvent(_ locked: Bool = true) throws {
            try store.accounts.setFlag("ann", field: "locked", to: locked, actor: "admin", now: Date())
        }

        func poll(after cursor: Int64, wait: String, types: String? = nil) -> String {
            "GET /v1/events?after=\(cursor)&wait=\(wait)\(types.map { "&types=" + $0 } ?? "") HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(school.token)\r\nConnection: close\r\n\r\n"
        }
    }

    /// The school with the feed on, served by a server with few workers.
    private func serve(threads: Int = 4, limits: HTTPServerLimits = HTTPServerLimits(), longPolls: LongPollLimit = LongPollLimit()) throws -> Served {
        var s = try APISchool.make()
        s.c.events.enabled = true
        let api = APIService(configuration: s.c, log: s.log, longPolls: longPolls)
        let store = try s.w.store()
        store.events.settings = s.c.events
        try store.accounts.setFlag("mom", field: "locked", to: true, actor: "admin", now: Date())  // the feed starts
        let socket = try ListenSocket.openTCP(host: "127.0.0.1", port: 0)
        guard case .ip(_, let port) = socket.bound else { throw XCTSkip("no port") }
        var l = limits
        l.threads = threads
        let seen = ExchangeLog()
        let server = HTTPServer(sockets: [socket], limits: l, handler: api) { seen.add($0) }
        try server.start()
        servers.append(server)
        return Served(school: s, api: api, server: server, port: port, seen: seen, store: store)
    }

    private func waitUntil(_ timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }

    private func answer(_ c: RawHTTPConnection, timeout: Double) -> (status: Int, head: String, body: String, closed: Bool) {
        let r = c.receive(timeout: timeout)
        return RawHTTPConnection.parse(r.text, closed: r.closed)
    }

    private func events(_ body: String) -> [String]? {
        let o = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        return (o?["events"] as? [[String: Any]])?.compactMap { $0["type"] as? String }
    }

    func testSixtyParkedPollsHoldNoneOfFourWorkersAndAllAnswerAtTheCommit() throws {
        let s = try serve(threads: 4)
        let head = try s.store.events.head()
        let clients = try (0..<60).map { _ in try RawHTTPConnection(port: s.port) }
        for c in clients { XCTAssertTrue(c.send(s.poll(after: head, wait: "30s"))) }
        XCTAssertTrue(waitUntil { s.api.longPolls.count == 60 && s.server.parkedRequests == 60 },
                      "parked: \(s.api.longPolls.count) in the service, \(s.server.parkedRequests) in the server")
        // Sixty waits on four workers: the workers still answer everything else at once.
        for _ in 0..<8 {
            let started = Date()
            let health = try RawHTTPConnection.exchange(port: s.port, "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout: 5)
            XCTAssertEqual(health.status, 200)
            XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        }
        let committed = Date()
        try s.commitAnEvent()
        for c in clients {
            let r = answer(c, timeout: 15)
            XCTAssertEqual(r.status, 200, r.head)
            XCTAssertEqual(events(r.body), ["user.locked"])
        }
        XCTAssertLessThan(Date().timeIntervalSince(committed), 15, "answered at the commit, not at the end of the wait")
        XCTAssertTrue(waitUntil { s.api.longPolls.count == 0 && s.server.parkedRequests == 0 })
    }

    func testAPollThatSeesNothingAnswersAnEmptyPageAtItsWaitEvenPastTheConnectionTimeout() throws {
        var limits = HTTPServerLimits()
        limits.requestTimeout = 1  // libmicrohttpd's inactivity timeout too
        let s = try serve(limits: limits)
        let head = try s.store.events.head()
        let c = try RawHTTPConnection(port: s.port)
        let started = Date()
        c.send(s.poll(after: head, wait: "2s"))
        let r = answer(c, timeout: 10)
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(r.status, 200, r.head)
        XCTAssertEqual(events(r.body), [])
        XCTAssertTrue(r.body.contains("\"next\":\(head)"), r.body)
        XCTAssertGreaterThanOrEqual(took, 1.9)
        XCTAssertLessThan(took, 6)
        // A type the commit does not have keeps the poll parked past the commit.
        let other = try RawHTTPConnection(port: s.port)
        other.send(s.poll(after: head, wait: "2s", types: "pairing.*"))
        XCTAssertTrue(waitUntil { s.server.parkedRequests == 1 })
        try s.commitAnEvent()
        let filtered = answer(other, timeout: 10)
        XCTAssertEqual(filtered.status, 200, filtered.head)
        XCTAssertEqual(events(filtered.body), [])
        XCTAssertTrue(filtered.body.contains("\"next\":\(try s.store.events.head())"), "the cursor moved past what the filter skipped: \(filtered.body)")
    }

    func testAClientThatLeavesWhileParkedFreesItsSlot() throws {
        let s = try serve()
        let head = try s.store.events.head()
        var c: RawHTTPConnection? = try RawHTTPConnection(port: s.port)
        c!.send(s.poll(after: head, wait: "60s"))
        XCTAssertTrue(waitUntil { s.api.longPolls.count == 1 && s.server.parkedRequests == 1 })
        c = nil  // closes the socket
        XCTAssertTrue(waitUntil(5) { s.api.longPolls.count == 0 && s.server.parkedRequests == 0 },
                      "parked: \(s.api.longPolls.count) in the service, \(s.server.parkedRequests) in the server")
        XCTAssertTrue(s.seen.waitFor { $0.status == 499 && $0.target.hasPrefix("/v1/events") }, "logged as abandoned")
        XCTAssertTrue(waitUntil { s.server.openConnections == 0 }, "the connection is closed")
        // The server goes on answering.
        let c2 = try RawHTTPConnection(port: s.port)
        c2.send(s.poll(after: head, wait: "10s"))
        XCTAssertTrue(waitUntil { s.server.parkedRequests == 1 })
        try s.commitAnEvent()
        XCTAssertEqual(answer(c2, timeout: 10).status, 200)
    }

    func testPastTheLimitOfParkedPollsA503WithRetryAfter() throws {
        let s = try serve(longPolls: LongPollLimit(slots: 2))
        let head = try s.store.events.head()
        let parked = try (0..<2).map { _ in try RawHTTPConnection(port: s.port) }
        for c in parked { c.send(s.poll(after: head, wait: "30s")) }
        XCTAssertTrue(waitUntil { s.server.parkedRequests == 2 })
        let third = try RawHTTPConnection.exchange(port: s.port, s.poll(after: head, wait: "30s"), timeout: 5)
        XCTAssertEqual(third.status, 503, third.head)
        XCTAssertTrue(third.head.contains("Retry-After: 1"), third.head)
        XCTAssertTrue(third.body.contains("urn:sisync:problem:busy"), third.body)
        // Without a wait it is an ordinary read.
        let plain = try RawHTTPConnection.exchange(port: s.port, s.poll(after: head, wait: "0s"), timeout: 5)
        XCTAssertEqual(plain.status, 200, plain.head)
    }

    func testStoppingAnswersParkedPollsWithinTheGrace() throws {
        var limits = HTTPServerLimits()
        limits.stopGrace = 3
        let s = try serve(limits: limits)
        let head = try s.store.events.head()
        let clients = try (0..<5).map { _ in try RawHTTPConnection(port: s.port) }
        for c in clients { c.send(s.poll(after: head, wait: "60s")) }
        XCTAssertTrue(waitUntil { s.server.parkedRequests == 5 })
        let started = Date()
        s.server.stop()
        XCTAssertLessThan(Date().timeIntervalSince(started), limits.stopGrace + 1)
        for c in clients {
            let r = answer(c, timeout: 5)
            XCTAssertEqual(r.status, 200, r.head)
            XCTAssertEqual(events(r.body), [], "what there is at the stop")
        }
        XCTAssertTrue(waitUntil { s.api.longPolls.count == 0 })
    }
}
