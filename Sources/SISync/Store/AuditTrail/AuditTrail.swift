import Foundation

/// The runs and the change log (R8): what every run and every administrator changed, who, when
/// and why. It owns `runs`, `changes`, `export_files` and `source_state`.
public final class AuditTrail {
    let database: any StoreDatabase
    /// The change feed, written beside the change log in the same transactions.
    let events: EventStore

    init(database: any StoreDatabase, events: EventStore) {
        self.database = database
        self.events = events
    }


    // MARK: runs

    /// Records the start of a run in its own committed transaction, so that even a run
    /// that later fails or is killed leaves its record (R1).
    public func beginRun(actor: String, trigger: Trigger, startedAt: Date) throws -> Int64 {
        let s = try database.query("INSERT INTO runs (started_at, outcome, actor, trigger) VALUES (\(Timestamp.format(startedAt)), 'running', \(actor), \(trigger.rawValue)) RETURNING run_id")
        defer { s.reset() }
        guard try s.step() else { throw StoreError.notFound(what: "the new run's id") }
        return s.int64(0)
    }

    /// Marks runs left `running` by a process that died (SIGKILL, power loss) as failed.
    /// Called by the one writer before it starts a run.
    public func closeInterruptedRuns(now: Date) throws {
        try database.run("""
            UPDATE runs SET outcome = 'failed', finished_at = \(Timestamp.format(now)),
              error = 'the run was interrupted (the process ended before it finished); nothing it planned was applied'
            WHERE outcome = 'running'
            """)
    }

    /// The content digest of the last run that applied or confirmed the export (R3).
    /// After a revert there is none: the database no longer mirrors that export, so the
    /// next run must compare it again.
    public func lastAppliedHash() throws -> String? {
        let s = try database.query("""
            SELECT content_hash FROM runs WHERE outcome IN ('applied', 'unchanged') AND (content_hash IS NOT NULL OR reverts IS NOT NULL)
            ORDER BY run_id DESC LIMIT 1
            """)
        defer { s.reset() }
        return try s.step() ? s.string(0) : nil
    }

    /// Each entity file's digest from the last applied run (empty after a revert, or
    /// before any run stored them).
    public func appliedFileHashes() throws -> [EntityKind: String] {
        var out: [EntityKind: String] = [:]
        try database.forEachRow("SELECT entity, sha256 FROM export_files") { r in
            if let k = EntityKind(rawValue: r.text(0)) { out[k] = r.text(1) }
        }
        return out
    }

    /// What the last successful runs got from each URL (ETag, Last-Modified, SHA-256), by
    /// `SourceStateKey`.
    public func sourceValidators() throws -> [String: SourceValidator] {
        var out: [String: SourceValidator] = [:]
        try database.forEachRow("SELECT url, etag, last_modified, sha256 FROM source_state WHERE sha256 IS NOT NULL") { r in
            out[r.text(0)] = SourceValidator(etag: r.string(1), lastModified: r.string(2), sha256: r.text(3))
        }
        return out
    }

    /// Saves the validators of a successful run's downloads (inside its transaction), by
    /// `SourceStateKey`. Rows an earlier version saved under the URL itself (or a plan it
    /// held, applied now) are dropped: they may hold a credential, and no run looks them up.
    func recordSourceValidators(_ validators: [String: SourceValidator], runID: Int64) throws {
        for (key, v) in validators {
            try database.run("""
                INSERT INTO source_state (url, etag, last_modified, sha256, run_id) VALUES (\(key), \(v.etag), \(v.lastModified), \(v.sha256), \(runID))
                ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, sha256 = excluded.sha256, run_id = excluded.run_id
                """)
        }
        try database.run("DELETE FROM source_state WHERE substr(url, 1, \(SourceStateKey.prefix.count)) <> \(SourceStateKey.prefix)")
    }

    /// Replaces the stored file digests (inside the run's transaction).
    func recordFileHashes(_ hashes: [EntityKind: String], runID: Int64) throws {
        try database.execute("DELETE FROM export_files")
        for (k, h) in hashes { try database.run("INSERT INTO export_files (entity, sha256, run_id) VALUES (\(k.rawValue), \(h), \(runID))") }
    }

    /// Writes the final record of a run that did not apply (the record phase), and for a
    /// failed run its `run.failed` event, in one transaction.
    public func recordEnding(_ summary: RunSummary) throws {
        try database.transaction {
            let batch = try events.batch(runID: summary.runID)
            try finishRun(summary)
            if summary.outcome == .failed, summary.runID != nil { try RunEvents.ended(summary, type: "run.failed", into: batch) }
            try batch.finish()
        }
    }

