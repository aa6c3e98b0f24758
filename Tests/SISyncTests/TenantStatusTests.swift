import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// What `sisyncctl` says about the SQLite tenants of a `sisyncd --tenants`: each held
/// tenant's state and next run, from its database's `.daemon` file as the single daemon
/// writes its own, and who serves each tenant, found without trying its lock. Real
/// processes on SQLite files (the `.daemon` file and `/proc/locks` are SQLite's; TenantTests
/// covers the tenants on PostgreSQL).
final class TenantStatusTests: XCTestCase {
    private let host = ProcessInfo.processInfo.hostName

    /// A SQLite workspace with an export, its configuration copied as `DIR/NAME.conf`.
    private func tenant(_ name: String, in directory: String) throws -> Workspace {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let w = Workspace(sqlite: true)
        w.configure(sync: "interval = 1h\nstandby_poll = 1s")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        try FileManager.default.copyItem(atPath: w.configPath, toPath: directory + "/\(name).conf")
        return w
    }

    private func json(_ r: (code: Int32, stdout: String, stderr: String)) throws -> [String: Any] {
        XCTAssertEqual(r.code, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
    }

    /// `sisyncctl --tenant NAME status` of a tenant `sisyncd --tenants` serves shows its
    /// state and its next run as that sisyncd scheduled it (it showed neither: only the
    /// single daemon wrote the `.daemon` file); the file is emptied as the sisyncd stops.
    func testATenantsStatusShowsItsStateAndNextRunFromItsSisyncd() throws {
        let root = NSTemporaryDirectory() + "sisync-tenant-status-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/tenants.d"
        let w = try tenant("east", in: directory)
        let d = try RunningDaemon(["--tenants", directory])
        defer { if d.process.isRunning { kill(d.pid, SIGKILL) } }
        XCTAssertTrue(d.waitFor("run 1 applied"), d.seen)
        let schedule = DaemonSchedule.path(of: w.sqlitePath)
        XCTAssertTrue(file(schedule, comesToContain: "state idle"), (try? String(contentsOfFile: schedule, encoding: .utf8)) ?? "no \(schedule)")

        let status = try json(runProcess("sisyncctl", ["--tenants", directory, "--tenant", "east", "--json", "status"]))
        let daemon = try XCTUnwrap(status["daemon"] as? [String: Any], "\(status)")
        XCTAssertEqual(daemon["running"] as? Bool, true)
        XCTAssertEqual((daemon["pid"] as? NSNumber)?.int32Value, d.pid)
        XCTAssertEqual(daemon["state"] as? String, "idle")
        let next = try XCTUnwrap((status["next_run_at"] as? String).flatMap(Timestamp.parse), "\(status)")
        // interval = 1h, and up to 10% jitter.
        XCTAssertGreaterThan(next.timeIntervalSinceNow, 3600 - 120)
        XCTAssertLessThan(next.timeIntervalSinceNow, 3960 + 10)
        let text = try runProcess("sisyncctl", ["--tenants", directory, "--tenant", "east", "status"])
        XCTAssertTrue(text.stdout.contains("daemon: sisyncd pid \(d.pid) on \(host) is running since ") && text.stdout.contains("; now idle, waiting for the next run\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("(as sisyncd pid \(d.pid) on \(host) scheduled it)\n"), text.stdout)

        kill(d.pid, SIGTERM)
        XCTAssertEqual(d.exited.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(d.process.terminationStatus, 0, d.seen)
        XCTAssertEqual(try String(contentsOfFile: schedule, encoding: .utf8), "", "no next run once it stopped")
        let after = try runProcess("sisyncctl", ["--tenants", directory, "--tenant", "east", "status"])
        XCTAssertTrue(after.stdout.contains("daemon: not running") && after.stdout.contains("next run: no daemon"), after.stdout)
    }

    /// `sisyncctl --tenants DIR status` learns who serves a SQLite tenant from the kernel's
    /// lock table and never tries the tenant's lock. It took the lock and let it go when
    /// nobody held it: a sisyncd claiming the tenant at that moment passed it by, letting go
    /// emptied the pid a killed daemon leaves in the lock file, and a tenant whose database
    /// was not made yet got its folder and lock file made by a status.
    func testTheTenantsListingNeverTriesASQLiteTenantsLock() throws {
        let root = NSTemporaryDirectory() + "sisync-tenant-probe-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/tenants.d"
        let served = try tenant("east", in: directory)
        let left = try tenant("west", in: directory)
        let fresh = try tenant("north", in: directory)
        XCTAssertEqual(try runProcess("sisyncd", ["--config", left.configPath, "--once"]).code, 0)
        // What a killed sisyncd leaves: its pid in a lock file nobody holds.
        let leftLock = left.sqlitePath + ".lock"
        try "4242\n".write(toFile: leftLock, atomically: false, encoding: .utf8)

        let d = try RunningDaemon(["--config", served.configPath])
        defer { if d.process.isRunning { kill(d.pid, SIGKILL) } }
        XCTAssertTrue(d.waitFor("run 1 applied"), d.seen)
        let servedLock = served.sqlitePath + ".lock"
        let servedText = try String(contentsOfFile: servedLock, encoding: .utf8)

        let r = try runProcess("sisyncctl", ["--tenants", directory, "--json", "status"])
        let rows = try XCTUnwrap(json(r)["tenants"] as? [[String: Any]], r.stdout)
        func row(_ name: String) -> [String: Any] { rows.first { $0["name"] as? String == name } ?? [:] }
        XCTAssertEqual(row("east")["served_by"] as? String, "sisyncd on \(host) pid \(d.pid)", r.stdout)
        XCTAssertEqual(row("west")["served_by"] as? String, "nobody", r.stdout)
        XCTAssertEqual(row("north")["served_by"] as? String, "nobody", r.stdout)
        XCTAssertTrue(rows.allSatisfy { $0["problem"] is NSNull }, r.stdout)
        XCTAssertEqual(try String(contentsOfFile: leftLock, encoding: .utf8), "4242\n", "the gone daemon's pid is still there to read")
        XCTAssertEqual(try String(contentsOfFile: servedLock, encoding: .utf8), servedText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: (fresh.sqlitePath as NSString).deletingLastPathComponent), "a status makes no folder and no lock file")
        let text = try runProcess("sisyncctl", ["--tenants", directory, "status"])
        XCTAssertTrue(text.stdout.split(separator: "\n").contains { $0.hasPrefix("east ") && $0.contains("sisyncd on \(host) pid \(d.pid)") }, text.stdout)

        kill(d.pid, SIGTERM)
        XCTAssertEqual(d.exited.wait(timeout: .now() + 10), .success)
    }
}
