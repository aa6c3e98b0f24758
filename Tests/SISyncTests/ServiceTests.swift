import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket the test owns, standing in for `$NOTIFY_SOCKET` or the journal socket.
final class TestDatagramServer {
    let path: String
    private let fd: Int32

    init() throws {
        path = NSTemporaryDirectory() + "sisync-sock-" + UUID().uuidString.prefix(8)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "test", code: 1) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw NSError(domain: "test", code: 2, userInfo: [NSLocalizedDescriptionKey: "bind \(path): errno \(errno)"]) }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, or nil after `timeout`.
    func receive(timeout: TimeInterval) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// Datagrams as text until one contains `text` (returned with all seen), or the timeout.
    func waitFor(_ text: String, timeout: TimeInterval = 30, into seen: inout [String]) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let d = receive(timeout: deadline.timeIntervalSinceNow) else { break }
            let s = String(decoding: d, as: UTF8.self)
            seen.append(s)
            if s.contains(text) { return true }
        }
        return false
    }
}

/// A `sisyncd` child with a chosen environment and stderr in a file.
final class ServiceChild {
    let process = Process()
    let exited = DispatchSemaphore(value: 0)
    let stderrPath: String

    init(_ arguments: [String], environment: [String: String], stderrPath: String? = nil) throws {
        self.stderrPath = stderrPath ?? NSTemporaryDirectory() + "sisyncd-err-" + UUID().uuidString
        if !FileManager.default.fileExists(atPath: self.stderrPath) {
            FileManager.default.createFile(atPath: self.stderrPath, contents: nil)
        }
        process.executableURL = productsDirectory.appendingPathComponent("sisyncd")
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.stderrPath))
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
    }

    func start() throws { try process.run() }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}

/// sisyncd as a systemd service: sd_notify, watchdog, journal, metrics (issue 4).
final class ServiceTests: XCTestCase {
    func testNotifyReadyStatusWatchdogReloadAndStop() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h\nmetrics_file = \(w.root)/sisync.prom")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        let notify = try TestDatagramServer()
        let child = try ServiceChild(["--config", w.configPath],
                                     environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000", "TZ": "UTC"])
        try child.start()
        let pid = child.process.processIdentifier
        var seen: [String] = []
        XCTAssertTrue(notify.waitFor("READY=1", into: &seen), "\(seen) \(child.stderr)")
        XCTAssertTrue(notify.waitFor("STATUS=last run 1 applied", into: &seen), "\(seen)")
        let status = try XCTUnwrap(seen.last)
        XCTAssertTrue(status.range(of: #"STATUS=last run 1 applied \d\d:\d\d: \+10 staff, -0 staff, 0 links, 0 roles; next \d\d:\d\d"#,
                                   options: .regularExpression) != nil, status)
        // The metrics file is written after the run.
        let metrics = try String(contentsOfFile: w.root + "/sisync.prom", encoding: .utf8)
        XCTAssertTrue(metrics.contains("sisync_last_run_outcome{outcome=\"applied\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("sisync_records{entity=\"staff\",state=\"active\"} 10"), metrics)

        // Watchdog: WATCHDOG_USEC/2 = 0.2 s while waiting.
        var pings = 0
        let window = Date().addingTimeInterval(1.5)
        while Date() < window {
            guard let d = notify.receive(timeout: window.timeIntervalSinceNow) else { break }
            if String(decoding: d, as: UTF8.self) == "WATCHDOG=1" { pings += 1 }
        }
        XCTAssertGreaterThanOrEqual(pings, 5, "about every 0.2 s")
        XCTAssertLessThanOrEqual(pings, 10)

        // SIGUSR1: one more run.
        kill(pid, SIGUSR1)
        XCTAssertTrue(notify.waitFor("STATUS=last run 2 unchanged", into: &seen), "\(seen)")

        // SIGHUP with a broken configuration: RELOADING, READY, the old one kept.
        try Data("[sync]\ndatabase = \(w.database)\nbogus = 1\n".utf8).write(to: URL(fileURLWithPath: w.configPath))
        kill(pid, SIGHUP)
        seen.removeAll()
        XCTAssertTrue(notify.waitFor("RELOADING=1", into: &seen), "\(seen)")
        XCTAssertTrue(notify.waitFor("READY=1", into: &seen), "\(seen)")
        XCTAssertTrue(notify.waitFor("STATUS=last run 3", into: &seen), "a reload syncs: \(seen)")
        XCTAssertTrue(child.stderr.contains("configuration rejected, keeping the old one"), child.stderr)
        XCTAssertTrue(child.stderr.contains("sisync.conf:3"), "names file and line: \(child.stderr)")
        XCTAssertTrue(child.process.isRunning)

        // SIGTERM: STOPPING, exit 0 within 5 s.
        let sent = Date()
        kill(pid, SIGTERM)
        XCTAssertTrue(notify.waitFor("STOPPING=1", timeout: 5, into: &seen), "\(seen)")
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5)
        XCTAssertEqual(child.process.terminationStatus, 0)
    }

