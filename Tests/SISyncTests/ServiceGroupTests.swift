import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI

/// A service for the group's tests: runs until stopped (or, `stubborn`, for 20 s whatever
/// it is told), or fails with `failure` once `failAfter` has passed.
private final class TestService: Service, @unchecked Sendable {
    let name: String
    private let stopped = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var stopCalls = 0
    private var runReturned = false
    let failure: (any Error)?
    let failAfter: Double
    let stubborn: Bool

    init(_ name: String, failure: (any Error)? = nil, after: Double = 0.2, stubborn: Bool = false) {
        self.name = name
        self.failure = failure
        self.failAfter = after
        self.stubborn = stubborn
    }

    var wasStopped: Bool { lock.withLock { stopCalls > 0 } }
    var returned: Bool { lock.withLock { runReturned } }

    func run() throws {
        defer { lock.withLock { runReturned = true } }
        if let failure {
            Thread.sleep(forTimeInterval: failAfter)
            throw failure
        }
        if stubborn { Thread.sleep(forTimeInterval: 20); return }
        _ = stopped.wait(timeout: .now() + 30)
    }

    func stop() {
        lock.withLock { stopCalls += 1 }
        stopped.signal()
    }
}

/// `ServiceGroup`, the one owner of a process's services (issue 29): a failure stops the
/// others and is the exit code; a stop reaches all of them within the 5 s budget.
final class ServiceGroupTests: XCTestCase {
    private func group(_ services: [any Service], log: EventLog, notifier: ServiceNotifier? = nil) -> ServiceGroup {
        ServiceGroup(process: "sisyncd", services: services, log: log, notifier: notifier ?? ServiceNotifier(environment: [:], log: log))
    }

    /// A service that fails stops the others; the process exits with that failure's code
    /// (`ExitCode.of`: another sisyncd holds the store, 75) and one critical entry says which.
    func testAFailingServiceStopsTheOthersAndGivesItsExitCode() {
        let log = MemoryLog()
        let loop = TestService("the sync loop")
        let deliverer = TestService("the deliverer", failure: StoreError.locked(path: "/x/sisync.db", holder: "sisyncd pid 812"))
        let code = group([loop, deliverer], log: log).serve()
        XCTAssertEqual(code, 75)
        XCTAssertTrue(loop.wasStopped && loop.returned, "the healthy service was stopped and returned")
        let critical = log.events.filter { $0.priority == .critical }
        XCTAssertEqual(critical.count, 1, "\(log.events.map(\.message))")
        XCTAssertTrue(critical.first?.message.hasPrefix("sisyncd: the deliverer failed: ") ?? false, critical.first?.message ?? "")
        XCTAssertTrue(critical.first?.message.contains("sisyncd pid 812") ?? false)
        XCTAssertTrue(critical.first?.message.contains("stopping the other services; exit 75") ?? false, critical.first?.message ?? "")
    }

    /// A configuration error is 78, which systemd does not restart: the entry says so.
    func testAFailureByConfigurationSaysSystemdWaitsForTheFix() {
        let log = MemoryLog()
        let code = group([TestService("the tenants' supervisor", failure: ConfigError.unreadable(path: "/etc/sisync/tenants.d", reason: "gone"))], log: log).serve()
        XCTAssertEqual(code, 78)
        XCTAssertTrue(log.events.contains { $0.priority == .critical && $0.message.contains("exit 78, systemd does not restart it until the configuration is fixed") },
                      "\(log.events.map(\.message))")
    }

    /// SIGTERM (the group's `stop`, as the signal queue calls it) reaches every service and
    /// sends STOPPING=1; one that does not return is left behind once the budget is spent,
    /// so the process still ends within 5 s, with 0 and a warning naming it.
    func testAStopReachesEveryServiceAndEndsWithinFiveSeconds() throws {
        let log = MemoryLog()
        let notify = try TestDatagramServer()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": notify.path], log: log)
        let loop = TestService("the sync loop")
        let stuck = TestService("the deliverer", stubborn: true)
        let g = group([loop, stuck], log: log, notifier: notifier)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var code: Int32 = -1
        Thread.detachNewThread {
            code = g.serve()
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.2)
        let sent = Date()
        g.stop()
        g.stop()   // a second SIGTERM changes nothing
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "stopped within the budget")
        XCTAssertEqual(code, 0)
        XCTAssertTrue(loop.wasStopped && loop.returned)
        XCTAssertTrue(stuck.wasStopped, "asked, though it did not listen")
        var seen: [String] = []
        XCTAssertTrue(notify.waitFor("STOPPING=1", timeout: 2, into: &seen), "\(seen)")
        XCTAssertTrue(log.events.contains { $0.priority == .warning && $0.message == "sisyncd: the deliverer did not stop within 4.5 s; ending without it" },
                      "\(log.events.map(\.message))")
        XCTAssertFalse(log.events.contains { $0.priority == .critical }, "a stop is no failure")
    }

    /// A stop that comes before the services run (a SIGTERM at start) still stops them.
    func testAStopBeforeTheServicesRunStopsThem() {
        let log = MemoryLog()
        let loop = TestService("the sync loop")
        let g = group([loop], log: log)
        g.stop()
        let started = Date()
        XCTAssertEqual(g.serve(), 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(loop.returned)
    }

    /// A sisyncd whose sync loop cannot start (its database's folder cannot be made) exits
    /// with the failure's code, 73, and the group's critical entry names the loop.
    func testTheDaemonWhoseLoopCannotStartExitsWithItsCodeAndSaysWhy() throws {
        let w = Workspace(sqlite: true)
        let config = w.root + "/nodb.conf"
        w.write(config, "[sync]\ndatabase = /proc/sisync-cannot-exist/x.db\ninterval = 1h\n[source]\nurl = \(w.exportDir)/\nentities = staff\n")
        let r = try runProcess("sisyncd", ["--config", config], timeout: 30)
        XCTAssertEqual(r.code, 73, r.stderr)
        XCTAssertTrue(r.stderr.contains("sisyncd: the sync loop failed: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("; exit 73, for systemd to restart it"), r.stderr)
    }

    /// sisync-api's server is a service of the same group: one that cannot start (a TLS
    /// pair libmicrohttpd refuses) ends the process with 69 and the group's entry.
    func testSisyncAPIWhoseServerCannotStartExitsWith69AndSaysWhy() throws {
        let w = Workspace(sqlite: true)
        // A free port: the socket that found it is closed as it goes.
        let port: Int = try {
            guard case .ip(_, let p) = try ListenSocket.openTCP(host: "127.0.0.1", port: 0).bound else { return 0 }
            return p
        }()
        w.write(w.root + "/bad.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        let config = w.root + "/api.conf"
        w.write(config, "[sync]\ndatabase = \(w.sqlitePath)\n[source]\nurl = \(w.exportDir)/\n[api]\nlisten = 127.0.0.1:\(port)\ntls_certificate = \(w.root)/bad.pem\ntls_key = \(w.root)/bad.pem\n")
        let r = try runProcess("sisync-api", ["--config", config], timeout: 30)
        XCTAssertEqual(r.code, 69, r.stderr)
        XCTAssertTrue(r.stderr.contains("sisync-api: the HTTP server failed: libmicrohttpd could not start on 127.0.0.1:\(port)"), r.stderr)
    }
}
