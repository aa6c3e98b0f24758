import Foundation

/// Prometheus text-format metrics for node_exporter's textfile collector, written after
/// every run: how the last run went and what the mirror holds, so that an alert can say
/// "no applied run for 2 hours" or "the guard blocked a run".
public struct MetricsFile {
    public struct Totals: Sendable {
        public var records: [(entity: String, active: Int, inactive: Int, missing: Int)] = []
        public var links: [(kind: String, count: Int)] = []
        public var linksToInactiveStaff = 0
        public var roles: [(source: String, count: Int)] = []
        public var runsByOutcome: [(outcome: String, count: Int)] = []
        /// The run whose hold stands (waiting for `run approve` or `run discard`), or 0.
        public var heldRun: Int64 = 0
        /// When the last applied or unchanged run started (Unix time), 0 before the first.
        public var lastSuccess: Double = 0
        /// Failed runs since the last run that did not fail.
        public var consecutiveFailures = 0
        /// `[sync] interval`, for alerts that say "no success for twice the interval".
        public var intervalSeconds: Double = 0
    }

    /// The file's text for a finished run.
    public static func text(last summary: RunSummary, totals: Totals) -> String {
        var out = ""
        func metric(_ name: String, _ help: String, _ type: String, _ samples: [(String, Double)]) { out += family(name, help, type, samples) }
        func label(_ pairs: [(String, String)]) -> String { labels(pairs) }
        let started = Timestamp.parse(summary.startedAt)?.timeIntervalSince1970 ?? 0
        let finished = summary.finishedAt.flatMap(Timestamp.parse)?.timeIntervalSince1970 ?? started
        metric("sisync_active", Self.activeHelp, "gauge", [("", 1)])
        metric("sisync_last_run_timestamp_seconds", "When the last run started (Unix time).", "gauge", [("", started)])
        metric("sisync_last_run_id", "The id of the last run.", "gauge", [("", Double(summary.runID ?? 0))])
        metric("sisync_last_run_outcome", "1 for the outcome of the last run.", "gauge",
               ["applied", "unchanged", "blocked", "failed"].map { (label([("outcome", $0)]), summary.outcome.rawValue == $0 ? 1 : 0) })
        metric("sisync_last_run_duration_seconds", "How long the last run took.", "gauge", [("", max(0, finished - started))])
        let lastSuccess = summary.outcome == .applied || summary.outcome == .unchanged ? started : totals.lastSuccess
        metric("sisync_last_success_timestamp_seconds", "When the last applied or unchanged run started (Unix time; 0 before the first).", "gauge", [("", lastSuccess)])
        metric("sisync_consecutive_failed_runs", "Failed runs in a row, up to the last run (0 when it did not fail).", "gauge", [("", Double(totals.consecutiveFailures))])
        metric("sisync_interval_seconds", "The configured [sync] interval between scheduled runs.", "gauge", [("", totals.intervalSeconds)])
        var changes: [(String, Double)] = []
        for (entity, c) in summary.entities.sorted(by: { $0.key < $1.key }) {
            for (kind, n) in [("added", c.added), ("updated", c.updated), ("deactivated", c.deactivated), ("reactivated", c.reactivated)] {
                changes.append((label([("entity", entity), ("change", kind)]), Double(n)))
            }
        }
        metric("sisync_last_run_records_changed", "Records the last run changed, by entity and change.", "gauge", changes)
        metric("sisync_last_run_links", "Links the last run made or removed, and users left ambiguous.", "gauge", [
            (label([("change", "made")]), Double(summary.linksMade)), (label([("change", "removed")]), Double(summary.linksRemoved)),
            (label([("change", "ambiguous")]), Double(summary.linksAmbiguous)),
        ])
        metric("sisync_last_run_roles", "Calculated roles the last run granted or revoked.", "gauge", [
            (label([("change", "granted")]), Double(summary.rolesGranted)), (label([("change", "revoked")]), Double(summary.rolesRevoked)),
        ])
        var records: [(String, Double)] = []
        for r in totals.records {
            records.append((label([("entity", r.entity), ("state", "active")]), Double(r.active)))
            records.append((label([("entity", r.entity), ("state", "inactive")]), Double(r.inactive)))
            records.append((label([("entity", r.entity), ("state", "missing")]), Double(r.missing)))
        }
        metric("sisync_records", "Records in the mirror by entity and state (missing: active but absent, waiting out deactivate_after).", "gauge", records)
        metric("sisync_links", "User links by kind.", "gauge", totals.links.map { (label([("kind", $0.kind)]), Double($0.count)) })
        metric("sisync_links_to_inactive_staff", "Users linked to staff who left (turnover clean-up).", "gauge", [("", Double(totals.linksToInactiveStaff))])
        metric("sisync_roles", "User roles by source.", "gauge", totals.roles.map { (label([("source", $0.source)]), Double($0.count)) })
        metric("sisync_runs", "Runs recorded in the database, by outcome (blocked = stopped by the guard, R5).", "gauge",
               totals.runsByOutcome.map { (label([("outcome", $0.outcome)]), Double($0.count)) })
        metric("sisync_held_run", "The id of the run the guard holds for review (sisyncctl run show/approve/discard), or 0.", "gauge",
               [("", Double(totals.heldRun))])
        return out
    }

