import Foundation

extension RosterStore {

    /// Undoes run `id` as a new run that records `reverts = id` (README, `run revert`): changed
    /// fields get their old values, deactivated records come back, reactivated ones go
    /// inactive again, records the run added become inactive (nothing is deleted), and links
    /// it made or removed are restored. Calculated roles are then recomputed on the restored
    /// data (R7), which gives back the roles the run changed. One transaction (R1).
    /// Restored records get a zero fingerprint, so the next run compares them field by field
    /// with the export and re-applies what the SIS still says.
    public func revert(run id: Int64, actor: String, roles settings: RoleSettings, now: Date) throws -> RunSummary {
        guard try auditTrail.run(id: id) != nil else { throw RevertError.noSuchRun(id) }
        let latest = try auditTrail.latestChangingRun()
        guard latest == id else { throw RevertError.notLatest(requested: id, latest: latest) }
        let stamp = Timestamp.format(now)
        let runID = try auditTrail.beginRun(actor: actor, trigger: "revert", startedAt: now)
        var summary = RunSummary(runID: runID, startedAt: stamp, outcome: .applied, dryRun: false, actor: actor, trigger: "revert")
        summary.reverts = id
        do {
            try database.transaction {
                var changes: [Change] = []
                var counts: [EntityKind: RecordCounts] = [:]
                func keyMatch(_ kind: EntityKind, _ display: String) -> (sql: String, values: [String]) {
                    let keys = kind.keyColumns
                    let parts = keys.count == 1 ? [display] : display.components(separatedBy: "/")
                    if parts.count == keys.count {
                        return (keys.map { "\($0) = ?" }.joined(separator: " AND "), parts)
                    }
                    return (keys.joined(separator: " || '/' || ") + " = ?", [display])
                }
                func execute(_ sql: String, _ values: [String?]) throws {
                    let s = try database.prepare(sql)
                    for (i, v) in values.enumerated() { try s.bind(Int32(i + 1), v) }
                    try s.run()
                }
                let previousDeactivation = try database.prepare("""
                    SELECT coalesce(c.at, r.started_at) FROM changes c LEFT JOIN runs r USING (run_id)
                    WHERE c.entity = ? AND c.record_id = ? AND c.kind = 'deactivated' AND c.change_id < (
                      SELECT min(change_id) FROM changes WHERE run_id = ?) ORDER BY c.change_id DESC LIMIT 1
                    """)
                // A link comes back as an auto link (the next run re-checks it, R6); a user
                // removed since then stays removed.
                let restoreLink = """
                    INSERT OR IGNORE INTO links (username, staff_id, kind, reason, until, created_at, created_by)
                    SELECT username, ?2, 'auto', NULL, NULL, ?3, ?4 FROM users WHERE username = ?1
                    """
                // The run's own changes, newest first.
                let stored = try self.auditTrail.changes(runID: id).map(\.change).filter { $0.kind != .added }
                for c in stored.reversed() {
                    if c.entity == "users" {
                        switch (c.kind, c.field) {
                        case (.linked, _):
                            try execute("DELETE FROM links WHERE username = ?", [c.id])
                            if let old = c.old { try execute(restoreLink, [c.id, old, stamp, actor]) }
                            changes.append(Change(entity: "users", id: c.id, field: "link", old: c.new, new: c.old, kind: c.old == nil ? .unlinked : .linked))
                        case (.unlinked, _):
                            guard let old = c.old else { continue }
                            try execute("DELETE FROM links WHERE username = ?", [c.id])
                            try execute(restoreLink, [c.id, old, stamp, actor])
                            changes.append(Change(entity: "users", id: c.id, field: "link", old: nil, new: old, kind: .linked))
                        case (.updated, "approved"):
                            try execute("UPDATE users SET approved = ? WHERE username = ?", [c.old == "true" ? "1" : "0", c.id])
                            changes.append(Change(entity: "users", id: c.id, field: "approved", old: c.new, new: c.old, kind: .updated))
                        default:
                            continue  // roles: recomputed below from the restored data
                        }
                        continue
                    }
                    guard let kind = EntityKind(rawValue: c.entity) else { continue }
                    let (match, keyValues) = keyMatch(kind, c.id)
                    switch c.kind {
                    case .updated:
                        guard let field = c.field, kind.valueColumns.contains(field) || field == "missing_since" else { continue }
                        try execute("UPDATE \(kind.table) SET \(field) = ?, fingerprint = 0, updated_run = ? WHERE \(match)", [c.old, String(runID)] + keyValues)
                        changes.append(Change(entity: c.entity, id: c.id, field: field, old: c.new, new: c.old, kind: .updated))
                        counts[kind, default: RecordCounts()].updated += 1
                    case .deactivated:
                        try execute("UPDATE \(kind.table) SET active = TRUE, deactivated_at = NULL, fingerprint = 0, updated_run = ? WHERE \(match)", [String(runID)] + keyValues)
                        changes.append(Change(entity: c.entity, id: c.id, field: "active", old: "false", new: "true", kind: .reactivated))
                        counts[kind, default: RecordCounts()].reactivated += 1
                    case .reactivated:
                        try previousDeactivation.bind(1, c.entity); try previousDeactivation.bind(2, c.id); try previousDeactivation.bind(3, id)
                        let when = try previousDeactivation.step() ? previousDeactivation.text(0) : stamp
                        previousDeactivation.reset()
                        try execute("UPDATE \(kind.table) SET active = FALSE, deactivated_at = ?, fingerprint = 0, updated_run = ? WHERE \(match)", [when, String(runID)] + keyValues)
                        changes.append(Change(entity: c.entity, id: c.id, field: "active", old: "true", new: "false (reverted)", kind: .deactivated))
                        counts[kind, default: RecordCounts()].deactivated += 1
                    default:
                        continue
                    }
                }
                // Records the run added become inactive.
                for kind in EntityKind.allCases {
                    let keys = kind.keyColumns
                    let added = try database.prepare("SELECT \(keys.joined(separator: ", ")) FROM \(kind.table) WHERE added_run = ? AND active = TRUE")
                    try added.bind(1, id)
                    try added.forEachRow { r in
                        let display = (0..<Int32(keys.count)).map { r.text($0) }.joined(separator: "/")
                        changes.append(Change(entity: kind.rawValue, id: display, field: "active", old: "true", new: "false (reverted)", kind: .deactivated))
                        counts[kind, default: RecordCounts()].deactivated += 1
                    }
                    try execute("UPDATE \(kind.table) SET active = FALSE, deactivated_at = ?, fingerprint = 0, updated_run = ? WHERE added_run = ? AND active = TRUE",
                                [stamp, String(runID), String(id)])
                }
                let log = try database.prepare("""
                    INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for c in changes {
                    try log.bind(1, runID); try log.bind(2, c.entity); try log.bind(3, c.id); try log.bind(4, c.field)
                    try log.bind(5, c.old); try log.bind(6, c.new); try log.bind(7, c.kind.rawValue)
                    try log.run()
                }
                // The mirror no longer matches the stored files: the next run reads them all.
                try database.execute("DELETE FROM export_files; DELETE FROM source_state")
                let roles = try roles.planRoles(settings)
                try self.roles.applyRoles(roles, runID: runID)
                try self.roles.recordRoleBasis(settings)
                for (kind, n) in counts { summary.entities[kind.rawValue] = n }
                summary.staff = counts[.staff] ?? RecordCounts()
                summary.linksMade = changes.filter { $0.kind == .linked }.count
                summary.linksRemoved = changes.filter { $0.kind == .unlinked }.count
                summary.rolesGranted = roles.grantedCount
                summary.rolesRevoked = roles.revokedCount
                summary.finishedAt = Timestamp.format(Date())
                try auditTrail.finishRun(summary)
                try auditTrail.endHolds(by: runID, actor: actor, at: stamp, approving: nil)
            }
        } catch {
            summary.outcome = .failed
            summary.error = "revert of run \(id) failed, nothing was changed: \(error)"
            summary.finishedAt = Timestamp.format(Date())
            try? auditTrail.finishRun(summary)
            throw error
        }
        return summary
    }
}