    /// Writes the run's final record (outcome, counts, error).
    public func finishRun(_ summary: RunSummary) throws {
        guard let id = summary.runID else { return }
        let recordsChanged = summary.entities.values.reduce(0) { $0 + $1.total }
        let entityCounts = String(decoding: try JSONEncoder().encode(summary.entities), as: UTF8.self)
        let problems = String(decoding: try JSONEncoder().encode(Array(summary.problems.prefix(1000))), as: UTF8.self)
        try database.run("""
            UPDATE runs SET finished_at = \(summary.finishedAt), outcome = \(summary.outcome.rawValue), error = \(summary.error), content_hash = \(summary.contentHash),
              staff_added = \(summary.staff.added), staff_updated = \(summary.staff.updated),
              staff_deactivated = \(summary.staff.deactivated), staff_reactivated = \(summary.staff.reactivated),
              links_made = \(summary.linksMade), links_removed = \(summary.linksRemoved), links_ambiguous = \(summary.linksAmbiguous),
              roles_granted = \(summary.rolesGranted), roles_revoked = \(summary.rolesRevoked),
              records_changed = \(recordsChanged), entity_counts = \(entityCounts), problems = \(problems),
              reverts = \(summary.reverts), approves = \(summary.approves)
            WHERE run_id = \(id)
            """)
    }

    /// Deletes change-log entries of runs older than `days` (R8 keeps at least that long).
    public func pruneHistory(days: Int, now: Date) throws {
        let cutoff = Timestamp.format(now.addingTimeInterval(-Double(days) * 86_400))
        try database.run("DELETE FROM changes WHERE run_id IN (SELECT run_id FROM runs WHERE started_at < \(cutoff))")
        // Held plans go with them, once their hold has ended.
        try database.run("DELETE FROM held_plans WHERE held_at < \(cutoff) AND (ended IS NOT NULL OR expires_at < \(Timestamp.format(now)))")
    }

    // MARK: administrator changes

    /// Writes the run's changes to the change log (inside its transaction), with COPY on
    /// PostgreSQL. Additions are recorded by the record's `added_run` (see
    /// `Schema.changeLogView`) and roles by `applyRoles`, so neither is written here.
    func recordChanges(of plan: Plan, runID: Int64, checkStop: () throws -> Void) throws {
        try database.insertRows(into: "changes", columns: ["run_id", "entity", "record_id", "field", "old_value", "new_value", "kind"]) { log in
            try plan.forEachChange(includingAdditions: false, includingRoles: false) { c in
                try log.add(runID)
                try log.add(c.entity)
                try log.add(c.id)
                try log.add(c.field)
                try log.add(c.old)
                try log.add(c.new)
                try log.add(c.kind.rawValue)
                try log.endRow()
                try checkStop()
            }
        }
    }

    /// Runs `body` in one transaction and records its changes with the administrator as actor.
    /// The change feed's events are derived from the same `Change` values, in the same
    /// transaction (`ChangeEvents`).
    func administer(actor: String, now: Date, _ body: () throws -> [Change]) throws -> [Change] {
        var changes: [Change] = []
        try administer(actor: actor, now: now, {
            changes = try body()
            try touchUsers(changes, at: now)
        }, log: { record in
            for c in changes { try record(c) }
        }, events: {
            changes.isEmpty ? nil : { sink in try ChangeEvents.write(changes, origin: .administrator, into: sink) }
        })
        return changes
    }

    /// Stamps `users.modified_at` of each user an administrator's change touched (SCIM's
    /// `meta.lastModified`, and its filter on it), whoever the actor.
    private func touchUsers(_ changes: [Change], at now: Date) throws {
        var seen = Set<String>()
        for c in changes where c.entity == "users" && seen.insert(c.id.lowercased()).inserted {
            try database.run("UPDATE users SET modified_at = \(Timestamp.format(now)) WHERE username = \(c.id)")
        }
    }

