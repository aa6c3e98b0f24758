import Foundation
import XCTest
@testable import SISync

/// Webhooks (issue 31, "Push"; docs/events.md): Standard Webhooks signing, delivery in order
/// with retries and backoff, pausing and resuming; on both stores (POSTGRES_TESTS).
final class WebhookTests: XCTestCase {
    static let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    /// The specification's published test vector (standard-webhooks, and svix's libraries'
    /// `testSignFunctionWorks`): what a receiver's library computes.
    func testTheSignatureIsTheStandardWebhooksTestVector() throws {
        let signature = try WebhookSignature(secretLines: [Self.vectorSecret])
        XCTAssertEqual(signature.header(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8)),
                       "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // Rotation: two lines sign twice, the old line's signature first as the file has it.
        let other = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let both = try WebhookSignature(secretLines: [Self.vectorSecret, "", other])
        let header = both.header(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8))
        XCTAssertEqual(header.split(separator: " ").count, 2)
        XCTAssertTrue(header.hasPrefix("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"))
        for (lines, problem) in [([], WebhookSecretProblem.empty), (["secret123"], .notWhsec), (["whsec_%%%"], .badBase64),
                                 ([Self.vectorSecret, other, other], .tooMany)] as [([String], WebhookSecretProblem)] {
            XCTAssertThrowsError(try WebhookSignature(secretLines: lines)) { XCTAssertEqual($0 as? WebhookSecretProblem, problem) }
        }
    }

    func testTheBackoffDoublesFromOneSecondUpToRetryMaxWithFullJitter() {
        let s = RetrySchedule(cap: 300)
        XCTAssertEqual((1...11).map { s.ceiling(after: $0) }, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300])
        XCTAssertEqual(s.wait(after: 3, share: 0.5), 2)
        XCTAssertEqual(s.wait(after: 3, share: 0), 0)
        XCTAssertEqual(s.ceiling(after: 10_000), 300, "no overflow")
    }

    /// A workspace whose configuration has `[webhook.app]` posting to `url` (plus `extra`).
    private func configure(_ w: Workspace, url: String, extra: String = "") throws -> Configuration {
        w.configure(sync: "school_year = 2026-2027")
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        try (Self.vectorSecret + "\n").write(toFile: w.root + "/whsec", atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8) + "\n[webhook.app]\nurl = \(url)\nsecret_file = \(w.root)/whsec\n" + extra
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        return try Configuration.load(path: w.configPath)
    }

    /// A receiver that answers each request with the next status of `statuses` (then 200).
    private final class Receiver: @unchecked Sendable {
        let lock = NSLock()
        var statuses: [Int]
        var server: TestHTTPServer!
        init(_ statuses: [Int]) throws {
            self.statuses = statuses
            server = try TestHTTPServer { [unowned self] _ in
                let status = self.lock.withLock { self.statuses.isEmpty ? 200 : self.statuses.removeFirst() }
                return TestHTTPServer.Response(status: status, headers: status == 302 ? ["Location": "http://127.0.0.1:9/elsewhere"] : [:], body: Array("nope".utf8))
            }
        }
        func answer(_ statuses: [Int]) { lock.withLock { self.statuses = statuses } }
    }

    private func deliverer(_ c: Configuration, _ log: MemoryLog) -> WebhookDeliverer {
        WebhookDeliverer(configuration: c, log: log, share: { 1 }, firstRetry: 0.01, timeout: 5)
    }

    func testEventsArePostedInOrderSignedAndRetriedUntilTheEndpointRecovers() throws {
        let w = Workspace()
        let receiver = try Receiver([500, 503])
        let c = try configure(w, url: receiver.server.baseURL + "/hook")
        XCTAssertTrue(c.events.isOn, "a [webhook.NAME] switches the feed on")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let store = try w.store()
        let log = MemoryLog()
        // First seen after the run: it starts at the head (nothing before is sent).
        deliverer(c, log).deliverPending(store: store, for: 5)
        XCTAssertEqual(receiver.server.requests.count, 0)
        XCTAssertEqual(try store.webhooks.state("app")?.deliveredThrough, try store.events.head())
        let start = try store.events.head()
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org")], status: ["S2": "inactive"]))
        XCTAssertEqual(w.sync(c, allow: true).summary.outcome, .applied)
        let expected = try store.events.events(after: start, limit: 100).events
        XCTAssertEqual(expected.map(\.type), ["user.added", "staff.deactivated", "link.created", "role.granted", "run.applied"])
        let started = Date()
        deliverer(c, log).deliverPending(store: store, for: 20)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "caught up: it returns")
        let requests = receiver.server.requests
        XCTAssertEqual(requests.map { $0.headers["webhook-id"] ?? "" }, ([expected[0].id, expected[0].id] + expected.map(\.id)).map { String($0) },
                       "the first event twice more after failures, with the same webhook-id; then in order")
        let signature = try WebhookSignature(secretLines: [Self.vectorSecret])
        for (r, e) in zip(requests.dropFirst(2), expected) {
            XCTAssertEqual(r.method, "POST")
            XCTAssertEqual(r.body, Array(e.json.utf8), "the body is the event as the feed gives it")
            XCTAssertEqual(r.headers["content-type"], "application/json")
            let timestamp = try XCTUnwrap(Int64(r.headers["webhook-timestamp"] ?? ""))
            XCTAssertLessThan(abs(Double(timestamp) - Date().timeIntervalSince1970), 60, "the time of the attempt")
            XCTAssertEqual(r.headers["webhook-signature"], signature.header(id: String(e.id), timestamp: timestamp, body: r.body))
        }
        let state = try XCTUnwrap(try store.webhooks.state("app"))
        XCTAssertEqual(state.deliveredThrough, expected.last?.id)
        XCTAssertEqual(state.failures, 0)
        XCTAssertNil(state.failingSince)
        XCTAssertEqual(log.events.filter { $0.type == .webhookFailed }.count, 2, "each failed attempt is a warning")
        XCTAssertTrue(log.events.contains { $0.message.contains("HTTP 500") })
    }

    func testAnEndpointFailingPastGiveUpAfterIsPausedUntilResumed() throws {
        let w = Workspace()
        let receiver = try Receiver(Array(repeating: 503, count: 100_000))
        let c = try configure(w, url: receiver.server.baseURL + "/hook", extra: "give_up_after = 1s\n")
        let store = try RosterStore(location: w.location)
        let log = MemoryLog()
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        deliverer(c, log).deliverPending(store: store, for: 1)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let head = try store.events.head()
        deliverer(c, log).deliverPending(store: store, for: 20)
        let paused = try XCTUnwrap(try store.webhooks.state("app"))
        XCTAssertNotNil(paused.pausedAt, "paused, never dropped silently")
        XCTAssertEqual(paused.deliveredThrough, 0)
        XCTAssertEqual(paused.lastError, "HTTP 503: nope")
        let critical = try XCTUnwrap(log.events.first { $0.type == .webhookPaused })
        XCTAssertEqual(critical.priority, .critical)
        XCTAssertTrue(critical.message.contains("sisyncctl webhook resume app"))
        // Paused: nothing is sent.
        let sent = receiver.server.requests.count
        deliverer(c, log).deliverPending(store: store, for: 1)
        XCTAssertEqual(receiver.server.requests.count, sent)
        let listed = w.ctl(["--json", "webhook", "list"])
        XCTAssertEqual(listed.code, 0, listed.err)
        let row = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(listed.out.utf8)) as? [[String: Any]])?.first)
        XCTAssertNotNil(row["paused_at"] as? String)
        XCTAssertEqual((row["behind"] as? NSNumber)?.int64Value, head)
        // The receiver recovers; an administrator resumes it.
        receiver.answer([])
        XCTAssertEqual(w.ctl(["webhook", "resume", "app"]).code, 0)
        XCTAssertNil(try store.webhooks.state("app")?.pausedAt)
        deliverer(c, log).deliverPending(store: store, for: 20)
        XCTAssertEqual(try store.webhooks.state("app")?.deliveredThrough, head)
        XCTAssertEqual(receiver.server.requests.suffix(Int(head)).map { $0.headers["webhook-id"] ?? "" }, (1...head).map { String($0) })
        // --from replays; an unknown endpoint is refused.
        XCTAssertEqual(w.ctl(["webhook", "resume", "app", "--from", "2"]).code, 0)
        XCTAssertEqual(try store.webhooks.state("app")?.deliveredThrough, 1)
        XCTAssertEqual(w.ctl(["webhook", "resume", "nobody"]).code, 1)
    }

    /// `webhook list` shows the lag the metrics file measures (`WebhookEndpointMetrics.measure`,
    /// one function for both), and no lag (`-`, null) when no event of its `types` waits,
    /// even while it is ids behind the head: the metrics file says 0 for both.
    func testWebhookListShowsTheMeasuredLagAndNoneWhenNothingOfItsTypesWaits() throws {
        let w = Workspace()
        let receiver = try Receiver([])
        let c = try configure(w, url: receiver.server.baseURL + "/hook", extra: "types = staff.*\n")
        let store = try RosterStore(location: w.location)
        let log = MemoryLog()
        deliverer(c, log).deliverPending(store: store, for: 1)
        func listed() throws -> [String: Any] {
            let r = w.ctl(["--json", "webhook", "list"])
            XCTAssertEqual(r.code, 0, r.err)
            return try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])?.first, r.out)
        }
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let waiting = try listed()
        let measured = try WebhookEndpointMetrics.measure(try XCTUnwrap(c.webhooks["app"]), store: store, head: try store.events.head(), now: Date())
        XCTAssertNotNil(measured.oldestPending)
        XCTAssertEqual((waiting["behind"] as? NSNumber)?.int64Value, measured.metrics.lagEvents)
        let lag = try XCTUnwrap((waiting["lag_seconds"] as? NSNumber)?.doubleValue, "\(waiting)")
        XCTAssertLessThanOrEqual(abs(lag - measured.metrics.lagSeconds), 1)

        deliverer(c, log).deliverPending(store: store, for: 20)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        let skipped = try listed()
        XCTAssertEqual((skipped["behind"] as? NSNumber)?.int64Value, 1, "user.added is after its cursor")
        XCTAssertTrue(skipped["lag_seconds"] is NSNull, "\(skipped)")
        let text = w.ctl(["webhook", "list"]).out
        let row = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("app ") }, text)
        XCTAssertEqual(row.split(separator: " ", omittingEmptySubsequences: true)[4], "-", text)
    }

    func testARedirectIsAFailureAndTypesFilterWhatAnEndpointGets() throws {
        let w = Workspace()
        let receiver = try Receiver([302])
        let c = try configure(w, url: receiver.server.baseURL + "/hook", extra: "types = staff.*\n")
        let store = try RosterStore(location: w.location)
        let log = MemoryLog()
        deliverer(c, log).deliverPending(store: store, for: 1)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        deliverer(c, log).deliverPending(store: store, for: 20)
        XCTAssertTrue(log.events.contains { $0.message.contains("HTTP 302: redirects are not followed") })
        XCTAssertEqual(receiver.server.requests.compactMap { $0.headers["webhook-id"] }, ["2", "2"], "staff.added only, after the failed redirect")
        XCTAssertEqual(try store.webhooks.state("app")?.deliveredThrough, try store.events.head(), "past what its types skip")
    }

    func testTheConfigurationChecksEachEndpoint() {
        func parse(_ text: String) throws -> Configuration {
            try Configuration.parse(text: "[sync]\ndatabase = /tmp/x.db\n[source]\nurl = /tmp/\n" + text, path: "/etc/sisync/sisync.conf")
        }
        XCTAssertThrowsError(try parse("[webhook.a]\nurl = http://example.org/hook\nsecret_file = s\n")) { XCTAssertTrue("\($0)".contains("https://"), "\($0)") }
        XCTAssertThrowsError(try parse("[webhook.a]\nurl = https://example.org/hook\n")) { XCTAssertTrue("\($0)".contains("secret_file"), "\($0)") }
        XCTAssertThrowsError(try parse("[webhook.a]\nurl = https://example.org/hook\nsecret_file = s\ntypes = staff.fired\n"))
        XCTAssertThrowsError(try parse("[webhook.a]\nurl = https://example.org/hook\nsecret_file = s\nsecret = whsec_x\n"), "an inline secret is an error (exit 78)") {
            XCTAssertEqual($0 as? ConfigError, .unknownKey(file: "/etc/sisync/sisync.conf", line: 8, section: "webhook.a", key: "secret"))
        }
        let ok = try? parse("[webhook.a]\nurl = http://127.0.0.1:8080/hook\nsecret_file = s\nmax_lag = 1m\n[webhook.b]\nurl = https://b.example.org/\nsecret_file = t\n")
        XCTAssertEqual(ok?.webhooks.keys.sorted(), ["a", "b"])
        XCTAssertEqual(ok?.webhooks["a"]?.maxLag.seconds, 60)
        XCTAssertEqual(ok?.events.isOn, true)
        XCTAssertEqual(try? parse("").events.isOn, false)
    }
}
