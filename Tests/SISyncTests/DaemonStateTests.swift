import Foundation
import XCTest
@testable import SISync

/// Issue 29: `sisyncctl status` shows the daemon's state, as the daemon's `Scheduler`
/// writes it into `<database>.daemon` (SQLite; null on PostgreSQL, whose daemon may be on
/// another host).
final class DaemonStateTests: XCTestCase {
    func testStatusShowsTheStateInTextAndJSON() {
        var d = DaemonProbe.Daemon()
        d.running = true
        d.pid = 812
        d.host = "db-a"
        d.state = .waitingForRunLock
        XCTAssertTrue(d.statusLines(store: "/x").hasPrefix("daemon: sisyncd pid 812 on db-a is running; now waiting for the run lock\n"), d.statusLines(store: "/x"))
        XCTAssertTrue(d.json.rendered().contains("\"state\": \"waiting_for_run_lock\""), d.json.rendered())
        d.state = nil
        XCTAssertTrue(d.json.rendered().contains("\"state\": null"), "a sisyncd that did not say: \(d.json.rendered())")
        XCTAssertFalse(d.statusLines(store: "/x").contains("; now"))
    }

    /// A real sisyncd: idle after its run, waiting for the run lock while an administrator's
    /// write holds it, idle again once it ran.
    func testStatusFollowsARunningDaemonsState() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(5)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        func status() throws -> (state: Any?, text: String) {
            let r = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "status"])
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
            let daemon = try XCTUnwrap(json["daemon"] as? [String: Any], r.stdout)
            return (daemon["state"] ?? nil, try runProcess("sisyncctl", ["--config", w.configPath, "status"]).stdout)
        }
        if w.isPostgres {
            XCTAssertTrue(try status().state is NSNull, "PostgreSQL: not known here")
        } else {
            XCTAssertTrue(file(DaemonSchedule.path(of: w.database), comesToContain: "state idle"))
            var now = try status()
            XCTAssertEqual(now.state as? String, "idle")
            XCTAssertTrue(now.text.contains("is running since ") && now.text.contains("; now idle, waiting for the next run\n"), now.text)
            let held = try XCTUnwrap(RunLock.acquire(location: w.location, holder: "sisyncctl user import pid 777 by admin", wait: 5))
            kill(child.pid, SIGUSR1)
            XCTAssertTrue(child.waitFor("waiting for sisyncctl user import pid 777 by admin"), child.seen)
            now = try status()
            XCTAssertEqual(now.state as? String, "waiting_for_run_lock")
            XCTAssertTrue(now.text.contains("; now waiting for the run lock\n"), now.text)
            held.release()
            XCTAssertTrue(child.waitFor("run 2 unchanged"), child.seen)
            XCTAssertTrue(file(DaemonSchedule.path(of: w.database), comesToContain: "state idle"))
            XCTAssertEqual(try status().state as? String, "idle")
            withExtendedLifetime(held) {}
        }
        kill(child.pid, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
    }
}
