import Foundation
import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// Only the active sisyncd delivers webhooks (issue 31; docs/events.md, "Delivery in the
/// daemon"): a standby on the same PostgreSQL schema (`[sync] standby = true`) sends
/// nothing while the active one lives, and starts when it takes over. Real server, real
/// processes, as `StandbyTests`. These always run on PostgreSQL.
final class WebhookStandbyTests: XCTestCase {
    private let host = ProcessInfo.processInfo.hostName

    func testOnlyTheActiveSisyncdDeliversAndTheStandbyStartsWhenItTakesOver() throws {
        typealias hooks = DaemonHooks
        let active = try HookReceiver(), standby = try HookReceiver()
        let w = Workspace(postgres: try TestPostgresServer.shared())
        let (_, events) = try hooks.pendingWorkspace(url: active.url, sync: "interval = 1h\nstandby = true\nstandby_poll = 1s", into: w)
        // The standby's configuration differs only in its receiver: what each one sends is told apart.
        let standbyConfig = w.root + "/standby.conf"
        try String(contentsOfFile: w.configPath, encoding: .utf8).replacingOccurrences(of: active.url, with: standby.url)
            .write(toFile: standbyConfig, atomically: true, encoding: .utf8)

        let first = try RunningDaemon(["--config", w.configPath])
        defer { if first.process.isRunning { kill(first.pid, SIGKILL) } }
        XCTAssertTrue(first.waitFor("run 2 unchanged"), first.seen)
        let second = try RunningDaemon(["--config", standbyConfig])
        defer { if second.process.isRunning { kill(second.pid, SIGKILL) } }
        XCTAssertTrue(second.waitFor("standby: sisync held by \(host) pid \(first.pid) since "), second.seen)
        XCTAssertTrue(try hooks.caughtUp(w), first.seen)
        // Its own run's events too, if it wrote any.
        try hooks.assertSigned(active.requests, try w.store().events.events(after: 0, limit: 1000).events)
        XCTAssertEqual(Array(active.ids.prefix(events.count)), events.map(\.id))

        // More events while both live: the active one sends them, the standby nothing.
        w.write("staff.csv", staffCSV(hooks.staff(w) + [("S3", "Cy", "Dube", "cy@\(hooks.tag(w)).org")]))
        kill(first.pid, SIGUSR1)
        XCTAssertTrue(first.waitFor("run 3 applied"), first.seen)
        XCTAssertTrue(try hooks.caughtUp(w), first.seen)
        XCTAssertGreaterThan(active.requests.count, events.count)
        XCTAssertEqual(standby.requests.count, 0, "a standby delivers nothing")
        XCTAssertFalse(second.seen.contains("delivering webhooks"), second.seen)

        // The active one dies; the standby takes over, runs, and delivers from where it stopped.
        let delivered = try XCTUnwrap(try w.store().webhooks.state("app")?.deliveredThrough)
        w.write("staff.csv", staffCSV(hooks.staff(w) + [("S3", "Cy", "Dube", "cy@\(hooks.tag(w)).org"), ("S4", "Di", "Eze", "di@\(hooks.tag(w)).org")]))
        kill(first.pid, SIGKILL)
        XCTAssertEqual(first.exited.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(second.waitFor("took over", timeout: 30), second.seen)
        XCTAssertTrue(second.waitFor("run 4 applied", timeout: 30), second.seen)
        XCTAssertTrue(try hooks.caughtUp(w), second.seen)
        let after = try w.store().events.events(after: delivered, limit: 1000).events
        XCTAssertTrue(after.contains { $0.type == "staff.added" }, "\(after.map(\.type))")
        try hooks.assertSigned(standby.requests, after)
    }
}
