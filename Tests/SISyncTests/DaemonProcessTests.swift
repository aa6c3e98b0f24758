import Foundation
import XCTest
@testable import SISync

/// The real executables, as an administrator or systemd runs them.
final class DaemonProcessTests: XCTestCase {
    func testOnceExitCodes() throws {
        let w = Workspace()
        w.configure(entities: "staff")
        // 78: configuration errors, including a missing file.
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.root + "/missing.conf", "--once"]).code, 78)
        w.write(w.root + "/bad.conf", "[sync]\nintervall = 5m\n")
        let bad = try runProcess("sisyncd", ["--config", w.root + "/bad.conf", "--once"])
        XCTAssertEqual(bad.code, 78)
        XCTAssertTrue(bad.stderr.contains("bad.conf:2"), bad.stderr)
        // 64: usage.
        XCTAssertEqual(try runProcess("sisyncd", ["--bogus"]).code, 64)
        // 69: the source cannot be read.
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 69)
        // 65: the data fails validation.
        w.write("staff.csv", "staff_id,first_name\nS1,A\n")
        let invalid = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(invalid.code, 65)
        XCTAssertTrue(invalid.stderr.contains("staff.csv:1"), invalid.stderr)
        // 73: the database cannot be created.
        let noDB = w.root + "/nodb.conf"
        w.write(noDB, "[sync]\ndatabase = /proc/sisync-cannot-exist/x.db\n[source]\nurl = \(w.exportDir)/\nentities = staff\n")
        XCTAssertEqual(try runProcess("sisyncd", ["--config", noDB, "--once"]).code, 73)
        // 0: applied, then unchanged.
        w.write("staff.csv", staffCSV(manyStaff(20)))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        // 65: blocked by the guard (R5); sisyncctl sync exits the same way.
        w.write("staff.csv", staffCSV(Array(manyStaff(20).prefix(5))))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 65)
        let ctl = try runProcess("sisyncctl", ["--config", w.configPath, "sync"])
        XCTAssertEqual(ctl.code, 65)
        XCTAssertTrue(ctl.stdout.contains("blocked"), ctl.stdout)
        let forced = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "sync", "--allow-mass-deactivation"],
                                    environment: ["USER": "jdoe", "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(forced.code, 0, forced.stderr)
        XCTAssertTrue(forced.stdout.contains("\"deactivated\": 15"), forced.stdout)
        XCTAssertTrue(forced.stdout.contains("\"actor\": \"jdoe\""), forced.stdout)
    }

    func testDryRunPrintsThePlanAndCreatesNoDatabase() throws {
        let w = Workspace()
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let r = try runProcess("sisyncd", ["--config", w.configPath, "--dry-run"])
        XCTAssertEqual(r.code, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("added staff S1"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: w.database))
    }

    func testSisyncctlShowsWhatHappened() throws {
        let w = Workspace()
        w.configure()
        w.write("staff.csv", "staff_id,first_name,last_name,email,title,school_ids\nS1,Zoë,O'Brien,zoe@d.org,\"Teacher, Math\",101;102\nS2,José,Núñez,jose@d.org,Principal,101\n")
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        w.write("staff.csv", "staff_id,first_name,last_name,email,title,school_ids\nS1,Zoë,O'Brien-Smith,zoe@d.org,\"Teacher, Math\",101;102\n")
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "sync"]).code, 0)

        let list = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "staff", "list", "--all", "--search", "núñez"])
        let items = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(items?.count, 1)
        XCTAssertEqual(items?.first?["staff_id"] as? String, "S2")
        XCTAssertEqual(items?.first?["active"] as? Bool, false)
        XCTAssertNotNil(items?.first?["deactivated_at"] as? String)

        let show = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "staff", "show", "S1"])
        let staff = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(staff?["school_ids"] as? [String], ["101", "102"])
        XCTAssertEqual((staff?["history"] as? [[String: Any]])?.count, 2)

        let runs = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "runs", "--limit", "5"])
        let runList = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]]
        XCTAssertEqual(runList?.count, 2)
        let run2 = try XCTUnwrap(runList?.first)
        for key in ["run_id", "started_at", "finished_at", "outcome", "dry_run", "error", "staff", "links", "roles"] {
            XCTAssertTrue(run2.keys.contains(key), key)
        }
        let detail = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "run", "show", "\(run2["run_id"] as! Int)"])
        let changes = (try JSONSerialization.jsonObject(with: Data(detail.stdout.utf8)) as? [String: Any])?["changes"] as? [[String: Any]]
        XCTAssertEqual(changes?.compactMap { $0["kind"] as? String }.sorted(), ["deactivated", "updated"])

        let status = try runProcess("sisyncctl", ["--config", w.configPath, "status"])
        XCTAssertEqual(status.code, 0)
        XCTAssertTrue(status.stdout.contains("database:"), status.stdout)
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "staff", "show", "NOPE"]).code, 1)
        XCTAssertEqual(try runProcess("sisyncctl", ["frobnicate"]).code, 64)
        XCTAssertEqual(try runProcess("sisyncctl", ["sync", "--help"]).code, 0)
    }

    /// Starts `sisyncd --once` on a 300k-row staff export over 100 stored staff and returns
    /// as soon as it logs that its apply transaction starts (bounded waits throughout).
    private func startLargeApply(_ w: Workspace, loop: Bool = false) throws -> (Process, DispatchSemaphore, [String]) {
        w.configure(sync: loop ? "interval = 1h" : "")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        let before = try w.dump().filter { !$0.hasPrefix("runs:") }

        var big = "staff_id,first_name,last_name,email,title,school_ids,status\n"
        big.reserveCapacity(40 << 20)
        for i in 1...300_000 { big += "S\(i),First\(i),Lé\(i),user\(i)@district.org,\"Teacher, grade \(i % 12)\",10\(i % 5);20\(i % 3),active\n" }
        w.write("staff.csv", big)

        let child = try RunningDaemon(["--config", w.configPath] + (loop ? [] : ["--once"]))
        XCTAssertTrue(child.waitFor("in one transaction", timeout: 120), "the apply never started: \(child.seen)")
        XCTAssertTrue(child.process.isRunning, "the run finished before it could be stopped; make the export larger")
        return (child.process, child.exited, before)
    }

    /// R1: a child killed with SIGKILL in the middle of a large apply leaves the database
    /// exactly as before; the next run records the interrupted one as failed.
    func testR1SigkillDuringALargeApplyLeavesTheDatabaseAsBefore() throws {
        let w = Workspace()
        let (p, exited, before) = try startLargeApply(w)
        // R9: readers are not blocked while the writer holds its transaction.
        let started = Date()
        let read = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "runs", "--limit", "1"], timeout: 10)
        XCTAssertEqual(read.code, 0, read.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(read.stdout.contains("\"outcome\": \"running\""), read.stdout)
        XCTAssertTrue(p.isRunning, "the read finished while the apply was still running")
        kill(p.processIdentifier, SIGKILL)
        XCTAssertEqual(exited.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)

        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") }, before, "R1: nothing of the killed run was applied")
        let interrupted = try XCTUnwrap(w.store().auditTrail.runs(limit: 1).first)
        XCTAssertEqual(interrupted.outcome, .running)

        // The next run closes the interrupted record as failed, then applies normally.
        w.write("staff.csv", staffCSV(manyStaff(101)))
        XCTAssertEqual(try runProcess("sisyncd", ["--config", w.configPath, "--once"]).code, 0)
        let closed = try XCTUnwrap(w.store().auditTrail.run(id: interrupted.runID!))
        XCTAssertEqual(closed.outcome, .failed)
        XCTAssertTrue(closed.error?.contains("interrupted") == true)
    }

    /// Issue 28: `status` while a real sisyncd runs names it (pid, host, since) and its own
    /// next run; once it stopped, "not running" and "no daemon". Found without trying the
    /// lock: a sisyncd started meanwhile would have exited 75.
    func testStatusTellsWhetherTheDaemonRunsWithItsPidAndNextRun() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        if !w.isPostgres {
            XCTAssertTrue(file(DaemonSchedule.path(of: w.database), comesToContain: "next "), "the daemon says its next run")
        }
        let json = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "status"])
        XCTAssertEqual(json.code, 0, json.stderr)
        let status = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let daemon = try XCTUnwrap(status["daemon"] as? [String: Any], json.stdout)
        XCTAssertEqual(daemon["running"] as? Bool, true)
        XCTAssertEqual(daemon["pid"] as? Int, Int(child.pid))
        XCTAssertEqual(daemon["host"] as? String, ProcessInfo.processInfo.hostName)
        XCTAssertEqual(daemon["standby"] as? Bool, false)
        let since = try XCTUnwrap(Timestamp.parse(try XCTUnwrap(daemon["since"] as? String)))
        XCTAssertLessThan(abs(since.timeIntervalSinceNow), 120)
        if !w.isPostgres {
            let next = try XCTUnwrap(Timestamp.parse(try XCTUnwrap(status["next_run_at"] as? String)), json.stdout)
            XCTAssertGreaterThan(next.timeIntervalSinceNow, 3000, "the daemon's time: an hour (plus jitter) after the run")
        }
        let text = try runProcess("sisyncctl", ["--config", w.configPath, "status"]).stdout
        XCTAssertTrue(text.contains("daemon: sisyncd pid \(child.pid) on \(ProcessInfo.processInfo.hostName) is running since "), text)
        XCTAssertTrue(child.process.isRunning, "status never disturbed the daemon")

        kill(child.pid, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 10), .success)
        let after = try runProcess("sisyncctl", ["--config", w.configPath, "status"]).stdout
        XCTAssertTrue(after.contains("daemon: not running"), after)
        XCTAssertTrue(after.contains("next run: no daemon"), after)
        let afterJSON = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "status"]).stdout
        let stopped = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(afterJSON.utf8)) as? [String: Any])
        XCTAssertEqual((stopped["daemon"] as? [String: Any])?["running"] as? Bool, false, afterJSON)
        XCTAssertTrue(stopped["next_run_at"] is NSNull, afterJSON)
    }

    /// Issue 28: a daemon killed in the middle of a run leaves the run `running`; status
    /// says it was interrupted and by whom, and that no daemon runs.
    func testStatusAfterASigkilledDaemonShowsItsRunInterrupted() throws {
        let w = Workspace()
        let (p, exited, _) = try startLargeApply(w, loop: true)
        kill(p.processIdentifier, SIGKILL)
        XCTAssertEqual(exited.wait(timeout: .now() + 30), .success)
        let status = try runProcess("sisyncctl", ["--config", w.configPath, "status"])
        XCTAssertEqual(status.code, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("daemon: not running"), status.stdout)
        let gone = w.isPostgres ? "interrupted: the process that ran it is gone" : "interrupted: sisyncd pid \(p.processIdentifier) is gone"
        XCTAssertTrue(status.stdout.contains("last run: run 2 \(gone)"), status.stdout)
        let json = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "status"]).stdout
        XCTAssertTrue(json.contains("\"error\": \"\(gone);"), json)
    }

    /// R1: SIGTERM to the long-running daemon in the middle of a large apply: SQLite is
    /// interrupted, not waited for; the daemon exits 0 within 5 s and nothing was applied.
    func testR1SigtermToTheDaemonLoopDuringALargeApplyStopsWithin5Seconds() throws {
        let w = Workspace()
        let (p, exited, before) = try startLargeApply(w, loop: true)
        let sent = Date()
        kill(p.processIdentifier, SIGTERM)
        XCTAssertEqual(exited.wait(timeout: .now() + 30), .success)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "stop within 5 s")
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") }, before)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 1).first?.outcome, .failed)
    }

    /// SIGUSR1 during a run queues exactly one more run, however many arrive.
    func testSignalsDuringARunQueueExactlyOneMoreRun() throws {
        let w = Workspace()
        let (p, exited, _) = try startLargeApply(w, loop: true)
        for _ in 0..<3 { kill(p.processIdentifier, SIGUSR1) }
        // Run 1 was the small --once run; run 2 is the large apply; run 3 is the queued one.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (try? w.store().auditTrail.runs(limit: 1).first?.runID) ?? 0 < 3 { usleep(100_000) }
        let store = try w.store()
        XCTAssertEqual(try store.auditTrail.runs(limit: 1).first?.runID, 3)
        let settle = Date().addingTimeInterval(1.5)
        while Date() < settle { usleep(100_000) }
        XCTAssertEqual(try store.auditTrail.runs(limit: 1).first?.runID, 3, "exactly one more run")
        kill(p.processIdentifier, SIGINT)
        XCTAssertEqual(exited.wait(timeout: .now() + 5), .success, "SIGINT stops like SIGTERM")
        XCTAssertEqual(p.terminationStatus, 0)
    }

    /// A run SIGUSR1 asked for is recorded with the trigger `signal` (it was `schedule`, as
    /// if the interval had passed); the daemon's first run stays `schedule`.
    func testARunSIGUSR1AskedForIsRecordedAsSignal() throws {
        try assertTheRunAfter(SIGUSR1)
    }

    /// The run a reload (SIGHUP) starts is recorded as `signal`, as SIGUSR1's is: an
    /// administrator's signal started it, not the interval (it was `schedule`).
    func testTheRunAfterASIGHUPReloadIsRecordedAsSignal() throws {
        try assertTheRunAfter(SIGHUP)
    }

    /// A real sisyncd's first run, then the run `signal` starts: recorded as `signal`.
    private func assertTheRunAfter(_ signal: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { kill(child.pid, SIGKILL) } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen, file: file, line: line)
        kill(child.pid, signal)
        XCTAssertTrue(child.waitFor("run 2 unchanged"), child.seen, file: file, line: line)
        XCTAssertTrue(child.seen.contains("run 2 started (signal)"), child.seen, file: file, line: line)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 2).map(\.trigger), [.signal, .schedule], file: file, line: line)
        kill(child.pid, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success, file: file, line: line)
    }

    /// R1: SIGTERM during `--once` rolls the apply back, records why, and exits 0 within 5 s.
    func testR1SigtermDuringApplyRollsBackAndSaysWhy() throws {
        let w = Workspace()
        let (p, exited, before) = try startLargeApply(w)
        let sent = Date()
        kill(p.processIdentifier, SIGTERM)
        XCTAssertEqual(exited.wait(timeout: .now() + 30), .success)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "stop within 5 s")
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") }, before)
        let run = try XCTUnwrap(w.store().auditTrail.runs(limit: 1).first)
        XCTAssertEqual(run.outcome, .failed)
        XCTAssertTrue(run.error?.contains("rolled back") == true, run.error ?? "")
    }

    /// Entries a child process sent to a test journal socket, until it stays quiet.
    private func drain(_ journal: TestDatagramServer) -> [String] {
        var entries: [String] = []
        while let d = journal.receive(timeout: 0.3) { entries.append(String(decoding: d, as: UTF8.self)) }
        return entries
    }

    /// A child `sisyncd` whose stderr is the (test) journal's stream, as under systemd.
    private func journaledDaemon(_ args: [String], journal: TestDatagramServer) throws -> ServiceChild {
        let stderrPath = NSTemporaryDirectory() + "sisyncd-journal-" + UUID().uuidString
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        var st = stat()
        XCTAssertEqual(stat(stderrPath, &st), 0)
        let child = try ServiceChild(args, environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)", "SISYNC_JOURNAL_SOCKET": journal.path],
                                     stderrPath: stderrPath)
        try child.start()
        XCTAssertEqual(child.exited.wait(timeout: .now() + 60), .success)
        return child
    }

    /// Issue 26 item 14: a secret in the source URL's query (`token=`) is redacted in every
    /// place a URL is shown: journal entries and their fields, stderr lines, the run's
    /// stored error (`sisyncctl runs --json`), `status`, and the metrics file.
    func testASecretInTheSourceURLIsShownNowhere() throws {
        let secret = "s3cret" + UUID().uuidString.prefix(8)
        let server = try TestHTTPServer { _ in .init(status: 500, headers: ["Retry-After": "0", "Content-Type": "text/plain"], body: Array("down".utf8)) }
        let w = Workspace()
        w.configure(sync: "metrics_file = \(w.root)/sisync.prom", source: "retries = 1", format: "json",
                    url: "\(server.baseURL)/x?token=\(secret)&page=1")
        let journal = try TestDatagramServer()
        let journaled = try journaledDaemon(["--config", w.configPath, "--once"], journal: journal)
        XCTAssertEqual(journaled.process.terminationStatus, 69)
        let entries = drain(journal)
        XCTAssertTrue(entries.contains { $0.contains("PRIORITY=4") && $0.contains("attempt 2 of 2") }, "the retry warning names the URL: \(entries)")
        XCTAssertTrue(entries.contains { $0.contains("x?token=REDACTED&page=1: the server answered HTTP 500") }, "\(entries)")
        let plain = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(plain.code, 69, plain.stderr)
        XCTAssertTrue(plain.stderr.contains("token=REDACTED&page=1"), plain.stderr)
        XCTAssertEqual(server.requests.count, 4, "the requests themselves carry the URL as written")
        XCTAssertTrue(server.requests.allSatisfy { $0.path == "/x?token=\(secret)&page=1" })
        let runs = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "runs"])
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]], runs.stdout + runs.stderr)
        XCTAssertEqual(list.count, 2)
        XCTAssertTrue((list.first?["error"] as? String)?.contains("token=REDACTED") == true, runs.stdout)
        let shown = [journaled.stderr, plain.stdout, plain.stderr, runs.stdout, runs.stderr,
                     try runProcess("sisyncctl", ["--config", w.configPath, "status"]).stdout,
                     try runProcess("sisyncctl", ["--config", w.configPath, "--json", "status"]).stdout,
                     try runProcess("sisyncctl", ["--config", w.configPath, "run", "show", "2"]).stdout,
                     (try? String(contentsOfFile: w.root + "/sisync.prom", encoding: .utf8)) ?? ""] + entries
        for text in shown { XCTAssertFalse(text.contains(secret), text) }
    }

    /// Issue 26 item 14, upgrading from 0.2: a configuration 0.2 accepted with a password
    /// in the source URL now stops sisyncd with exit 78 (in the unit's
    /// RestartPreventExitStatus) and one critical journal entry naming the file, the line
    /// and the `auth = basic` fix, without the password.
    func testAPasswordInTheSourceURLStopsTheServiceWithACriticalEntry() throws {
        let w = Workspace()
        w.configure()
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        let urlLine = try XCTUnwrap(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("url =") }) + 1
        w.write(w.configPath, lines.map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("url =") ? "url = https://registrar:hunter2@sis.example.org/export/" : $0 }.joined(separator: "\n"))
        let journal = try TestDatagramServer()
        let child = try journaledDaemon(["--config", w.configPath], journal: journal)
        XCTAssertEqual(child.process.terminationStatus, 78)
        let entries = drain(journal)
        let critical = entries.filter { $0.contains("PRIORITY=2\n") }
        XCTAssertEqual(critical.count, 1, "\(entries)")
        let entry = critical.first ?? ""
        XCTAssertTrue(entry.contains("MESSAGE=sisyncd cannot start: \(w.configPath):\(urlLine): [source] url"), entry)
        XCTAssertTrue(entry.contains("auth = basic") && entry.contains("password_file"), entry)
        XCTAssertTrue(entry.contains("MESSAGE_ID=\(LogEventType.configRejected.rawValue)"), entry)
        XCTAssertTrue(entry.contains("SISYNC_CONFIG=\(w.configPath)\n"), entry)
        XCTAssertEqual(child.stderr, "", "the entry is in the journal, not a plain stderr line at info priority")
        for e in entries { XCTAssertFalse(e.contains("hunter2"), e) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let unit = try String(contentsOfFile: root + "/systemd/sisync.service", encoding: .utf8)
        let prevent = try XCTUnwrap(unit.components(separatedBy: "\n").first { $0.hasPrefix("RestartPreventExitStatus=") })
        XCTAssertTrue(prevent.split(separator: "=")[1].split(separator: " ").contains("78"), prevent)
    }
}

