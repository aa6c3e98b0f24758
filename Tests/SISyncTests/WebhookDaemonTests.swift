import Foundation
import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// A receiver of webhooks on 127.0.0.1, owned by the test: it answers 200, or holds each
/// request from the `holdFrom`-th on open until `release()` (a slow receiver, one a kill
/// -9 or a stop cuts). Waits for requests on a condition, with a timeout.
final class HookReceiver: @unchecked Sendable {
    /// What the server's thread shares with the test (held strongly by the handler: the
    /// server's thread may outlive the receiver by a connection).
    private final class Counter: @unchecked Sendable {
        let changed = NSCondition()
        var count = 0
        var released = false
    }
    private let counter = Counter()
    private var server: TestHTTPServer!

    init(holdFrom: Int? = nil) throws {
        server = try TestHTTPServer { [counter] _ in
            counter.changed.lock()
            counter.count += 1
            let index = counter.count
            counter.changed.broadcast()
            let until = Date().addingTimeInterval(60)
            while let from = holdFrom, index >= from, !counter.released, counter.changed.wait(until: until) {}
            counter.changed.unlock()
            return TestHTTPServer.Response(status: 200, body: Array("ok".utf8))
        }
    }

    deinit { release() }

    var url: String { server.baseURL + "/hook" }
    var requests: [TestHTTPServer.Request] { server.requests }
    var ids: [Int64] { requests.compactMap { $0.headers["webhook-id"].flatMap { Int64($0) } } }

    /// Whether `n` requests have come (the last one may still be held) within `timeout`.
    func waitForRequests(_ n: Int, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        counter.changed.lock()
        defer { counter.changed.unlock() }
        while counter.count < n { if !counter.changed.wait(until: deadline) { break } }
        return counter.count >= n
    }

    func release() { counter.changed.withLock { counter.released = true; counter.changed.broadcast() } }
}

/// What the daemon's webhook tests share: a workspace with pending events, a receiver's
/// checks. Used by `WebhookDaemonTests` and `WebhookStandbyTests`.
enum DaemonHooks {
    static let secret = WebhookTests.vectorSecret
    static let newSecret = "whsec_" + Data((0..<32).map { UInt8($0 + 7) }).base64EncodedString()

