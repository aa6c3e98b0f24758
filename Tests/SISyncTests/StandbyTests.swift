import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15's standby on PostgreSQL (`[sync] standby = true`): a second sisyncd waits while
/// another holds the schema and takes over when the holder's session ends; a sisyncd whose
/// lock session ends mid-run never commits (R9: never two writers). Real server, real
/// processes, real signals. These always run on PostgreSQL.
final class StandbyTests: XCTestCase {
    private let host = ProcessInfo.processInfo.hostName

    private func standbyWorkspace() throws -> Workspace {
        let w = Workspace(postgres: try TestPostgresServer.shared())
        w.configure(sync: "interval = 1h\nstandby = true\nstandby_poll = 1s")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        return w
    }

    /// Starts a 300k-row apply in `active` (SIGUSR1) and returns once its transaction has
    /// begun. The export it parsed is then put back to 101 staff, for the next run.
    private func startLargeApply(_ w: Workspace, _ active: RunningDaemon, run: Int) {
        w.write("staff.csv", largeStaffCSV())
        kill(active.pid, SIGUSR1)
        XCTAssertTrue(active.waitFor("run \(run): applying changes", timeout: 120), active.seen)
        w.write("staff.csv", staffCSV(manyStaff(101)))
    }

    /// Runs never overlap: each run finished before the next one started.
    private func assertRunsDoNotOverlap(_ w: Workspace, file: StaticString = #filePath, line: UInt = #line) throws {
        let runs = try w.store().auditTrail.runs(limit: 50).sorted { ($0.runID ?? 0) < ($1.runID ?? 0) }
        for (a, b) in zip(runs, runs.dropFirst()) {
            let finished = try XCTUnwrap(a.finishedAt, "run \(a.runID ?? 0) never finished", file: file, line: line)
            XCTAssertLessThanOrEqual(finished, b.startedAt, "run \(a.runID ?? 0) overlaps run \(b.runID ?? 0)", file: file, line: line)
        }
    }

    /// Two sisyncd with `standby = true`: exactly one runs, the other names it. SIGKILL
    /// the active one in the middle of an apply and the standby takes over and completes a
    /// run within `standby_poll` + 5 s; the killed run is rolled back and recorded as failed.
    func testAStandbyTakesOverWhenTheActiveSisyncdIsKilledMidApply() throws {
        let w = try standbyWorkspace()
        // Each host has its own metrics file.
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8)
        let standbyConfig = w.root + "/standby.conf", activeMetrics = w.root + "/active.prom", standbyMetrics = w.root + "/standby.prom"
        try text.replacingOccurrences(of: "[sync]\n", with: "[sync]\nmetrics_file = \(activeMetrics)\n").write(toFile: w.configPath, atomically: true, encoding: .utf8)
        try text.replacingOccurrences(of: "[sync]\n", with: "[sync]\nmetrics_file = \(standbyMetrics)\n").write(toFile: standbyConfig, atomically: true, encoding: .utf8)
        let active = try RunningDaemon(["--config", w.configPath])
        defer { if active.process.isRunning { kill(active.pid, SIGKILL) } }
        XCTAssertTrue(active.waitFor("run 1 applied"), active.seen)
        XCTAssertTrue(file(activeMetrics, comesToContain: "\nsisync_active 1\n"))
        let standby = try RunningDaemon(["--config", standbyConfig])
        defer { if standby.process.isRunning { standby.process.terminate() } }
        XCTAssertTrue(standby.waitFor("standby: sisync held by \(host) pid \(active.pid) since "), standby.seen)
        XCTAssertTrue(standby.process.isRunning, "a standby does not exit 75")
        XCTAssertFalse(standby.seen.contains("started ("), "the standby ran nothing: \(standby.seen)")
        XCTAssertTrue(file(standbyMetrics, comesToContain: "sisync_active 0\n"))