/// The long-running daemon: a run at start, SIGUSR1 for another, one writer (R9), SIGTERM.
final class DaemonLoopTests: XCTestCase {
    func testR9DaemonSyncsAtStartOnSIGUSR1AndStopsOnSIGTERM() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        let child = try RunningDaemon(["--config", w.configPath])
        let p = child.process, exited = child.exited
        defer { if p.isRunning { p.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)

        // R9: a second writer on the same database refuses with 75 and names the holder.
        let second = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(second.code, 75)
        XCTAssertTrue(second.stderr.contains("pid \(p.processIdentifier)"), second.stderr)
        // Readers are not blocked.
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "status"]).code, 0)

        kill(p.processIdentifier, SIGUSR1)
        XCTAssertTrue(child.waitFor("run 2 unchanged"), child.seen)
        kill(p.processIdentifier, SIGTERM)
        XCTAssertEqual(exited.wait(timeout: .now() + 5), .success, "stops within 5 s")
        XCTAssertEqual(p.terminationStatus, 0)
    }
}

/// A `sisyncd` child whose stderr the test reads line by line.
final class RunningDaemon: @unchecked Sendable {
    let process = Process()
    let exited = DispatchSemaphore(value: 0)
    private let output = NSCondition()
    private var text = ""
    /// Everything the child wrote to stderr so far (read by a thread of its own, so the
    /// child never blocks on a full pipe and a wait can time out).
    var seen: String { output.lock(); defer { output.unlock() }; return text }

    /// Starts sisyncd, as the user `uid` when given (root only).
    init(_ arguments: [String], environment: [String: String]? = nil, as uid: uid_t? = nil) throws {
        (process.executableURL, process.arguments) = command(productsDirectory.appendingPathComponent("sisyncd"), arguments, as: uid)
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        let reader = pipe.fileHandleForReading
        try process.run()
        Thread.detachNewThread { [self] in
            while true {
                let chunk = reader.availableData
                output.lock()
                if chunk.isEmpty { text += "\u{0}"; output.broadcast(); output.unlock(); return }
                text += String(decoding: chunk, as: UTF8.self)
                output.broadcast()
                output.unlock()
            }
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits until `text` appears in stderr, the child closes it, or the timeout passes.
    func waitFor(_ wanted: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        output.lock()
        defer { output.unlock() }
        while !text.contains(wanted) && !text.hasSuffix("\u{0}") {
            if !output.wait(until: deadline) { break }
        }
        return text.contains(wanted)
    }
}
