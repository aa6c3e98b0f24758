import XCTest
@testable import SISync

/// R9 (docs/rules.md): the daemon lock is held for
/// the daemon's life, the run lock only while a run applies; administrators' writes wait for
/// a run in progress and exit 75 only when their wait runs out.
final class RunLockTests: XCTestCase {
    /// The guard's own advice works while the service is up: `sisyncctl sync
    /// --allow-mass-deactivation` and `run revert` no longer exit 75.
    func testR9SyncAndRevertWorkWhileTheDaemonRuns() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(20)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        // R5 blocks the run that would deactivate 10 of 20; the administrator allows it once.
        w.write("staff.csv", staffCSV(Array(manyStaff(20).prefix(10))))
        let blocked = try runProcess("sisyncctl", ["--config", w.configPath, "sync"], timeout: 60)
        XCTAssertEqual(blocked.code, 65, blocked.stdout + blocked.stderr)
        let allowed = try runProcess("sisyncctl", ["--config", w.configPath, "sync", "--allow-mass-deactivation"], timeout: 60)
        XCTAssertEqual(allowed.code, 0, allowed.stdout + allowed.stderr)
        XCTAssertTrue(allowed.stdout.hasPrefix("run 3: applied"), allowed.stdout)
        XCTAssertFalse(allowed.stdout.contains("dry run"), allowed.stdout)
        XCTAssertEqual(try w.store().mirror.staff(filter: .active, search: nil).count, 10)
        let reverted = try runProcess("sisyncctl", ["--config", w.configPath, "run", "revert", "3"], timeout: 60)
        XCTAssertEqual(reverted.code, 0, reverted.stdout + reverted.stderr)
        XCTAssertEqual(try w.store().mirror.staff(filter: .active, search: nil).count, 20)
        // User commands too, and the daemon still syncs afterwards (on the full export again).
        w.write("staff.csv", staffCSV(manyStaff(20)))
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "user", "add", "--username", "u1", "--email", "user1@district.org"]).code, 0)
        kill(child.process.processIdentifier, SIGUSR1)
        let deadline = Date().addingTimeInterval(30)
        func run5Finished() -> Bool {
            guard let last = try? w.store().auditTrail.runs(limit: 1).first else { return false }
            return last.runID == 5 && last.outcome != .running
        }
        while Date() < deadline, !run5Finished() { usleep(50_000) }
        let recent = ((try? w.store().auditTrail.runs(limit: 6)) ?? []).map { "\($0.runID ?? 0) \($0.outcome) \($0.error ?? "") links \($0.linksMade)" }
        XCTAssertEqual(try w.store().accounts.user("u1")?.link?.staffID, "S1", "the daemon's next cycle sees the new user: \(recent)")
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(child.process.terminationStatus, 0)
    }

    /// A write during a long run says whom it waits for (run id and pid), then proceeds once
    /// the run has committed.
    func testR9AWriteWaitsForARunInProgressThenProceeds() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        w.write("staff.csv", largeStaffCSV())
        kill(child.process.processIdentifier, SIGUSR1)
        XCTAssertTrue(child.waitFor("run 2: applying changes", timeout: 120), child.seen)
        let add = try runProcess("sisyncctl", ["--config", w.configPath, "--wait", "5m", "user", "add", "--username", "late", "--email", "late@district.org"], timeout: 300)
        XCTAssertEqual(add.code, 0, add.stderr)
        XCTAssertTrue(add.stderr.contains("waiting for sisyncd pid \(child.process.processIdentifier), run 2 to finish"), add.stderr)
        XCTAssertTrue(add.stderr.contains("going ahead"), add.stderr)
        // The run it waited for committed first, whole.
        let run2 = try XCTUnwrap(w.store().auditTrail.run(id: 2))
        XCTAssertEqual(run2.outcome, .applied)
        XCTAssertEqual(run2.staff.added, 299_900)
        XCTAssertNotNil(try w.store().accounts.user("late"))
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
    }

    /// When the wait runs out the write exits 75 and says what to do; nothing is written.
    func testR9AWriteExits75WhenItsWaitRunsOut() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let held = try XCTUnwrap(RunLock.acquire(location: w.location, holder: "sisyncd pid 4242, run 7", wait: 0))
        let add = w.ctl(["--wait", "0.3s", "user", "add", "--username", "u1", "--email", "user1@district.org"])
        XCTAssertEqual(add.code, 75, add.err)
        XCTAssertTrue(add.err.contains("waiting for sisyncd pid 4242, run 7 to finish (up to 0.3s)"), add.err)
        XCTAssertTrue(add.err.contains("still busy after waiting 0.3s") && add.err.contains("--wait"), add.err)
        XCTAssertNil(try w.store().accounts.user("u1"))
        let sync = w.ctl(["--wait", "0.2s", "sync"])
        XCTAssertEqual(sync.code, 75, sync.err)
        XCTAssertTrue(sync.out.hasPrefix("run (not recorded): failed"), sync.out)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 5).count, 1, "the run that could not start left no record")
        // Reads never wait.
        let list = w.ctl(["--wait", "0s", "user", "list"])
        XCTAssertEqual(list.code, 0, list.err)
        XCTAssertEqual(w.ctl(["--wait", "0s", "status"]).code, 0)
        XCTAssertEqual(w.ctl(["--wait", "soon", "user", "list"]).code, 64)
        held.release()
        XCTAssertEqual(w.ctl(["--wait", "0s", "user", "add", "--username", "u1", "--email", "user1@district.org"]).code, 0)
    }

    /// R9: `sisyncd --once` is a second sisyncd and still refuses at once while a daemon holds
    /// the daemon lock; `sisyncctl sync` only takes the run lock.
    func testR9DaemonLockAndRunLockAreApart() throws {
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let daemon = try DaemonLock(location: w.location)
        let run = try XCTUnwrap(RunLock.acquire(location: w.location, holder: "a", wait: 0))
        XCTAssertThrowsError(try RunLock.acquire(location: w.location, holder: "b", wait: 0)) { e in
            XCTAssertEqual(e as? StoreError, .runInProgress(path: w.location.display, holder: "a", waited: 0))
        }
        run.release()
        XCTAssertNotNil(try RunLock.acquire(location: w.location, holder: "b", wait: 0))
        _ = daemon
    }

    /// Root's sisyncctl may create a lock file first, in the service user's directory: the
    /// file goes to that user, mode 0644 whatever the umask, so the daemon can use it.
    func testR9LockFileCreatedByRootBelongsToTheDirectoryOwner() throws {
        try XCTSkipUnless(getuid() == 0, "needs root to create a file for another user")
        let w = Workspace()
        let dir = w.root + "/state"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertEqual(chown(dir, 65534, 65534), 0)
        let old = umask(0o077)
        defer { umask(old) }
        let lock = try XCTUnwrap(RunLock.acquire(databasePath: dir + "/sisync.db", holder: "sisyncctl user add pid 1 by root", wait: 0))
        var st = stat()
        XCTAssertEqual(stat(dir + "/sisync.db.run.lock", &st), 0)
        XCTAssertEqual(st.st_uid, 65534)
        XCTAssertEqual(st.st_mode & 0o777, 0o644)
        lock.release()
    }

    /// The metrics file is written after every run, also by `sisyncd --once` (a
    /// systemd timer) and `sisyncctl sync`, not only by the daemon loop.
    func testMetricsFileIsWrittenByOnceAndBySisyncctlSync() throws {
        let w = Workspace()
        let metrics = w.root + "/sisync.prom"
        w.configure(sync: "metrics_file = \(metrics)")
        w.write("staff.csv", staffCSV(manyStaff(4)))
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 0, once.stderr)
        var text = try String(contentsOfFile: metrics, encoding: .utf8)
        XCTAssertTrue(text.contains("sisync_last_run_outcome{outcome=\"applied\"} 1"), text)
        XCTAssertTrue(text.contains("sisync_records{entity=\"staff\",state=\"active\"} 4"), text)
        try FileManager.default.removeItem(atPath: metrics)
        XCTAssertEqual(w.ctl(["sync"]).code, 0)
        text = try String(contentsOfFile: metrics, encoding: .utf8)
        XCTAssertTrue(text.contains("sisync_last_run_outcome{outcome=\"unchanged\"} 1"), text)
        // `run revert` is a run too.
        w.write("staff.csv", staffCSV(manyStaff(5)))
        XCTAssertEqual(w.ctl(["sync"]).code, 0)
        try FileManager.default.removeItem(atPath: metrics)
        XCTAssertEqual(w.ctl(["run", "revert", "3"]).code, 0)
        text = try String(contentsOfFile: metrics, encoding: .utf8)
        XCTAssertTrue(text.contains("sisync_records{entity=\"staff\",state=\"active\"} 4"), text)
        // A dry run writes nothing, the metrics file included.
        try FileManager.default.removeItem(atPath: metrics)
        XCTAssertEqual(w.ctl(["sync", "--dry-run"]).code, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: metrics))
    }
}

