import Foundation
import XCTest
@testable import SISync

/// `sisyncctl status` tells the truth about the daemon (issue 28): the probe reads the
/// kernel's lock table and the lock files, never trying a lock.
final class DaemonProbeTests: XCTestCase {
    func testTheLockTableIsReadForFlockHoldersOfOneFile() {
        let dev = UInt64(0x0801)   // major 8, minor 1
        let table = """
            1: POSIX  ADVISORY  WRITE 700 08:01:1234 0 EOF
            2: FLOCK  ADVISORY  WRITE 812 08:01:1234 0 EOF
            2: -> FLOCK  ADVISORY  WRITE 913 08:01:1234 0 EOF
            3: FLOCK  ADVISORY  WRITE 999 08:01:12345 0 EOF
            4: FLOCK  ADVISORY  WRITE 555 00:2d:1234 0 EOF
            """
        XCTAssertEqual(ProcLocks.flockHolders(device: dev, inode: 1234, in: table), [812], "POSIX locks, waiters and other files are not holders")
        XCTAssertEqual(ProcLocks.flockHolders(device: 0x2d, inode: 1234, in: table), [555])
        let big = (UInt64(0x103) << 8) | 0x05   // major 259 (NVMe), minor 5
        XCTAssertEqual(ProcLocks.flockHolders(device: big, inode: 7, in: "9: FLOCK  ADVISORY  WRITE 42 103:05:7 0 EOF"), [42])
    }

    func testAProcessStartTimeIsCountedAfterItsCommandName() {
        let stat = "812 (sisyncd (x) y) S 1 812 812 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 3 0 12345 100 10 1844 0"
        XCTAssertEqual(ProcLocks.startTime(stat: stat, bootTime: 1_000_000, ticksPerSecond: 100), Date(timeIntervalSince1970: 1_000_123.45))
        XCTAssertNil(ProcLocks.startTime(stat: "812 (x) S 1", bootTime: 0, ticksPerSecond: 100))
    }

    func testHoldersTheirRunsAndSessionsAreRead() {
        XCTAssertEqual(DaemonProbe.holderAndRun("sisyncd pid 812, run 42").0, "sisyncd pid 812")
        XCTAssertEqual(DaemonProbe.holderAndRun("sisyncd pid 812, run 42").1, 42)
        XCTAssertEqual(DaemonProbe.holderAndRun("sisyncctl sync pid 9 by admin").1, nil)
        XCTAssertNil(DaemonProbe.holderAndRun("").0)
        XCTAssertEqual(DaemonProbe.session(applicationName: "sisyncd/db-a/812").host, "db-a")
        XCTAssertEqual(DaemonProbe.session(applicationName: "sisyncd/db-a/812").pid, 812)
        XCTAssertEqual(DaemonProbe.session(applicationName: "db-b: sisyncd pid 77, run 3").pid, 77)
        XCTAssertEqual(DaemonProbe.session(applicationName: "db-b: sisyncd pid 77, run 3").host, "db-b")
        XCTAssertEqual(DaemonSchedule.parse("pid 812\nstarted 2026-01-02T03:04:05Z\nnext 2026-01-02T04:04:05Z\n"),
                       DaemonSchedule.Entry(pid: 812, started: Timestamp.parse("2026-01-02T03:04:05Z"), next: Timestamp.parse("2026-01-02T04:04:05Z")))
        XCTAssertNil(DaemonSchedule.parse(""), "an emptied file: a daemon that stopped")
    }

    /// A run recorded `running` with nobody holding the run lock was interrupted; the
    /// holder it names (the lock file keeps it after a SIGKILL) is the process gone.
    func testARunningRunWithoutALiveRunLockIsInterrupted() {
        var lock = DaemonProbe.RunHolder()
        lock.holder = "sisyncd pid 812"
        lock.runID = 42
        XCTAssertEqual(DaemonProbe.interruption(of: 42, runLock: lock, daemon: .init()), "interrupted: sisyncd pid 812 is gone")
        var daemon = DaemonProbe.Daemon()
        daemon.gonePID = 700
        XCTAssertEqual(DaemonProbe.interruption(of: 43, runLock: lock, daemon: daemon), "interrupted: sisyncd pid 700 is gone", "the lock names another run")
        XCTAssertEqual(DaemonProbe.interruption(of: 43, runLock: .init(), daemon: .init()), "interrupted: the process that ran it is gone")
        lock.held = true
        XCTAssertNil(DaemonProbe.interruption(of: 42, runLock: lock, daemon: daemon), "held: still running")
    }

    /// The probe finds a real `flock` through /proc/locks (device and inode as the kernel
    /// writes them on this file system), and a lock file whose holder let go as free.
    func testTheProbeFindsALiveFlockWithoutTryingIt() throws {
        let w = Workspace(sqlite: true)
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let probe = DaemonProbe(location: .sqlite(path: w.sqlitePath))
        XCTAssertEqual(try probe.daemon(), DaemonProbe.Daemon(), "no lock file: nothing runs")
        var lock: DaemonLock? = try DaemonLock(databasePath: w.sqlitePath)
        let found = try probe.daemon()
        XCTAssertTrue(found.running)
        XCTAssertEqual(found.pid, getpid())
        XCTAssertEqual(found.host, ProcessInfo.processInfo.hostName)
        XCTAssertLessThan(abs(try XCTUnwrap(found.since).timeIntervalSince(try XCTUnwrap(ProcLocks.startTime(of: getpid())))), 1)
        lock = nil
        withExtendedLifetime(lock) {}
        XCTAssertFalse(try probe.daemon().running)
    }

    /// After `run discard`, the run that was blocked by that hold no longer says "still held".
    func testAnEndedHoldIsNotSaidToBeStillHeld() {
        let s = RunSummary(runID: 8, startedAt: "2026-01-01T00:00:00Z",
                           ending: .blocked(reason: "still held: run 7 (approve or discard it: …); the export has not changed since"),
                           dryRun: false, actor: "sisyncd", trigger: .schedule)
        XCTAssertEqual(RunReport.withEndedHold(s, standing: 7).error, s.error, "the hold stands")
        XCTAssertFalse(RunReport.withEndedHold(s, standing: nil).error?.contains("still held") ?? true)
        XCTAssertTrue(RunReport.withEndedHold(s, standing: nil).error?.contains("run 7 was held for review; that hold has ended") ?? false)
    }
}