        startLargeApply(w, active, run: 2)
        kill(active.pid, SIGKILL)
        let killed = Date()
        XCTAssertEqual(active.exited.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(standby.waitFor("run 3 applied", timeout: 30), standby.seen)
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(killed), 1 + 5, "took over and completed a run within standby_poll + 5 s")
        XCTAssertTrue(standby.seen.contains("took over"), standby.seen)
        XCTAssertTrue(file(standbyMetrics, comesToContain: "\nsisync_active 1\n"), "the new active one says so")

        let store = try w.store()
        XCTAssertEqual(try store.mirror.recordCounts().first { $0.0 == .staff }?.total, 101, "R1: nothing of the killed run was applied")
        let interrupted = try XCTUnwrap(store.auditTrail.run(id: 2))
        XCTAssertEqual(interrupted.outcome, .failed)
        XCTAssertTrue(interrupted.error?.contains("interrupted") == true, interrupted.error ?? "")
        try assertRunsDoNotOverlap(w)
        // The new active one is named to a third sisyncd, which waits in its turn.
        let third = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(third.code, 75, "--once is never a standby: \(third.stderr)")
        XCTAssertTrue(third.stderr.contains("pid \(standby.pid)"), third.stderr)
    }

    /// R9: when the server ends the session that holds the daemon lock in the middle of a
    /// run (`pg_terminate_backend`), the run's own session is still there, but the run must
    /// not commit: it checks the lock inside its transaction. Nothing is applied; the daemon
    /// notices, goes back to standby, takes the free lock again and resumes.
    func testR9ARunWhoseLockSessionIsCutCommitsNothingAndTheDaemonResumes() throws {
        let w = try standbyWorkspace()
        let daemon = try RunningDaemon(["--config", w.configPath])
        defer { if daemon.process.isRunning { kill(daemon.pid, SIGKILL) } }
        XCTAssertTrue(daemon.waitFor("run 1 applied"), daemon.seen)
        startLargeApply(w, daemon, run: 2)

        let admin = try PostgresConnection(uri: TestPostgresServer.shared().uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
        let cut = try admin.execute("""
            SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1
            """, ["sisyncd/\(host)/\(daemon.pid)"])
        XCTAssertEqual(cut.rowCount, 1, "exactly the daemon lock's session is cut (the run lock's says what it runs)")

        XCTAssertTrue(daemon.waitFor("no longer holds the database's lock", timeout: 120), daemon.seen)
        XCTAssertTrue(daemon.waitFor("run 3 applied", timeout: 30), daemon.seen)
        XCTAssertTrue(daemon.process.isRunning)
        let store = try w.store()
        XCTAssertEqual(try store.mirror.recordCounts().first { $0.0 == .staff }?.total, 101, "R9: the run without its lock committed nothing")
        XCTAssertEqual(try store.auditTrail.run(id: 2)?.outcome, .failed)
        try assertRunsDoNotOverlap(w)
    }

    /// A standby says who is active, in local time: `STATUS=standby: sisync held by HOST pid PID since 08:15`.
    func testTheStandbyLineNamesTheHoldersHostPidAndSince() {
        let since = Date(timeIntervalSince1970: 8 * 3600 + 15 * 60)
        XCTAssertEqual(Scheduler.standbyLine(("sisyncd on db-a pid 812", since), timeZone: TimeZone(identifier: "UTC")!),
                       "standby: sisync held by db-a pid 812 since 08:15")
        XCTAssertEqual(Scheduler.standbyLine(("unknown", nil)), "standby: sisync held by unknown")
    }

    /// `standby = true` needs PostgreSQL's session locks: on SQLite it is a configuration error.
    func testStandbyOnSQLiteIsAConfigurationError() throws {
        let w = Workspace(sqlite: true)
        w.configure()
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8)
        try text.replacingOccurrences(of: "[sync]\n", with: "[sync]\nstandby = true\n").write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let r = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(r.code, 78, r.stderr)
        XCTAssertTrue(r.stderr.contains("standby") && r.stderr.contains("PostgreSQL"), r.stderr)
    }
}