/// The daemon's side of the run lock: it waits for an administrator's write, saying so,
/// runs as soon as the write is done, and still stops at once on SIGTERM while it waits.
/// It fetches without the lock, so a slow SIS never makes administrators wait.
final class DaemonRunLockTests: XCTestCase {
    func testR9DaemonWaitsForAnAdministratorsWriteAndStopsWhileWaiting() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(5)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        var held = try XCTUnwrap(RunLock.acquire(location: w.location, holder: "sisyncctl user import pid 777 by admin", wait: 5))  // the run logs "applied" just before it lets go
        kill(child.process.processIdentifier, SIGUSR1)
        XCTAssertTrue(child.waitFor("waiting for sisyncctl user import pid 777 by admin to finish before the next run"), child.seen)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 1).first?.runID, 1, "no run is recorded while it waits")
        held.release()
        XCTAssertTrue(child.waitFor("run 2 unchanged"), child.seen)
        // SIGTERM while waiting: stops within 5 s, records nothing.
        held = try XCTUnwrap(RunLock.acquire(location: w.location, holder: "sisyncctl run revert pid 778 by admin", wait: 5))
        kill(child.process.processIdentifier, SIGUSR1)
        XCTAssertTrue(child.waitFor("waiting for sisyncctl run revert pid 778"), child.seen)
        let sent = Date()
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5)
        XCTAssertEqual(child.process.terminationStatus, 0)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 1).first?.runID, 2)
        held.release()
    }

    func testR9AnAdministratorsWriteDoesNotWaitForADownload() throws {
        let w = Workspace()
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(5)))
        XCTAssertEqual(w.sync(try Configuration.load(path: w.configPath)).summary.outcome, .applied)
        let release = DispatchSemaphore(value: 0)
        let server = try TestHTTPServer { _ in
            _ = release.wait(timeout: .now() + 30)  // an SIS that answers when the test says so
            return .init(status: 200, body: Array(staffCSV(manyStaff(6)).utf8))
        }
        w.configure(sync: "interval = 1h", url: server.baseURL + "/")
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        let deadline = Date().addingTimeInterval(30)
        while server.requests.isEmpty && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(server.requests.isEmpty, "the daemon never asked: \(child.seen)")
        // The daemon is downloading: a write goes ahead at once.
        let add = w.ctl(["--wait", "0s", "user", "add", "--username", "u6", "--email", "user6@district.org"])
        XCTAssertEqual(add.code, 0, add.err)
        XCTAssertFalse(add.err.contains("waiting"), add.err)
        release.signal()
        XCTAssertTrue(child.waitFor("run 2 applied"), child.seen)
        XCTAssertEqual(try w.store().accounts.user("u6")?.link?.staffID, "S6", "the run after the download sees the new user")
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
    }
}