    /// A workspace posting `[webhook.app]` to `url`, whose first run (two staff) is applied in
    /// this process, with the endpoint's cursor set before it: its events are pending.
    static func pendingWorkspace(url: String, sync: String = "interval = 1h", extra: String = "", into w: Workspace = Workspace()) throws -> (Workspace, [FeedEvent]) {
        w.configure(sync: sync)
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        try (Self.secret + "\n").write(toFile: w.root + "/whsec", atomically: true, encoding: .utf8)
        try setWebhook(w, url: url, extra: extra)
        let c = try Configuration.load(path: w.configPath)
        w.write("staff.csv", staffCSV(staff(w)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let store = try w.store()
        _ = try store.webhooks.start("app", head: 0)
        let events = try store.events.events(after: 0, limit: 1000).events
        XCTAssertFalse(events.isEmpty)
        return (w, events)
    }

    /// A tag of the workspace's own in its staff's emails: whose events a body holds.
    static func tag(_ w: Workspace) -> String { w.schema.replacingOccurrences(of: "_", with: "") }

    static func staff(_ w: Workspace) -> [(String, String, String, String)] {
        [("S1", "Ana", "Lima", "ana@\(tag(w)).org"), ("S2", "Ben", "Okafor", "ben@\(tag(w)).org")]
    }

    /// Replaces the `[webhook.app]` section (the configuration file's last) with one to `url`.
    static func setWebhook(_ w: Workspace, url: String, extra: String = "") throws {
        var text = try String(contentsOfFile: w.configPath, encoding: .utf8)
        if let start = text.range(of: "\n[webhook.app]\n") { text = String(text[..<start.lowerBound]) }
        text += "\n[webhook.app]\nurl = \(url)\nsecret_file = \(w.root)/whsec\n" + extra
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
    }

    /// Waits (bounded) until the endpoint has acknowledged everything up to the feed's head.
    static func caughtUp(_ w: Workspace, timeout: TimeInterval = 30) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        let store = try w.store()
        repeat {
            if let state = try store.webhooks.state("app"), state.deliveredThrough == (try store.events.head()), state.deliveredThrough > 0 { return true }
            usleep(50_000)
        } while Date() < deadline
        return false
    }

    /// Each request carries the event's id, its body as the feed gives it, and a Standard
    /// Webhooks signature over `id.timestamp.body` with one of `secrets`' keys.
    static func assertSigned(_ requests: [TestHTTPServer.Request], _ events: [FeedEvent], secrets: [String] = [secret], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(requests.count, events.count, file: file, line: line)
        for (r, e) in zip(requests, events) {
            XCTAssertEqual(r.headers["webhook-id"], String(e.id), file: file, line: line)
            XCTAssertEqual(r.body, Array(e.json.utf8), "the body is the event as the feed gives it", file: file, line: line)
            let timestamp = try XCTUnwrap(Int64(r.headers["webhook-timestamp"] ?? ""), file: file, line: line)
            let sent = (r.headers["webhook-signature"] ?? "").split(separator: " ").map(String.init)
            XCTAssertEqual(sent.count, secrets.count, "one signature per secret line", file: file, line: line)
            for secret in secrets {
                let key = Array(Data(base64Encoded: String(secret.dropFirst("whsec_".count)))!)
                let mac = WebhookSignature.hmacSHA256(key: key, message: Array("\(e.id).\(timestamp).".utf8) + r.body)
                XCTAssertTrue(sent.contains("v1," + Data(mac).base64EncodedString()), "signed with \(secret.prefix(10))…", file: file, line: line)
            }
        }
    }
}

/// Webhooks delivered by the daemon itself (issue 31, "Push"; docs/events.md, "Delivery in
/// the daemon"): real sisyncd child processes, a real receiver over 127.0.0.1, on both
/// stores (POSTGRES_TESTS). The standby case is `WebhookStandbyTests`.
final class WebhookDaemonTests: XCTestCase {
    private typealias H = DaemonHooks

