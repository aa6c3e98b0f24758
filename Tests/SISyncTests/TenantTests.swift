import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15's many districts: `sisyncd --tenants DIR`, every `DIR/NAME.conf` a tenant with
/// its own schema, claimed by its own lock; several sisyncd share the tenants, each served
/// by exactly one. Real PostgreSQL, real processes, real signals. These always run on
/// PostgreSQL.
final class TenantTests: XCTestCase {
    private let host = ProcessInfo.processInfo.hostName

    /// `count` tenants, each a workspace of its own (schema, export, configuration), copied
    /// into one tenants directory as `t01.conf` ….
    private func tenants(_ count: Int, directory: String) throws -> [String: Workspace] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var out: [String: Workspace] = [:]
        for i in 1...count {
            let w = Workspace(postgres: try TestPostgresServer.shared())
            w.configure(sync: "interval = 1h\nstandby_poll = 1s")
            w.write("staff.csv", staffCSV(manyStaff(3)))
            let name = String(format: "t%02d", i)
            try FileManager.default.copyItem(atPath: w.configPath, toPath: directory + "/\(name).conf")
            out[name] = w
        }
        return out
    }

    /// The sisyncd pids that hold each tenant's daemon lock, from `pg_locks` and the holding
    /// sessions' `application_name` (`sisyncd/HOST/PID`).
    private func holders(_ tenants: [String: Workspace]) throws -> [String: [Int32]] {
        let admin = try PostgresConnection(uri: TestPostgresServer.shared().uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
        var out: [String: [Int32]] = [:]
        for (name, w) in tenants {
            let key = Int64(try admin.execute("SELECT hashtextextended($1, 0)", ["sisync daemon lock: schema \(w.schema)"]).value(0, 0) ?? "0") ?? 0
            let high = String(UInt32(truncatingIfNeeded: UInt64(bitPattern: key) >> 32)), low = String(UInt32(truncatingIfNeeded: UInt64(bitPattern: key)))
            let rows = try admin.execute("""
                SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1
                """, [high, low]).rows
            out[name] = rows.compactMap { $0[0].flatMap { $0.split(separator: "/").last.flatMap { Int32($0) } } }
        }
        return out
    }

    /// Waits (bounded) until every tenant is held by exactly one of `daemons` and its last
    /// run applied (or found the export unchanged, as a new holder's first run does).
    private func waitUntilServed(_ tenants: [String: Workspace], by daemons: [RunningDaemon], timeout: TimeInterval = 60,
                                 runsAfter: [String: Int64] = [:]) throws -> [String: [Int32]] {
        let pids = Set(daemons.map(\.pid))
        let deadline = Date().addingTimeInterval(timeout)
        var seen: [String: [Int32]] = [:]
        repeat {
            seen = try holders(tenants)
            let served = seen.allSatisfy { $0.value.count == 1 && pids.contains($0.value[0]) }
            // A schema not made yet has no run.
            let applied = served && tenants.allSatisfy { name, w in
                guard let last = (try? w.store().auditTrail.runs(limit: 1).first) ?? nil, last.outcome == .applied || last.outcome == .unchanged else { return false }
                return (last.runID ?? 0) > (runsAfter[name] ?? 0)
            }
            if served && applied { return seen }
            usleep(100_000)
        } while Date() < deadline
        XCTFail("not every tenant is served by exactly one sisyncd: \(seen.sorted { $0.key < $1.key }); their logs:\n" + daemons.map(\.seen).joined(separator: "\n---\n"))
        return seen
    }

    /// Three sisyncd over 12 tenants: every tenant is served by exactly one; SIGKILL one and
    /// its tenants are served by the others within `standby_poll` + 5 s; start it again and
    /// nothing is served twice. Each run of a tenant finished before its next started.
    func testThreeSisyncdShareTwelveTenantsAndTakeOverAKilledOnesTenants() throws {
        let root = NSTemporaryDirectory() + "sisync-tenants-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let all = try tenants(12, directory: root + "/tenants.d")
        // At most 6 each: the three share the 12, and two are enough for them all.
        var daemons = try (0..<3).map { _ in try RunningDaemon(["--tenants", root + "/tenants.d", "--max-parallel-runs", "2", "--max-tenants", "6"]) }
        defer { for d in daemons where d.process.isRunning { kill(d.pid, SIGKILL) } }
        let first = try waitUntilServed(all, by: daemons)
        let perDaemon = Dictionary(grouping: first.values.map { $0[0] }, by: { $0 }).mapValues(\.count)
        XCTAssertTrue(perDaemon.values.allSatisfy { $0 <= 6 }, "--max-tenants caps each: \(perDaemon)")

        // Kill the one that serves the most tenants.
        let counts = Dictionary(grouping: first.values.map { $0[0] }, by: { $0 }).mapValues(\.count)
        let victim = try XCTUnwrap(daemons.first { $0.pid == counts.max { $0.value < $1.value }?.key })
        let orphaned = first.filter { $0.value == [victim.pid] }.map(\.key)
        XCTAssertFalse(orphaned.isEmpty)
        // Their takeover shows as a run after the ones made so far.
        var lastRuns: [String: Int64] = [:]
        for name in orphaned { lastRuns[name] = try all[name]!.store().auditTrail.runs(limit: 1).first?.runID ?? 0 }
        kill(victim.pid, SIGKILL)
        XCTAssertEqual(victim.exited.wait(timeout: .now() + 10), .success)
        let killed = Date()
        let survivors = daemons.filter { $0.pid != victim.pid }
        let after = try waitUntilServed(all, by: survivors, timeout: 1 + 5, runsAfter: lastRuns)
        XCTAssertLessThanOrEqual(Date().timeIntervalSince(killed), 1 + 5, "the killed one's tenants were served again within standby_poll + 5 s")
        XCTAssertTrue(orphaned.allSatisfy { after[$0]?.count == 1 })

        // Started again, it finds every tenant held and waits for them all.
        let again = try RunningDaemon(["--tenants", root + "/tenants.d"])
        daemons.append(again)
        for name in all.keys { XCTAssertTrue(again.waitFor("tenant \(name) is held by", timeout: 20), again.seen) }
        let last = try holders(all)
        XCTAssertTrue(last.allSatisfy { $0.value.count == 1 && $0.value[0] != again.pid }, "nothing is served twice: \(last)")
        for w in all.values {
            let runs = try w.store().auditTrail.runs(limit: 20).sorted { ($0.runID ?? 0) < ($1.runID ?? 0) }
            for (a, b) in zip(runs, runs.dropFirst()) { XCTAssertLessThanOrEqual(a.finishedAt ?? "~", b.startedAt) }
        }
    }

    /// SIGUSR1 runs every tenant again; the server cutting the one session that holds all the
    /// tenants' locks makes the process claim them again (no tenant is held twice, and each
    /// runs again); a reload that removes a tenant's file frees its lock at once.
    func testSignalsACutLockSessionAndARemovedTenant() throws {
        let root = NSTemporaryDirectory() + "sisync-tenants-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/tenants.d"
        let all = try tenants(3, directory: directory)
        let d = try RunningDaemon(["--tenants", directory, "--max-parallel-runs", "1"])
        defer { if d.process.isRunning { kill(d.pid, SIGKILL) } }
        _ = try waitUntilServed(all, by: [d])
        func lastRuns() throws -> [String: Int64] { try all.mapValues { try $0.store().auditTrail.runs(limit: 1).first?.runID ?? 0 } }

        let served = try lastRuns()
        kill(d.pid, SIGUSR1)
        _ = try waitUntilServed(all, by: [d], timeout: 30, runsAfter: served)

        let before = try lastRuns()
        let admin = try PostgresConnection(uri: TestPostgresServer.shared().uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
        // The lock session is the one of this process that holds advisory locks between runs.
        let cut = try admin.execute("""
            SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
            WHERE a.application_name = $1 AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)
            """, ["sisyncd/\(host)/\(d.pid)"])
        XCTAssertEqual(cut.rowCount, 1, "one session holds all the tenants' locks")
        XCTAssertTrue(d.waitFor("lost its lock", timeout: 30), d.seen)
        let again = try waitUntilServed(all, by: [d], timeout: 30, runsAfter: before)
        XCTAssertTrue(again.values.allSatisfy { $0 == [d.pid] }, "claimed again, once each: \(again)")

        try FileManager.default.removeItem(atPath: directory + "/t02.conf")
        kill(d.pid, SIGHUP)
        XCTAssertTrue(d.waitFor("tenant t02 removed", timeout: 30), d.seen)
        XCTAssertEqual(try holders(["t02": all["t02"]!])["t02"], [], "a removed tenant's lock is free")
        XCTAssertEqual(try holders(all.filter { $0.key != "t02" }).values.map { $0 }, [[d.pid], [d.pid]])
    }

    /// A tenant's run SIGUSR1 asked for is recorded as `signal`; its first run, `schedule`.
    func testATenantRunSIGUSR1AskedForIsRecordedAsSignal() throws {
        let root = NSTemporaryDirectory() + "sisync-tenants-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/tenants.d"
        let all = try tenants(2, directory: directory)
        let d = try RunningDaemon(["--tenants", directory])
        defer { if d.process.isRunning { kill(d.pid, SIGKILL) } }
        _ = try waitUntilServed(all, by: [d])
        let served = try all.mapValues { try $0.store().auditTrail.runs(limit: 1).first?.runID ?? 0 }
        kill(d.pid, SIGUSR1)
        _ = try waitUntilServed(all, by: [d], timeout: 30, runsAfter: served)
        for (name, w) in all {
            XCTAssertEqual(try w.store().auditTrail.runs(limit: 2).map(\.trigger), [.signal, .schedule], name)
        }
        kill(d.pid, SIGTERM)
        XCTAssertEqual(d.exited.wait(timeout: .now() + 10), .success)
    }

    /// Issue 26 item 3: two tenants whose SQLite databases sit in one folder, each with its
    /// own OneRoster zip of disjoint ids, run in parallel by one `sisyncd --tenants`, five
    /// times (each time with one more id, so every run applies): every run applies and each
    /// mirror holds only its own ids, never one of the other's (0.2 unpacked both bundles
    /// to the same names and tenant b's mirror held tenant a's staff).
    func testIssue26Item3TenantsInOneFolderNeverReadEachOthersDownloads() throws {
        let root = NSTemporaryDirectory() + "sisync-tenants-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/tenants.d", folder = root + "/state"
        for d in [directory, folder] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let names = ["a", "b"]
        func ids(_ name: String, round: Int) -> [String] { (1...3000).map { "\(name)-\($0)" } + (1...round).map { "\(name)-round\($0)" } }
        func writeBundles(round: Int) {
            for n in names {
                let bytes = Data(PrivateDownloadTests.staffBundle(ids(n, round: round)))
                XCTAssertTrue(FileManager.default.createFile(atPath: root + "/\(n).zip.part", contents: bytes))
                XCTAssertEqual(rename(root + "/\(n).zip.part", root + "/\(n).zip"), 0)
            }
        }
        writeBundles(round: 1)
        for n in names {
            try PrivateDownloadTests.writeConfiguration(directory + "/\(n).conf", database: folder + "/\(n).db", url: root + "/\(n).zip")
        }
        let d = try RunningDaemon(["--tenants", directory, "--max-parallel-runs", "2"], environment: ["STATE_DIRECTORY": "", "RUNTIME_DIRECTORY": ""])
        defer { if d.process.isRunning { kill(d.pid, SIGKILL) } }
        func runs(_ n: String) -> [RunSummary] {
            (try? RosterStore(location: .sqlite(path: folder + "/\(n).db"), mustExist: true).auditTrail.runs(limit: 20)) ?? []
        }
        for round in 1...5 {
            if round > 1 {
                writeBundles(round: round)
                kill(d.pid, SIGUSR1)
            }
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline && !names.allSatisfy({ n in runs(n).count >= round && runs(n).allSatisfy { $0.finishedAt != nil } }) { usleep(50_000) }
            for n in names {
                let all = runs(n)
                XCTAssertEqual(all.count, round, "tenant \(n), round \(round): \(d.seen)")
                XCTAssertEqual(all.map(\.outcome), Array(repeating: RunOutcome.applied, count: all.count),
                               "tenant \(n), round \(round): \(all.map { $0.error ?? "" })")
            }
        }
        for n in names {
            var stored: [String] = []
            try RosterStore(location: .sqlite(path: folder + "/\(n).db"), mustExist: true).database
                .prepare("SELECT staff_id FROM staff").forEachRow { stored.append($0.text(0)) }
            let other = stored.filter { !$0.hasPrefix(n + "-") }
            XCTAssertEqual(other.count, 0, "tenant \(n)'s mirror holds another tenant's ids: \(other.prefix(5))")
            XCTAssertEqual(Set(stored), Set(ids(n, round: 5)), "tenant \(n) holds all its own")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".sisync") }, [],
                       "no run's directory or file is left")
        kill(d.pid, SIGTERM)
        XCTAssertEqual(d.exited.wait(timeout: .now() + 10), .success)
    }

    /// The STATUS line sums the tenants up: `12 tenants (3 on other hosts): 11 ok, 1 failed (lincoln: HTTP 503); next 08:30`.
    func testTheStatusLineSumsTheTenantsUp() {
        func tenant(_ name: String, held: Bool = true, ending: RunEnding? = .applied, configured: Bool = true) -> TenantSupervisor.Tenant {
            let t = TenantSupervisor.Tenant(name: name, file: "/x/\(name).conf", stamp: "")
            t.configuration = configured ? Configuration() : nil
            t.held = held
            if let ending {
                t.last = RunSummary(runID: 1, startedAt: "2026-12-01T08:00:00Z", ending: ending, dryRun: false, actor: "sync", trigger: .schedule)
            }
            t.nextRun = Date().addingTimeInterval(3600)
            return t
        }
        let elsewhere = tenant("polk", held: false, ending: nil)
        elsewhere.holder = "sisyncd on sync2 pid 812"
        let line = TenantSupervisor.statusLine([tenant("adams"), tenant("lincoln", ending: .failed(.unavailable, message: "HTTP 503 from the SIS")),
                                                elsewhere, tenant("taft", configured: false), tenant("wait", held: false, ending: nil)],
                                               timeZone: TimeZone(identifier: "UTC")!)
        // A tenant waited for with no known holder (a claim error, --max-tenants) is not "on other hosts".
        XCTAssertTrue(line.hasPrefix("5 tenants (1 on other hosts): 1 ok, 1 failed (lincoln: HTTP 503 from the SIS), 1 not configured (taft); next "), line)
    }

    /// A tenant whose source fails and one whose configuration is broken touch nobody else:
    /// the other tenants' runs apply, the journal names the tenant, the process stays up;
    /// SIGHUP picks up the repaired configuration without touching the others.
    func testABrokenTenantAffectsOnlyItselfAndAReloadAddsItBack() throws {
        let root = NSTemporaryDirectory() + "sisync-tenants-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/tenants.d"
        var all = try tenants(2, directory: directory)
        let failing = try TestHTTPServer { _ in .init(status: 500, body: Array("down".utf8)) }
        let down = Workspace(postgres: try TestPostgresServer.shared())
        down.configure(sync: "interval = 1h\nstandby_poll = 1s", url: failing.baseURL + "/")
        try FileManager.default.copyItem(atPath: down.configPath, toPath: directory + "/down.conf")
        try "[sync]\ninterval = soon\n".write(toFile: directory + "/broken.conf", atomically: true, encoding: .utf8)

        let d = try RunningDaemon(["--tenants", directory, "--metrics-file", root + "/all.prom"])
        defer { if d.process.isRunning { kill(d.pid, SIGKILL) } }
        _ = try waitUntilServed(all, by: [d])
        XCTAssertTrue(d.waitFor("tenant broken: configuration rejected", timeout: 10), d.seen)
        XCTAssertTrue(d.waitFor("run 1 failed", timeout: 30), d.seen)
        XCTAssertEqual(try down.store().auditTrail.runs(limit: 1).first?.outcome, .failed)
        XCTAssertTrue(d.seen.contains("(run=1 tenant=down)"), "the failed run's entries name its tenant: \(d.seen)")
        XCTAssertTrue(d.process.isRunning)
        // Written once the runs in flight are over.
        _ = file(root + "/all.prom", comesToContain: "sisync_active{tenant=\"down\"} 1")
        let metrics = try String(contentsOfFile: root + "/all.prom", encoding: .utf8)
        XCTAssertTrue(metrics.contains("sisync_active{tenant=\"t01\"} 1"), metrics)
        XCTAssertEqual(metrics.components(separatedBy: "# TYPE sisync_active gauge").count, 2, "one HELP/TYPE per metric")

        // sisyncctl works on one tenant, and lists them all with who serves them.
        let one = try runProcess("sisyncctl", ["--tenants", directory, "--tenant", "t01", "--json", "runs", "--limit", "1"])
        XCTAssertEqual(one.code, 0, one.stderr)
        XCTAssertTrue(one.stdout.contains("\"outcome\": \"applied\""), one.stdout)
        XCTAssertEqual(try runProcess("sisyncctl", ["--tenants", directory, "--tenant", "nope", "status"]).code, 78)
        let list = try runProcess("sisyncctl", ["--tenants", directory, "status"])
        XCTAssertEqual(list.code, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("4 tenants in \(directory)"), list.stdout)
        let served = list.stdout.split(separator: "\n").filter { $0.hasPrefix("t01 ") || $0.hasPrefix("down ") }
        XCTAssertEqual(served.count, 2, list.stdout)
        for line in served { XCTAssertTrue(line.contains("sisyncd on \(host) pid \(d.pid)"), String(line)) }
        XCTAssertTrue(list.stdout.split(separator: "\n").contains { $0.hasPrefix("broken") && $0.contains("interval") }, list.stdout)

        // Repaired and reloaded: served, while the others stay as they were.
        let repaired = Workspace(postgres: try TestPostgresServer.shared())
        repaired.configure(sync: "interval = 1h\nstandby_poll = 1s")
        repaired.write("staff.csv", staffCSV(manyStaff(2)))
        try FileManager.default.removeItem(atPath: directory + "/broken.conf")
        try FileManager.default.copyItem(atPath: repaired.configPath, toPath: directory + "/broken.conf")
        kill(d.pid, SIGHUP)
        all["broken"] = repaired
        _ = try waitUntilServed(all, by: [d])
        XCTAssertEqual(try all["t01"]!.store().auditTrail.runs(limit: 5).count, 1, "a reload does not touch the other tenants")
        kill(d.pid, SIGTERM)
        XCTAssertEqual(d.exited.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(d.process.terminationStatus, 0)
    }
}
