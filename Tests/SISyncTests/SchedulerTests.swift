import Foundation
import XCTest
@testable import SISync

/// `Scheduler`, the one schedule of the single daemon and of each tenant (issue 29): its
/// state, the requests signals make, and what it tells the `<database>.daemon` file.
final class SchedulerTests: XCTestCase {
    /// starting → running → waiting for the run lock → running → idle (with the next run) →
    /// stopping, each told to the observer in order; after a stop nothing moves it back.
    func testTheStateMovesAsTheLoopSaysAndStaysStoppingOnceStopped() {
        let s = Scheduler()
        XCTAssertEqual(s.state, .starting)
        let seen = Seen()
        s.observe { state, next in seen.add(state, next) }
        let next = Date(timeIntervalSince1970: 2_000_000_000)
        s.enter(.running)
        s.enter(.waitingForRunLock)
        s.enter(.running)
        s.enter(.idle, next: next)
        XCTAssertEqual(s.nextRun, next)
        s.stop()
        XCTAssertTrue(s.isStopping)
        s.enter(.idle, next: next)   // a run that ends after SIGTERM
        XCTAssertEqual(s.state, .stopping, "a stopping schedule stays stopping")
        XCTAssertNil(s.nextRun, "no next run once stopping")
        XCTAssertEqual(seen.states, [.starting, .running, .waitingForRunLock, .running, .idle, .stopping])
        XCTAssertEqual(seen.nexts[4], next)
        s.observe(nil)
        s.enter(.idle)
        XCTAssertEqual(seen.states.count, 6, "no observer, nothing told")
    }

    /// SIGUSR1 three times during a run: one run after it, recorded as `signal`; a reload
    /// (SIGHUP) asks for a run recorded as `signal` too; a takeover's stays `schedule`.
    func testRequestsMakeOneRunAndASignalKeepsItsTrigger() {
        let s = Scheduler()
        s.enter(.running)
        for _ in 0..<3 { s.requestRun(.signal) }
        XCTAssertTrue(s.hasRunRequest)
        XCTAssertEqual(s.takeRunRequest(), .signal)
        XCTAssertNil(s.takeRunRequest(), "exactly one run for however many signals")

        s.requestReload()
        XCTAssertTrue(s.hasReloadRequest)
        XCTAssertTrue(s.takeReloadRequest())
        XCTAssertFalse(s.takeReloadRequest())
        XCTAssertEqual(s.takeRunRequest(), .signal, "a reload syncs, as the signal that asked for it")

        s.requestRun(.schedule)   // a standby's takeover
        XCTAssertEqual(s.takeRunRequest(), .schedule)
        s.requestReload(thenRun: false)   // sisyncd --tenants
        XCTAssertTrue(s.takeReloadRequest())
        XCTAssertNil(s.takeRunRequest(), "a reload of the tenants asks for no run")

        s.requestRun(.signal)
        s.requestReload()
        s.requestRun(.schedule)   // a standby's takeover
        XCTAssertEqual(s.takeRunRequest(), .signal, "the signal's run stays `signal`")
    }

    /// A wait ends at once when a request or a stop comes, not at its deadline.
    func testAWaitEndsOnARequestAndOnAStop() {
        let s = Scheduler()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { s.requestRun(.signal) }
        var started = Date()
        s.wait(until: .now() + 20)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertTrue(s.hasRunRequest)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { s.stop() }
        started = Date()
        s.wait(until: .now() + 20)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertTrue(s.isStopping)
    }

    /// What the scheduler tells the file is what `sisyncctl status` reads back: the state and
    /// the next run, for this process; emptied as the daemon stops.
    func testTheDaemonFileCarriesTheState() throws {
        let w = Workspace(sqlite: true)
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let file = try DaemonSchedule(databasePath: w.sqlitePath)
        XCTAssertEqual(DaemonSchedule.read(databasePath: w.sqlitePath)?.state, .starting)
        let s = Scheduler()
        s.observe { state, next in file.write(state: state, next: next) }
        s.enter(.waitingForRunLock)
        XCTAssertEqual(DaemonSchedule.read(databasePath: w.sqlitePath)?.state, .waitingForRunLock)
        let next = Date(timeIntervalSince1970: 2_000_000_000)
        s.enter(.idle, next: next)
        let entry = try XCTUnwrap(DaemonSchedule.read(databasePath: w.sqlitePath))
        XCTAssertEqual(entry.pid, getpid())
        XCTAssertEqual(entry.state, .idle)
        XCTAssertEqual(entry.next, next)
        XCTAssertEqual(DaemonSchedule.parse("pid 1\nstate waiting_for_run_lock\n")?.state, .waitingForRunLock)
        XCTAssertNil(DaemonSchedule.parse("pid 1\nnext 2026-01-02T04:04:05Z\n")?.state, "a file an older sisyncd wrote")
        file.clear()
        XCTAssertNil(DaemonSchedule.read(databasePath: w.sqlitePath))
    }
}

private final class Seen: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(DaemonState, Date?)] = []
    func add(_ state: DaemonState, _ next: Date?) { lock.withLock { list.append((state, next)) } }
    var states: [DaemonState] { lock.withLock { list.map(\.0) } }
    var nexts: [Date?] { lock.withLock { list.map(\.1) } }
}
