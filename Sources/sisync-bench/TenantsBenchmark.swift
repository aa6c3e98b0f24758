import Foundation
import SISync

/// `sisync-bench tenants [--database URI] [--count 200] [--max-parallel-runs 2] [--scale N]`:
/// one `sisyncd --tenants` serving `count` tenants, every tenant on a 15 min interval: the
/// demo district, or with `--scale N` the synthetic district at that size (issue 34: four
/// district-size tenants). Each tenant has a schema of its own in one PostgreSQL database,
/// or without `--database` a SQLite file of its own. Measures a first cycle (every tenant
/// imported into its fresh store), a second cycle (SIGUSR1: every tenant again, unchanged),
/// the process's peak RSS and (PostgreSQL) the most connections it held at once.
/// Targets: a cycle in at most 1/10 of the interval, RSS <= 300 MB (demo tenants) or
/// <= 1.2 GB (district-size tenants), connections <= runs + 2.
struct TenantsBenchmark {
    let uri: String?
    let passwordFile: String?
    let count: Int
    let parallel: Int
    /// The export every tenant reads: the demo district's folder, or a synthetic district's.
    let export: String
    /// Set for synthetic districts: their peak RSS target is issue 34's.
    let districtSize: Bool

    func run() throws {
        let root = NSTemporaryDirectory() + "sisync-bench-tenants-\(getpid())"
        let directory = root + "/tenants.d"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let exportPath = URL(fileURLWithPath: export).standardizedFileURL.path
        let prefix = "bench_tenant_\(getpid())_"
        let schemas = (1...count).map { prefix + String(format: "%03d", $0) }
        for (i, schema) in schemas.enumerated() {
            let store = uri.map { "database = \($0)\ndatabase_schema = \(schema)\n" + (passwordFile.map { "database_password_file = \($0)\n" } ?? "") }
                ?? "database = \(root)/\(schema).db\n"
            let text = """
                [sync]
                \(store)interval = 15m
                school_year = 2026-2027
                [source]
                format = csv
                url = \(exportPath)/
                entities = staff, students, households, household_relationships, applicants, donors, attributes
                """
            try text.write(toFile: directory + String(format: "/t%03d.conf", i + 1), atomically: true, encoding: .utf8)
        }
        let password = try passwordFile.map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .newlines) }
        let monitor = try uri.map { try PostgresConnection(uri: $0, password: password, applicationName: "sisync-bench") }
        try monitor?.executeScript("SET client_min_messages TO warning")
        defer {
            for s in schemas { _ = try? monitor?.execute("DROP SCHEMA IF EXISTS \(PostgresSchema.quoted(s)) CASCADE") }
        }
        let sisyncd = Bundle.main.executableURL!.deletingLastPathComponent().appendingPathComponent("sisyncd")
        let child = Process()
        child.executableURL = sisyncd
        child.arguments = ["--tenants", directory, "--max-parallel-runs", String(parallel)]
        child.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try child.run()
        defer { if child.isRunning { child.terminate(); child.waitUntilExit() } }
        let pid = child.processIdentifier

        var maxConnections = 0
        /// Tenants whose runs table has at least `runs` finished runs (applied or unchanged).
        func tenantsWith(runs: Int) throws -> Int {
            guard let monitor else {
                return schemas.filter { schema in
                    guard let db = try? SQLiteDatabase(path: "\(root)/\(schema).db", readOnly: true) else { return false }
                    return ((try? db.int("SELECT count(*) FROM runs WHERE outcome IN ('applied', 'unchanged')")) ?? 0) >= runs
                }.count
            }
            let connections = Int(try monitor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1",
                                                      ["sisyncd/%/\(pid)"]).value(0, 0) ?? "0") ?? 0
            maxConnections = max(maxConnections, connections)
            let existing = try monitor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 AND to_regclass(nspname || '.runs') IS NOT NULL",
                                               [prefix + "%"]).rows.compactMap { $0[0] }
            guard !existing.isEmpty else { return 0 }
            let counts = existing.map { "(SELECT count(*) FROM \($0).runs WHERE outcome IN ('applied', 'unchanged'))" }
            var done = 0
            for chunk in stride(from: 0, to: counts.count, by: 50) {
                let sql = "SELECT " + counts[chunk..<min(chunk + 50, counts.count)].joined(separator: ", ")
                let row = try monitor.execute(sql).rows.first ?? []
                done += row.filter { (Int($0 ?? "0") ?? 0) >= runs }.count
            }
            return done
        }
        func waitForCycle(_ runs: Int, timeout: TimeInterval = 900) throws -> Double {
            let started = Date()
            while try tenantsWith(runs: runs) < count {
                guard child.isRunning else { throw NSError(domain: "sisyncd --tenants exited with \(child.terminationStatus)", code: 1) }
                guard Date().timeIntervalSince(started) < timeout else { throw NSError(domain: "the cycle took more than \(timeout) s", code: 2) }
                usleep(100_000)
            }
            return Date().timeIntervalSince(started)
        }
        print("tenants: \(count) reading \(exportPath), \(uri == nil ? "a SQLite file" : "one schema") each, --max-parallel-runs \(parallel)")
        let first = try waitForCycle(1)
        print(String(format: "  first cycle (every schema created and imported): %.1f s", first))
        kill(pid, SIGUSR1)
        let second = try waitForCycle(2)
        print(String(format: "  second cycle (SIGUSR1, every tenant unchanged): %.1f s", second))
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Double($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        let rss = hwm / 1024
        let interval = 900.0
        print("\ncycle target <= \(Int(interval / 10)) s (1/10 of the 15 min interval)")
        print(String(format: "first cycle   %6.1f s  %@", first, first <= interval / 10 ? "met" : "MISSED"))
        print(String(format: "second cycle  %6.1f s  %@", second, second <= interval / 10 ? "met" : "MISSED"))
        let rssTarget = districtSize ? 1_200.0 : 300
        print(String(format: "peak RSS      %6.0f MB (target <= %.0f: %@)", rss, rssTarget, rss <= rssTarget ? "met" : "MISSED"))
        if monitor != nil {
            print("connections   \(maxConnections) at most (target <= \(parallel + 2): \(maxConnections <= parallel + 2 ? "met" : "MISSED"))")
        }
    }
}
