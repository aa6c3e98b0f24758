import Foundation

/// Held runs (R5 extended): the plan a blocked run kept, and how its hold ended.
extension AuditTrail {
    static let holdColumns = "h.run_id, h.held_at, h.expires_at, h.change_mark, h.ended, h.ended_at, h.ended_by, h.ended_run, h.settings_digest"

    func runHold(_ s: any StoreStatement, from first: Int32) -> RunHold? {
        guard !s.isNull(first) else { return nil }
        return RunHold(runID: s.int64(first), heldAt: s.text(first + 1), expiresAt: s.text(first + 2), changeMark: s.int64(first + 3),
                       settingsDigest: s.string(first + 8),
                       ended: s.string(first + 4).flatMap(RunHold.End.init(rawValue:)), endedAt: s.string(first + 5),
                       endedBy: s.string(first + 6), endedRun: s.isNull(first + 7) ? nil : s.int64(first + 7))
    }

    /// Keeps a blocked run's plan and records the run, in one transaction. The hold it
    /// replaces, if one stood, ends as superseded: only the newest plan can be approved.
    public func hold(_ plan: HeldPlan, summary: RunSummary, settingsDigest: String, at now: Date, days: Int) throws {
        guard let runID = summary.runID else { return }
        let text = try plan.encoded()
        try database.transaction {
            let stamp = Timestamp.format(now)
            let batch = try events.batch(runID: runID)
            try batch.write("hold.superseded", selecting: Self.endingHolds(except: nil, at: stamp))
            try database.run("""
                UPDATE held_plans SET ended = 'superseded', ended_at = \(stamp), ended_by = \(summary.actor), ended_run = \(runID)
                WHERE ended IS NULL AND expires_at > \(stamp)
                """)
            let changeMark = try database.int("SELECT coalesce(max(change_id), 0) FROM changes") ?? 0
            let expires = Timestamp.format(now.addingTimeInterval(Double(days) * 86_400))
            try database.run("""
                INSERT INTO held_plans (run_id, held_at, expires_at, change_mark, plan, settings_digest)
                VALUES (\(runID), \(stamp), \(expires), \(changeMark), \(text), \(settingsDigest))
                """)
            try finishRun(summary)
            try RunEvents.ended(summary, type: "run.held", into: batch)
            try batch.finish()
        }
    }

    /// The hold of run `id`, standing or ended; nil when the run was not held.
    public func hold(run id: Int64) throws -> RunHold? {
        let s = try database.query("SELECT \(unescaped: Self.holdColumns) FROM held_plans h WHERE h.run_id = \(id)")
        defer { s.reset() }
        return try s.step() ? runHold(s, from: 0) : nil
    }

    /// The hold that stands now (not ended, not expired), if any.
    public func standingHold(at now: Date) throws -> RunHold? {
        let s = try database.query("""
            SELECT \(unescaped: Self.holdColumns) FROM held_plans h WHERE h.ended IS NULL AND h.expires_at > \(Timestamp.format(now)) ORDER BY h.run_id DESC LIMIT 1
            """)
        defer { s.reset() }
        return try s.step() ? runHold(s, from: 0) : nil
    }

    /// The plan run `id` kept.
    public func heldPlan(run id: Int64) throws -> HeldPlan? {
        let s = try database.query("SELECT plan FROM held_plans WHERE run_id = \(id)")
        defer { s.reset() }
        return try s.step() ? try HeldPlan.decode(s.text(0)) : nil
    }

    /// Ends every standing hold (inside an applying run's transaction): the one it approves
    /// as approved, the others as superseded, since the mirror they were planned on changed.
    /// An expired hold stays expired.
    func endHolds(by runID: Int64, actor: String, at stamp: String, approving: Int64?, events batch: EventBatch) throws {
        try batch.write("hold.superseded", selecting: Self.endingHolds(except: approving, at: stamp))
        if let approving {
            try batch.write { sink in
                sink.subject.int("run_id", approving)
                try sink.add("hold.approved")
            }
        }
        try database.run("""
            UPDATE held_plans SET ended = CASE WHEN run_id = \(approving ?? 0) THEN 'approved' ELSE 'superseded' END,
              ended_at = \(stamp), ended_by = \(actor), ended_run = \(runID) WHERE ended IS NULL AND expires_at > \(stamp)
            """)
    }

    /// The `hold.superseded` events of the holds that stand at `stamp` and end now, but the
    /// one a run approves (set-based, for `EventBatch`).
    static func endingHolds(except approving: Int64?, at stamp: String) -> SQLQuery {
        """
        SELECT row_number() OVER () AS seq, '{"run_id":' || run_id || '}' || char(9) || '{}' AS item
        FROM held_plans WHERE ended IS NULL AND expires_at > \(stamp) AND run_id <> \(approving ?? 0)
        """
    }

    /// `run discard ID`: drops a standing hold; the plan stays readable in `run show`.
    public func discardHold(run id: Int64, actor: String, at now: Date) throws -> RunHold {
        try database.transaction {
            let hold = try standing(id, at: now).hold
            let batch = try events.batch(runID: nil, actor: actor, at: Timestamp.format(now))
            try database.run("UPDATE held_plans SET ended = 'discarded', ended_at = \(Timestamp.format(now)), ended_by = \(actor) WHERE run_id = \(id) AND ended IS NULL")
            try batch.write { sink in
                sink.subject.int("run_id", id)
                try sink.add("hold.discarded")
            }
            try batch.finish()
            return hold
        }
    }

    /// Run `id` and its hold if the hold still stands, or why not.
    func standing(_ id: Int64, at now: Date) throws -> (run: RunSummary, hold: RunHold) {
        guard let run = try run(id: id) else { throw HoldError.noSuchRun(id) }
        guard let hold = run.hold else { throw HoldError.notHeld(id) }
        if hold.isExpired(at: now) { throw HoldError.expired(id, at: hold.expiresAt) }
        guard hold.ended == nil else { throw HoldError.ended(id, how: hold.describe(at: now)) }
        return (run, hold)
    }

    /// An administrator's change to what the held plan's links were planned on, made after
    /// the change-log entry `mark`: a user added or removed, a link made or removed, an email
    /// or an approval changed. Logins, passwords, pairings, roles and schools do not count.
    func userChange(after mark: Int64) throws -> StoredChange? {
        let s = try database.query("""
            SELECT entity, record_id, field, old_value, new_value, kind, actor, at FROM changes
            WHERE change_id > \(mark) AND run_id IS NULL AND entity = 'users' AND (field IS NULL OR field IN ('link', 'email', 'approved'))
            ORDER BY change_id LIMIT 1
            """)
        defer { s.reset() }
        guard try s.step() else { return nil }
        let change = Change(entity: s.text(0), id: s.text(1), field: s.string(2), old: s.string(3), new: s.string(4),
                            kind: ChangeKind(rawValue: s.text(5)) ?? .updated)
        return StoredChange(runID: nil, at: s.text(7), actor: s.text(6), change: change)
    }
}

extension AuditTrail {
    /// The first run after `id` that applied (or confirmed) an export or a revert.
    func appliedRun(after id: Int64) throws -> Int64? {
        let s = try database.query("SELECT run_id FROM runs WHERE run_id > \(id) AND outcome IN ('applied', 'unchanged') ORDER BY run_id LIMIT 1")
        defer { s.reset() }
        return try s.step() ? s.int64(0) : nil
    }
}