    /// `administer` for a change too large to hold as values (a user import of 200,000
    /// users): `body` writes, then `log` hands each change-log row to `record`, in order,
    /// and they go straight into `changes` (COPY on PostgreSQL). `events`, asked after
    /// `body`, streams the change feed's events (nil: none).
    func administer(actor: String, now: Date, _ body: () throws -> Void, log: ((Change) throws -> Void) throws -> Void,
                    events: () -> ((EventSink) throws -> Void)?) throws {
        try database.transaction {
            let at = Timestamp.format(now)
            let batch = try self.events.batch(runID: nil, actor: actor, at: at)
            try body()
            try database.insertRows(into: "changes", columns: ["entity", "record_id", "field", "old_value", "new_value", "kind", "actor", "at"]) { sink in
                try log { c in
                    try sink.add(c.entity); try sink.add(c.id); try sink.add(c.field)
                    try sink.add(c.old); try sink.add(c.new); try sink.add(c.kind.rawValue)
                    try sink.add(actor); try sink.add(at)
                    try sink.endRow()
                }
            }
            if let write = events() { try batch.write(write) }
            try batch.finish()
        }
    }
    static let runColumns = """
        runs.run_id, started_at, finished_at, outcome, error, actor, trigger, content_hash,
        staff_added, staff_updated, staff_deactivated, staff_reactivated,
        links_made, links_removed, links_ambiguous, roles_granted, roles_revoked, entity_counts, problems, reverts, approves,
        \(holdColumns)
        """
    /// Runs with their hold, if the guard held them.
    static let runsWithHolds = "runs LEFT JOIN held_plans h ON h.run_id = runs.run_id"

    private func runSummary(_ s: any StoreStatement) -> RunSummary {
        let ending = RunEnding(recorded: RunOutcome(rawValue: s.text(3)) ?? .failed, message: s.string(4), hold: runHold(s, from: 21))
        var r = RunSummary(runID: s.int64(0), startedAt: s.text(1), ending: ending, dryRun: false, actor: s.text(5), trigger: Trigger(rawValue: s.text(6)))
        r.finishedAt = s.string(2)
        r.contentHash = s.string(7)
        r.staff = RecordCounts(added: s.int(8), updated: s.int(9), deactivated: s.int(10), reactivated: s.int(11))
        r.linksMade = s.int(12); r.linksRemoved = s.int(13); r.linksAmbiguous = s.int(14)
        r.rolesGranted = s.int(15); r.rolesRevoked = s.int(16)
        r.entities = (try? JSONDecoder().decode([String: RecordCounts].self, from: Data(s.text(17).utf8))) ?? [:]
        r.problems = ((try? JSONDecoder().decode([String].self, from: Data(s.text(18).utf8))) ?? []).map(DisplayedURL.redacting(in:))
        r.reverts = s.isNull(19) ? nil : s.int64(19)
        r.approves = s.isNull(20) ? nil : s.int64(20)
        return r
    }

    /// The most recent runs, newest first.
    public func runs(limit: Int) throws -> [RunSummary] {
        var out: [RunSummary] = []
        try database.forEachRow("SELECT \(unescaped: Self.runColumns) FROM \(unescaped: Self.runsWithHolds) ORDER BY runs.run_id DESC LIMIT \(limit)") {
            out.append(runSummary($0))
        }
        return out
    }

    public func run(id: Int64) throws -> RunSummary? {
        let s = try database.query("SELECT \(unescaped: Self.runColumns) FROM \(unescaped: Self.runsWithHolds) WHERE runs.run_id = \(id)")
        defer { s.reset() }
        return try s.step() ? runSummary(s) : nil
    }

    public func lastRun() throws -> RunSummary? { try runs(limit: 1).first }

    /// The changes one run made, in the order they were recorded.
    public func changes(runID: Int64) throws -> [StoredChange] {
        let s = try database.query("""
            SELECT \(unescaped: Self.changeColumns) FROM changes c LEFT JOIN runs r USING (run_id) WHERE c.run_id = \(runID) ORDER BY c.change_id
            """)
        var out: [StoredChange] = []
        guard let run = try run(id: runID) else { return [] }
        for kind in EntityKind.allCases {
            let keys = kind.keyColumns
            let columns = keys.joined(separator: ", ")
            try database.forEachRow("SELECT \(unescaped: columns) FROM \(unescaped: kind.table) WHERE added_run = \(runID) ORDER BY \(unescaped: columns)") { row in
                let id = (0..<Int32(keys.count)).map { row.text($0) }.joined(separator: "/")
                out.append(StoredChange(runID: runID, at: run.startedAt, actor: run.actor, change: Change(entity: kind.rawValue, id: id, kind: .added)))
            }
        }
        out += try collectChanges(s)
        // Calculated roles granted by the run are recorded by their `granted_run`.
        try database.forEachRow("""
            SELECT username, role, school_year FROM user_roles WHERE granted_run = \(runID) ORDER BY username COLLATE NOCASE, role, school_year
            """) { row in
            let role = CalculatedRole(username: row.text(0), role: row.text(1), schoolYear: row.text(2))
            out.append(StoredChange(runID: runID, at: run.startedAt, actor: run.actor,
                                    change: Change(entity: "users", id: role.username, field: "role", old: nil, new: role.label, kind: .roleGranted)))
        }
        return out
    }