    func testTheDaemonDeliversARunsEventsSignedAndReportsThemInTheMetricsFile() throws {
        let receiver = try HookReceiver()
        let metrics = NSTemporaryDirectory() + "sisync-hooks-\(UUID().uuidString).prom"
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let (w, events) = try H.pendingWorkspace(url: receiver.url, sync: "interval = 1h\nmetrics_file = \(metrics)")
        let daemon = try RunningDaemon(["--config", w.configPath])
        defer { if daemon.process.isRunning { kill(daemon.pid, SIGKILL) } }
        XCTAssertTrue(receiver.waitForRequests(events.count), daemon.seen)
        XCTAssertTrue(daemon.waitFor("run 2 unchanged"), daemon.seen)
        XCTAssertTrue(try H.caughtUp(w), daemon.seen)
        try H.assertSigned(Array(receiver.requests.prefix(events.count)), events)
        XCTAssertTrue(daemon.seen.contains("delivering webhooks to app"), daemon.seen)

        // The run's lines and the deliverer's share the file; neither erases the other's.
        let head = try w.store().events.head()
        XCTAssertTrue(file(metrics, comesToContain: "sisync_webhook_delivered_event_id{endpoint=\"app\"} \(head)\n", timeout: 20), (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "no file")
        XCTAssertTrue(file(metrics, comesToContain: "sisync_last_run_id 2\n"))
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        for line in ["sisync_webhook_lag_events{endpoint=\"app\"} 0", "sisync_webhook_lag_seconds{endpoint=\"app\"} 0", "sisync_webhook_failures{endpoint=\"app\"} 0",
                     "sisync_webhook_paused{endpoint=\"app\"} 0", "sisync_webhook_max_lag_seconds{endpoint=\"app\"} 900"] {
            XCTAssertTrue(text.contains(line + "\n"), "\(line) in\n\(text)")
        }
        kill(daemon.pid, SIGTERM)
        XCTAssertEqual(daemon.exited.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(daemon.process.terminationStatus, 0, daemon.seen)
    }

    /// kill -9 while the receiver holds the second request open: the restarted daemon loses
    /// nothing and sends again only that in-flight event, with the same webhook-id.
    func testKill9MidDeliveryLosesNothingAndSendsOnlyTheInFlightEventAgain() throws {
        let receiver = try HookReceiver(holdFrom: 2)
        defer { receiver.release() }
        let (w, events) = try H.pendingWorkspace(url: receiver.url)
        XCTAssertGreaterThanOrEqual(events.count, 3)
        let first = try RunningDaemon(["--config", w.configPath])
        defer { if first.process.isRunning { kill(first.pid, SIGKILL) } }
        XCTAssertTrue(receiver.waitForRequests(2), first.seen)
        kill(first.pid, SIGKILL)
        XCTAssertEqual(first.exited.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(try w.store().webhooks.state("app")?.deliveredThrough, events[0].id, "the held event was never acknowledged")
        receiver.release()

        let second = try RunningDaemon(["--config", w.configPath])
        defer { if second.process.isRunning { kill(second.pid, SIGKILL) } }
        XCTAssertTrue(second.waitFor(" unchanged"), second.seen)
        XCTAssertTrue(try H.caughtUp(w), second.seen)
        let ids = receiver.ids
        let expected = events.map(\.id)
        XCTAssertEqual(Array(ids.prefix(expected.count + 1)), [expected[0], expected[1]] + expected.dropFirst(),
                       "in order, the in-flight event once more with its webhook-id, nothing lost")
        let later = try w.store().events.events(after: expected.last!, limit: 1000).events.map(\.id)
        XCTAssertEqual(Array(ids.dropFirst(expected.count + 1)), later, "the restarted daemon's own events, once each")
        XCTAssertEqual(Set(ids).count, ids.count - 1, "exactly one id was sent twice")
    }

    /// SIGTERM while a request is held open: the request is cut and the daemon exits within
    /// the group's stop budget (not after the request's 10 s timeout); the event stays pending.
    func testSIGTERMCutsARequestInFlightAndStopsWithinTheBudget() throws {
        let receiver = try HookReceiver(holdFrom: 1)
        defer { receiver.release() }
        let (w, events) = try H.pendingWorkspace(url: receiver.url)
        let daemon = try RunningDaemon(["--config", w.configPath])
        defer { if daemon.process.isRunning { kill(daemon.pid, SIGKILL) } }
        XCTAssertTrue(receiver.waitForRequests(1), daemon.seen)
        XCTAssertTrue(daemon.waitFor("run 2 unchanged"), daemon.seen)
        let asked = Date()
        kill(daemon.pid, SIGTERM)
        XCTAssertEqual(daemon.exited.wait(timeout: .now() + 10), .success)
        XCTAssertLessThan(Date().timeIntervalSince(asked), 3.5, "well inside ServiceGroup's 5 s budget (4.5 s, then it gives up on what has not stopped)")
        XCTAssertEqual(daemon.process.terminationStatus, 0, daemon.seen)
        XCTAssertFalse(daemon.seen.contains("did not stop within"), daemon.seen)
        XCTAssertFalse(daemon.seen.contains("not delivered"), "a cut request is not the receiver's failure: \(daemon.seen)")
        let state = try XCTUnwrap(try w.store().webhooks.state("app"))
        XCTAssertEqual(state.deliveredThrough, 0)
        XCTAssertEqual(state.failures, 0)
        XCTAssertEqual(events.first?.id, 1)
    }

    /// SIGHUP with a changed url and a second secret line: what is written after the reload
    /// reaches the new receiver, signed with both secrets; the old one gets nothing more.
    func testAReloadSendsToTheNewURLWithTheRotatedSecret() throws {
        let old = try HookReceiver(), new = try HookReceiver()
        let (w, events) = try H.pendingWorkspace(url: old.url)
        let daemon = try RunningDaemon(["--config", w.configPath])
        defer { if daemon.process.isRunning { kill(daemon.pid, SIGKILL) } }
        XCTAssertTrue(daemon.waitFor("run 2 unchanged"), daemon.seen)
        XCTAssertTrue(try H.caughtUp(w), daemon.seen)
        let before = old.requests.count
        XCTAssertGreaterThanOrEqual(before, events.count)
        let head = try w.store().events.head()

        try H.setWebhook(w, url: new.url)
        try (H.secret + "\n" + H.newSecret + "\n").write(toFile: w.root + "/whsec", atomically: true, encoding: .utf8)
        w.write("staff.csv", staffCSV(H.staff(w) + [("S3", "Cy", "Dube", "cy@\(H.tag(w)).org")], status: ["S2": "inactive"]))
        kill(daemon.pid, SIGHUP)
        XCTAssertTrue(daemon.waitFor("run 3 applied", timeout: 30), daemon.seen)
        XCTAssertTrue(try H.caughtUp(w), daemon.seen)
        let after = try w.store().events.events(after: head, limit: 1000).events
        XCTAssertTrue(after.contains { $0.type == "staff.added" } && after.contains { $0.type == "staff.deactivated" }, "\(after.map(\.type))")
        try H.assertSigned(new.requests, after, secrets: [H.secret, H.newSecret])
        XCTAssertEqual(old.requests.count, before, "nothing more to the old url")
    }

    /// `sisyncd --once` delivers what is pending after its run, then exits; a receiver that
    /// holds the request open does not keep it past `[events] once_deliver`.
    func testOnceDeliversWhatIsPendingThenExitsBoundedByOnceDeliver() throws {
        let receiver = try HookReceiver()
        let (w, events) = try H.pendingWorkspace(url: receiver.url)
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 0, once.stderr)
        XCTAssertTrue(try H.caughtUp(w, timeout: 0), "caught up before the exit: \(once.stderr)")
        try H.assertSigned(Array(receiver.requests.prefix(events.count)), events)

        let slow = try HookReceiver(holdFrom: 1)
        defer { slow.release() }
        let (v, _) = try H.pendingWorkspace(url: slow.url, extra: "", into: Workspace())
        var text = try String(contentsOfFile: v.configPath, encoding: .utf8)
        text += "[events]\nonce_deliver = 1s\n"
        try text.write(toFile: v.configPath, atomically: true, encoding: .utf8)
        let started = Date()
        let bounded = try runProcess("sisyncd", ["--config", v.configPath, "--once"], timeout: 30)
        XCTAssertEqual(bounded.code, 0, bounded.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "the run and once_deliver (1 s), not the request's 10 s timeout")
        XCTAssertEqual(slow.requests.count, 1)
        XCTAssertEqual(try v.store().webhooks.state("app")?.deliveredThrough, 0, "the held event stays pending for the next run")
    }

    /// `sisyncd --tenants`: each tenant delivers its own endpoint from its own store; no
    /// tenant's event reaches the other's receiver.
    func testEachTenantDeliversOnlyItsOwnEventsToItsOwnEndpoint() throws {
        let root = NSTemporaryDirectory() + "sisync-hook-tenants-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/tenants.d", withIntermediateDirectories: true)
        var tenants: [(name: String, w: Workspace, events: [FeedEvent], receiver: HookReceiver)] = []
        for name in ["east", "west"] {
            let receiver = try HookReceiver()
            let (w, events) = try H.pendingWorkspace(url: receiver.url, sync: "interval = 1h\nstandby_poll = 1s")
            try FileManager.default.copyItem(atPath: w.configPath, toPath: root + "/tenants.d/\(name).conf")
            tenants.append((name, w, events, receiver))
        }
        let metrics = root + "/tenants.prom"
        let daemon = try RunningDaemon(["--tenants", root + "/tenants.d", "--metrics-file", metrics])
        defer { if daemon.process.isRunning { kill(daemon.pid, SIGKILL) } }
        for t in tenants {
            XCTAssertTrue(t.receiver.waitForRequests(t.events.count), daemon.seen)
            XCTAssertTrue(daemon.waitFor("tenant \(t.name)") , daemon.seen)
        }
        // Each tenant's first run here (unchanged: no event) is over before "caught up" counts.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !(try tenants.allSatisfy { try $0.w.store().auditTrail.runs(limit: 1).first?.runID == 2 && $0.w.store().auditTrail.runs(limit: 1).first?.outcome == .unchanged }) {
            usleep(50_000)
        }
        for t in tenants { XCTAssertTrue(try H.caughtUp(t.w), daemon.seen) }
        for t in tenants {
            let all = try t.w.store().events.events(after: 0, limit: 1000).events
            try H.assertSigned(t.receiver.requests, all)
            let other = H.tag(tenants.first { $0.name != t.name }!.w)
            XCTAssertFalse(t.receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains(other) }, "no event of the other tenant")
            XCTAssertTrue(t.receiver.requests.contains { String(decoding: $0.body, as: UTF8.self).contains(H.tag(t.w)) }, "its own events")
        }
        XCTAssertNotEqual(tenants[0].w.schema, tenants[1].w.schema)
        for t in tenants {
            XCTAssertTrue(daemon.seen.contains("delivering webhooks to app (tenant=\(t.name))"), "SISYNC_TENANT names it: \(daemon.seen)")
            // Each tenant's endpoint in the one metrics file, labelled with its tenant.
            let head = try t.w.store().events.head()
            XCTAssertTrue(file(metrics, comesToContain: "sisync_webhook_delivered_event_id{tenant=\"\(t.name)\",endpoint=\"app\"} \(head)\n", timeout: 20),
                          (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "no file")
        }
        kill(daemon.pid, SIGTERM)
        XCTAssertEqual(daemon.exited.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(daemon.process.terminationStatus, 0, daemon.seen)
    }

    /// A paused endpoint is behind the head for good: the deliverer waits for a new event
    /// (or a second) between passes instead of passing again at once, for ever.
    func testAnIdleDelivererWaitsInsteadOfSpinningOnAPausedEndpoint() throws {
        let receiver = try HookReceiver()
        let (w, _) = try H.pendingWorkspace(url: receiver.url)
        let store = try w.store()
        try store.webhooks.pause("app", at: Timestamp.format(Date()))
        nonisolated(unsafe) let deliverer = WebhookDeliverer(configuration: try Configuration.load(path: w.configPath), log: MemoryLog())
        nonisolated(unsafe) let running = store
        let stop = StopSignal()
        let ended = DispatchSemaphore(value: 0)
        Thread.detachNewThread { deliverer.run(store: running, until: stop); ended.signal() }
        // Nothing to await: what is checked is that nothing happens meanwhile.
        Thread.sleep(forTimeInterval: 2)
        stop.stop()
        XCTAssertEqual(ended.wait(timeout: .now() + 5), .success)
        XCTAssertLessThanOrEqual(deliverer.passes, 4, "about one pass a second, not a busy loop")
        XCTAssertEqual(receiver.requests.count, 0)
    }

    /// The run's lines and the deliverer's share `metrics_file`: each write replaces only its own.
    func testTheRunAndTheDelivererEachReplaceOnlyTheirOwnLinesOfTheMetricsFile() throws {
        let path = NSTemporaryDirectory() + "sisync-parts-\(UUID().uuidString).prom"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let hooks = WebhookEndpointMetrics.text([WebhookEndpointMetrics(endpoint: "app", deliveredThrough: 7, lagEvents: 3, lagSeconds: 42, failures: 2, paused: true, maxLagSeconds: 900)])
        XCTAssertTrue(hooks.contains("# TYPE sisync_webhook_paused gauge\nsisync_webhook_paused{endpoint=\"app\"} 1\n"), hooks)
        XCTAssertTrue(hooks.contains("sisync_webhook_lag_seconds{endpoint=\"app\"} 42\n"), hooks)
        XCTAssertEqual(WebhookEndpointMetrics.text([]), "")
        try MetricsFileParts.write(.runs, "# HELP sisync_last_run_id x\n# TYPE sisync_last_run_id gauge\nsisync_last_run_id 1\n", to: path)
        try MetricsFileParts.write(.webhooks, hooks, to: path)
        try MetricsFileParts.write(.runs, MetricsFile.standbyText(), to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), MetricsFile.standbyText() + hooks)
        try MetricsFileParts.write(.webhooks, "", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), MetricsFile.standbyText())
    }
}