    /// SIGTERM while the export is downloading: the transfer is aborted, not waited for.
    func testR1SigtermAbortsAFetchInProgress() throws {
        let w = Workspace()
        let server = try TestHTTPServer { _ in
            Thread.sleep(forTimeInterval: 20)  // an SIS that accepts and does not answer
            return .init(status: 200, body: [])
        }
        w.configure(sync: "interval = 1h", source: "timeout = 60s", url: server.baseURL + "/")
        let child = try ServiceChild(["--config", w.configPath], environment: [:])
        try child.start()
        let deadline = Date().addingTimeInterval(30)
        while server.requests.isEmpty && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(server.requests.isEmpty, "the daemon never asked: \(child.stderr)")
        let sent = Date()
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 2, "the download is aborted at once")
        XCTAssertEqual(child.process.terminationStatus, 0)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 1).first?.outcome, .failed)
    }

    func testAbstractNotifySocketNamesAreAccepted() throws {
        XCTAssertNoThrow(try UnixDatagramSocket(address: "@sisync-test-\(getpid())"))
        XCTAssertThrowsError(try UnixDatagramSocket(address: "relative/path"))
        XCTAssertThrowsError(try UnixDatagramSocket(address: "/" + String(repeating: "x", count: 200)))
        let quiet = ServiceNotifier(environment: [:], log: MemoryLog())
        XCTAssertFalse(quiet.isActive)
        XCTAssertNil(quiet.watchdogInterval)
        let other = ServiceNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"], log: MemoryLog())
        XCTAssertNil(other.watchdogInterval, "the watchdog is for another process")
    }

    /// Issue 26 item 6: a clock reading older than the last ping (another thread pinged
    /// between the reading and the lock) is not due; it used to trap in `now - lastPing`.
    func testWatchdogPingWithAReadingBeforeTheLastPingIsNotDueAndDoesNotTrap() throws {
        XCTAssertTrue(ServiceNotifier.pingIsDue(now: 5, lastPing: 0, interval: 1))
        XCTAssertFalse(ServiceNotifier.pingIsDue(now: 5_000_000_000, lastPing: 10_000_000_000, interval: 1))
        XCTAssertFalse(ServiceNotifier.pingIsDue(now: 10_000_000_000, lastPing: 10_000_000_000, interval: 1))
        XCTAssertFalse(ServiceNotifier.pingIsDue(now: 10_800_000_000, lastPing: 10_000_000_000, interval: 1))
        XCTAssertTrue(ServiceNotifier.pingIsDue(now: 10_900_000_000, lastPing: 10_000_000_000, interval: 1))

        let notify = try TestDatagramServer()
        let readings = ClockReadings([10_000_000_000, 5_000_000_000, 10_950_000_000, 11_000_000_000])
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"], log: MemoryLog(),
                                       clock: { readings.next() })
        XCTAssertEqual(notifier.watchdogInterval, 1)
        for _ in 0..<4 { notifier.keepAlive() }
        var pings = 0
        while let d = notify.receive(timeout: 0.2) {
            XCTAssertEqual(String(decoding: d, as: UTF8.self), "WATCHDOG=1")
            pings += 1
        }
        XCTAssertEqual(pings, 2, "the first reading and the one 0.95 s after it; the earlier reading and the one 0.05 s later are not due")
    }

    /// Issue 26 item 6: tenants' threads and curl's progress ping at once. With a watchdog
    /// of 2 µs nearly every ping is due, and the clock gives the processor away right
    /// after each reading (as a preempted thread does), so a reading compared after another
    /// thread's later ping would trap within a few calls.
    func testWatchdogPingsFromManyThreadsAtOnceDoNotTrap() {
        let log = MemoryLog()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": "@sisync-test-nobody-\(UUID().uuidString)", "WATCHDOG_USEC": "2"], log: log,
                                       clock: { let now = DispatchTime.now().uptimeNanoseconds; sched_yield(); return now })
        XCTAssertNotNil(notifier.watchdogInterval)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<20_000 { notifier.keepAlive() }
        }
        // Nobody listens on that name: each ping that was sent is a logged warning.
        XCTAssertGreaterThan(log.events.filter { $0.message.hasPrefix("sd_notify") }.count, 0)
    }

    func testJournalEntriesCarryMessageIDAndFieldsWhenStderrIsTheJournal() throws {
        let w = Workspace()
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let journal = try TestDatagramServer()
        let stderrPath = NSTemporaryDirectory() + "sisyncd-journal-" + UUID().uuidString
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        var st = stat()
        XCTAssertEqual(stat(stderrPath, &st), 0)
        let child = try ServiceChild(["--config", w.configPath, "--once"],
                                     environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)", "SISYNC_JOURNAL_SOCKET": journal.path],
                                     stderrPath: stderrPath)
        try child.start()
        var seen: [String] = []
        XCTAssertTrue(journal.waitFor("MESSAGE_ID=\(LogEventType.runFinished.rawValue)", into: &seen), "\(seen) \(child.stderr)")
        XCTAssertEqual(child.exited.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(child.process.terminationStatus, 0)
        let finished = try XCTUnwrap(seen.last)
        XCTAssertTrue(finished.contains("SYSLOG_IDENTIFIER=sisyncd\n"), finished)
        XCTAssertTrue(finished.contains("PRIORITY=5\n"), finished)
        XCTAssertTrue(finished.contains("SISYNC_RUN_ID=1\n"), finished)
        XCTAssertTrue(seen.contains { $0.contains("MESSAGE_ID=\(LogEventType.runStarted.rawValue)") })
        XCTAssertEqual(child.stderr, "", "entries go to the journal, not as lines on stderr")

        // Not the journal's stream: readable lines on stderr, nothing on the socket.
        let plain = try ServiceChild(["--config", w.configPath, "--once"],
                                     environment: ["JOURNAL_STREAM": "1:2", "SISYNC_JOURNAL_SOCKET": journal.path])
        try plain.start()
        XCTAssertEqual(plain.exited.wait(timeout: .now() + 30), .success)
        XCTAssertTrue(plain.stderr.contains("sisync[notice] run 2 unchanged"), plain.stderr)
        XCTAssertNil(journal.receive(timeout: 0.2))
    }

    func testJournalNativeFormatSendsMultiLineValuesWithTheirLength() {
        let event = LogEvent(.runFailed, .error, "two\nlines", fields: [("SISYNC_RUN_ID", "7"), ("bad key!", "x")])
        let bytes = JournalLog.entry(event, identifier: "sisyncd")
        var expected = Array("MESSAGE\n".utf8)
        var n = UInt64(9).littleEndian
        withUnsafeBytes(of: &n) { expected += $0 }
        expected += Array("two\nlines\n".utf8)
        XCTAssertEqual(Array(bytes.prefix(expected.count)), expected)
        let rest = String(decoding: bytes.dropFirst(expected.count), as: UTF8.self)
        XCTAssertEqual(rest, "PRIORITY=3\nSYSLOG_IDENTIFIER=sisyncd\nMESSAGE_ID=\(LogEventType.runFailed.rawValue)\nSISYNC_EVENT=\(LogEventType.runFailed.name)\nSISYNC_RUN_ID=7\nBADKEY=x\n")
    }

    func testStatusLineAndMetricsText() throws {
        var s = RunSummary(runID: 42, startedAt: "2026-09-01T08:15:00Z", ending: .applied, dryRun: false, actor: "sync", trigger: .schedule)
        s.finishedAt = "2026-09-01T08:15:02Z"
        s.staff = RecordCounts(added: 3, updated: 0, deactivated: 1, reactivated: 0)
        s.linksMade = 2
        s.rolesGranted = 4
        s.rolesRevoked = 1
        s.entities = ["staff": s.staff]
        let next = Timestamp.parse("2026-09-01T08:30:00Z")!
        XCTAssertEqual(Scheduler.statusLine(s, next: next, timeZone: TimeZone(identifier: "UTC")!),
                       "last run 42 applied 08:15: +3 staff, -1 staff, 2 links, 5 roles; next 08:30")
        var failed = s
        failed.ending = .failed(.unavailable, message: "https://sis.example.org/staff.csv: HTTP 503\nmore")
        XCTAssertEqual(Scheduler.statusLine(failed, next: next, timeZone: TimeZone(identifier: "UTC")!),
                       "last run 42 failed 08:15: https://sis.example.org/staff.csv: HTTP 503; next 08:30")
        var totals = MetricsFile.Totals()
        totals.records = [("staff", 10, 2, 1)]
        totals.runsByOutcome = [("blocked", 1)]
        let text = MetricsFile.text(last: s, totals: totals)
        for line in ["sisync_last_run_id 42", "sisync_last_run_duration_seconds 2", "sisync_last_run_outcome{outcome=\"applied\"} 1",
                     "sisync_last_run_outcome{outcome=\"failed\"} 0", "sisync_last_run_records_changed{entity=\"staff\",change=\"added\"} 3",
                     "sisync_records{entity=\"staff\",state=\"missing\"} 1", "sisync_runs{outcome=\"blocked\"} 1",
                     "sisync_last_run_roles{change=\"granted\"} 4", "# TYPE sisync_records gauge"] {
            XCTAssertTrue(text.contains(line + "\n"), "missing \(line) in\n\(text)")
        }
        let path = NSTemporaryDirectory() + "sisync-metrics-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        try MetricsFile.write(text, to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), text)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix((path as NSString).lastPathComponent + ".tmp") }, [])
    }

    /// sisyncctl journals administrators' portal actions; the code never appears.
    func testSisyncctlJournalsPortalActionsWithoutTheCode() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        w.write("staff.csv", staffCSV(manyStaff(1)))
        w.write("students.csv", "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Kim,Lima,,101,5,Enrolled,2026-2027\n")
        _ = w.sync(c)
        let journal = try TestDatagramServer()
        let env = ["SISYNC_JOURNAL_SOCKET": journal.path, "USER": "registrar"]
        let enable = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "access", "enable", "ST1"], environment: env)
        XCTAssertEqual(enable.code, 0, enable.stderr)
        let code = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(enable.stdout.utf8)) as? [String: Any])?["code"] as? String)
        var seen: [String] = []
        XCTAssertTrue(journal.waitFor("MESSAGE_ID=\(LogEventType.portalAccess.rawValue)", timeout: 5, into: &seen), "\(seen)")
        let entry = try XCTUnwrap(seen.last)
        XCTAssertTrue(entry.contains("SYSLOG_IDENTIFIER=sisyncctl\n"), entry)
        XCTAssertTrue(entry.contains("SISYNC_STUDENT_ID=ST1\n"), entry)
        XCTAssertTrue(entry.contains("registrar created the access code of student ST1"), entry)
        XCTAssertFalse(entry.contains(code) || entry.contains(code.replacingOccurrences(of: "-", with: "")), entry)
        XCTAssertEqual(enable.stderr, "", "notices go to the journal, not the terminal")
    }
}

/// Clock readings handed out in order, the last one repeated: a replay of what several
/// threads read, for the watchdog's arithmetic.
final class ClockReadings: @unchecked Sendable {
    private let lock = NSLock()
    private var readings: [UInt64]

    init(_ readings: [UInt64]) { self.readings = readings }

    func next() -> UInt64 {
        lock.withLock { readings.count > 1 ? readings.removeFirst() : readings[0] }
    }
}