    /// One metric family: its HELP and TYPE lines and its samples (`labels` as `labels(_:)` makes them).
    static func family(_ name: String, _ help: String, _ type: String, _ samples: [(labels: String, value: Double)]) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for (labels, value) in samples {
            let v = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            out += "\(name)\(labels) \(v)\n"
        }
        return out
    }

    /// `{name="value",…}`, the values escaped as the text format wants.
    static func labels(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\($0.0)=\"\($0.1.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n"))\"" }.joined(separator: ",") + "}"
    }

    static let activeHelp = "1 while this sisyncd holds the database and runs; 0 while it waits as a standby."

    /// A standby's file: it runs nothing, so it only says that it is not the active one.
    public static func standbyText() -> String {
        "# HELP sisync_active \(activeHelp)\n# TYPE sisync_active gauge\nsisync_active 0\n"
    }

    /// Several tenants' files as one (`sisyncd --tenants --metrics-file`): each sample gets
    /// a `tenant` label, and each metric's samples stay under its one HELP and TYPE.
    public static func combined(_ parts: [(tenant: String, text: String)]) -> String {
        var order: [String] = []
        var headers: [String: [String]] = [:]
        var samples: [String: [String]] = [:]
        for (tenant, text) in parts {
            let label = "tenant=\"\(tenant.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
            // Split at the byte "\n": as Swift Characters, "\r\n" is one, and a line ending
            // in "\r" would swallow the next.
            for bytes in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
                let line = String(decoding: bytes, as: UTF8.self)
                if line.hasPrefix("# ") {
                    let name = line.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
                    if headers[name] == nil { order.append(name); headers[name] = [] }
                    if headers[name]!.count < 2 && !headers[name]!.contains(line) { headers[name]!.append(line) }
                    continue
                }
                let end = line.firstIndex(where: { $0 == "{" || $0 == " " }) ?? line.endIndex
                let name = String(line[..<end])
                var rest = String(line[end...])
                if rest.hasPrefix("{") { rest = "{" + label + "," + rest.dropFirst() } else { rest = "{" + label + "}" + rest }
                if headers[name] == nil { order.append(name); headers[name] = [] }
                samples[name, default: []].append(name + rest)
            }
        }
        return order.map { ((headers[$0] ?? []) + (samples[$0] ?? [])).joined(separator: "\n") + "\n" }.joined()
    }

    /// Writes atomically: a temporary file beside the target, then rename, so the collector
    /// never reads half a file.
    public static func write(_ text: String, to path: String) throws(MetricsFileError) {
        let temp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw MetricsFileError(path: path, reason: "cannot create \(temp): \(String(cString: strerror(errno)))")
        }
        guard rename(temp, path) == 0 else {
            let e = errno
            unlink(temp)
            throw MetricsFileError(path: path, reason: "cannot rename \(temp) to it: \(String(cString: strerror(e)))")
        }
    }
}

/// Why the metrics file could not be written (the run itself is not affected).
public struct MetricsFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String {
        "\(path): \(reason); check that the directory exists and that sisyncd may write it ([sync] metrics_file; under systemd add the directory with ReadWritePaths= in a drop-in)"
    }
}

extension RosterStore {
    /// What the metrics file reports about the mirror, users and runs.
    public func metricsTotals(interval: Double = 0) throws -> MetricsFile.Totals {
        var t = MetricsFile.Totals()
        t.intervalSeconds = interval
        for kind in EntityKind.allCases {
            let s = try database.query("SELECT count(*) FILTER (WHERE active), count(*), count(missing_since) FROM \(unescaped: kind.table)")
            _ = try s.step()
            t.records.append((kind.rawValue, s.int(0), s.int(1) - s.int(0), s.int(2)))
        }
        var links: [String: Int] = ["auto": 0, "manual": 0]
        try database.forEachRow("SELECT kind, count(*) FROM links GROUP BY kind") { links[$0.text(0)] = $0.int(1) }
        t.links = links.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        t.linksToInactiveStaff = try database.int("SELECT count(*) FROM links l JOIN staff s ON s.staff_id = l.staff_id WHERE s.active = FALSE") ?? 0
        var roles: [String: Int] = ["calculated": 0, "manual": 0]
        try database.forEachRow("SELECT source, count(*) FROM user_roles GROUP BY source") { roles[$0.text(0)] = $0.int(1) }
        t.roles = roles.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var runs: [String: Int] = ["applied": 0, "unchanged": 0, "blocked": 0, "failed": 0]
        try database.forEachRow("SELECT outcome, count(*) FROM runs WHERE outcome <> 'running' GROUP BY outcome") { runs[$0.text(0)] = $0.int(1) }
        t.runsByOutcome = runs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        t.heldRun = try auditTrail.standingHold(at: Date())?.runID ?? 0
        let success = try database.query("SELECT started_at FROM runs WHERE outcome IN ('applied', 'unchanged') ORDER BY run_id DESC LIMIT 1")
        if try success.step() { t.lastSuccess = Timestamp.parse(success.text(0))?.timeIntervalSince1970 ?? 0 }
        success.reset()
        t.consecutiveFailures = try database.int("""
            SELECT count(*) FROM runs WHERE outcome = 'failed'
              AND run_id > coalesce((SELECT max(run_id) FROM runs WHERE outcome NOT IN ('failed', 'running')), 0)
            """) ?? 0
        return t
    }
}