    /// The history of one record, oldest first.
    public func history(entity: EntityKind, id: String) throws -> [StoredChange] {
        let s = try database.query("""
            SELECT \(unescaped: Self.changeColumns) FROM changes c LEFT JOIN runs r USING (run_id)
            WHERE c.entity = \(entity.rawValue) AND c.record_id = \(id) ORDER BY c.change_id
            """)
        // The addition lives in the record itself (`added_run`), not in `changes`.
        let keys = entity.keyColumns
        let parts = keys.count == 1 ? [id] : id.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var out: [StoredChange] = []
        if parts.count == keys.count {
            var match: SQLQuery = "t.\(unescaped: keys[0]) = \(parts[0])"
            for (key, part) in zip(keys, parts).dropFirst() { match = "\(sql: match) AND t.\(unescaped: key) = \(part)" }
            try database.forEachRow("""
                SELECT t.added_run, r.started_at, r.actor FROM \(unescaped: entity.table) t JOIN runs r ON r.run_id = t.added_run WHERE \(sql: match)
                """) { row in
                out.append(StoredChange(runID: row.isNull(0) ? nil : row.int64(0), at: row.text(1), actor: row.text(2), change: Change(entity: entity.rawValue, id: id, kind: .added)))
            }
        }
        return out + (try collectChanges(s))
    }

    /// The columns `collectChanges` reads, from `changes c LEFT JOIN runs r`: an
    /// administrator's entry has its own time and actor, a run's entry those of its run.
    static let changeColumns = "c.run_id, coalesce(c.at, r.started_at), coalesce(c.actor, r.actor), c.entity, c.record_id, c.field, c.old_value, c.new_value, c.kind"

    private func collectChanges(_ s: any StoreStatement) throws -> [StoredChange] {
        var out: [StoredChange] = []
        try s.forEachRow { row in
            let kind = ChangeKind(rawValue: row.text(8)) ?? .updated
            out.append(StoredChange(runID: row.isNull(0) ? nil : row.int64(0), at: row.text(1), actor: row.text(2),
                                    change: Change(entity: row.text(3), id: row.text(4), field: row.string(5),
                                                   old: row.string(6), new: row.string(7), kind: kind)))
        }
        return out
    }

    /// The change-log entries of one user account, oldest first.
    public func userHistory(_ username: String) throws -> [StoredChange] {
        let s = try database.query("""
            SELECT \(unescaped: Self.changeColumns) FROM changes c LEFT JOIN runs r USING (run_id)
            WHERE c.entity = 'users' AND c.record_id = \(username) COLLATE NOCASE ORDER BY c.change_id
            """)
        // A bulk import's entries, kept in the rows it added (schema 7), come first: a
        // user's addition is the first thing in their history.
        var out: [StoredChange] = []
        for kept in [Schema.bulkAddedUsers(matching: "u.username = \(username)"), Schema.bulkAttachments(matching: "a.username = \(username)")] {
            out += try collectChanges(try database.query(kept))
        }
        out += try collectChanges(s)
        try database.forEachRow("""
            SELECT g.granted_run, r.started_at, r.actor, g.username, g.role, g.school_year FROM user_roles g JOIN runs r ON r.run_id = g.granted_run
            WHERE g.username = \(username) AND g.granted_run IS NOT NULL ORDER BY g.granted_run, g.role, g.school_year
            """) { row in
            let role = CalculatedRole(username: row.text(3), role: row.text(4), schoolYear: row.text(5))
            out.append(StoredChange(runID: row.int64(0), at: row.text(1), actor: row.text(2),
                                    change: Change(entity: "users", id: role.username, field: "role", old: nil, new: role.label, kind: .roleGranted)))
        }
        // Oldest first: by time, then run; entries of one run keep their recorded order.
        return out.enumerated().sorted {
            ($0.element.at, $0.element.runID ?? 0, $0.offset) < ($1.element.at, $1.element.runID ?? 0, $1.offset)
        }.map(\.element)
    }
    /// The newest run that applied any change (records, links, roles or approvals).
    public func latestChangingRun() throws -> Int64? {
        let s = try database.query("""
            SELECT run_id FROM runs r WHERE outcome IN ('applied', 'unchanged') AND (
              records_changed > 0 OR links_made > 0 OR links_removed > 0 OR roles_granted > 0 OR roles_revoked > 0
              OR EXISTS (SELECT 1 FROM changes c WHERE c.run_id = r.run_id))
            ORDER BY run_id DESC LIMIT 1
            """)
        defer { s.reset() }
        return try s.step() ? s.int64(0) : nil
    }
}
