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
        let runID = try auditTrail.beginRun(actor: actor, trigger: .revert, startedAt: now)
        var summary = RunSummary(runID: runID, startedAt: stamp, ending: .applied, dryRun: false, actor: actor, trigger: .revert)
        summary.reverts = id
        do {
            try database.transaction {
                let events = try self.events.batch(runID: runID)
                var changes: [Change] = []
                var counts: [EntityKind: RecordCounts] = [:]
                /// The record `display` names (`kind`'s key columns joined with `/`).
                func keyMatch(_ kind: EntityKind, _ display: String) -> SQLQuery {
                    let keys = kind.keyColumns
                    let parts = keys.count == 1 ? [display] : display.components(separatedBy: "/")
                    guard parts.count == keys.count else { return "\(unescaped: keys.joined(separator: " || '/' || ")) = \(display)" }
                    var match: SQLQuery = "\(unescaped: keys[0]) = \(parts[0])"
                    for (key, part) in zip(keys, parts).dropFirst() { match = "\(sql: match) AND \(unescaped: key) = \(part)" }
                    return match
                }
                // A link comes back as an auto link (the next run re-checks it, R6); a user
                // removed since then stays removed.
                func restoreLink(_ username: String, to staffID: String) throws {
                    try database.run("""
                        INSERT INTO links (username, staff_id, kind, reason, until, created_at, created_by)
                        SELECT username, \(staffID), 'auto', NULL, NULL, \(stamp), \(actor) FROM users WHERE username = \(username)
                        ON CONFLICT DO NOTHING
                        """)
                }
                // The run's own changes, newest first.
                let stored = try self.auditTrail.changes(runID: id).map(\.change).filter { $0.kind != .added }
                for c in stored.reversed() {
                    if c.entity == "users" {
                        switch (c.kind, c.field) {
                        case (.linked, _):
                            try database.run("DELETE FROM links WHERE username = \(c.id)")
                            if let old = c.old { try restoreLink(c.id, to: old) }
                            changes.append(Change(entity: "users", id: c.id, field: "link", old: c.new, new: c.old, kind: c.old == nil ? .unlinked : .linked))
                        case (.unlinked, _):
                            guard let old = c.old else { continue }
                            try database.run("DELETE FROM links WHERE username = \(c.id)")
                            try restoreLink(c.id, to: old)
                            changes.append(Change(entity: "users", id: c.id, field: "link", old: nil, new: old, kind: .linked))
                        case (.updated, "approved"):
                            try database.run("UPDATE users SET approved = \(c.old == "true" ? "1" : "0") WHERE username = \(c.id)")
                            changes.append(Change(entity: "users", id: c.id, field: "approved", old: c.new, new: c.old, kind: .updated))
                        default:
                            continue  // roles: recomputed below from the restored data
                        }
                        continue
                    }
                    guard let kind = EntityKind(rawValue: c.entity) else { continue }
                    let match = keyMatch(kind, c.id)
                    switch c.kind {
                    case .updated:
                        guard let field = c.field, kind.valueColumns.contains(field) || field == "missing_since" else { continue }
                        try database.run("UPDATE \(unescaped: kind.table) SET \(unescaped: field) = \(c.old), fingerprint = 0, updated_run = \(runID) WHERE \(sql: match)")
                        changes.append(Change(entity: c.entity, id: c.id, field: field, old: c.new, new: c.old, kind: .updated))
                        counts[kind, default: RecordCounts()].updated += 1
                    case .deactivated:
                        try database.run("UPDATE \(unescaped: kind.table) SET active = TRUE, deactivated_at = NULL, fingerprint = 0, updated_run = \(runID) WHERE \(sql: match)")
                        changes.append(Change(entity: c.entity, id: c.id, field: "active", old: "false", new: "true", kind: .reactivated))
                        counts[kind, default: RecordCounts()].reactivated += 1
                    case .reactivated:
                        let previousDeactivation = try database.query("""
                            SELECT coalesce(c.at, r.started_at) FROM changes c LEFT JOIN runs r USING (run_id)
                            WHERE c.entity = \(c.entity) AND c.record_id = \(c.id) AND c.kind = 'deactivated' AND c.change_id < (
                              SELECT min(change_id) FROM changes WHERE run_id = \(id)) ORDER BY c.change_id DESC LIMIT 1
                            """)
                        let when = try previousDeactivation.step() ? previousDeactivation.text(0) : stamp
                        previousDeactivation.reset()
                        try database.run("""
                            UPDATE \(unescaped: kind.table) SET active = FALSE, deactivated_at = \(when), fingerprint = 0, updated_run = \(runID) WHERE \(sql: match)
                            """)
                        changes.append(Change(entity: c.entity, id: c.id, field: "active", old: "true", new: "false (reverted)", kind: .deactivated))
                        counts[kind, default: RecordCounts()].deactivated += 1
                    default:
                        continue
                    }
                }
                // Records the run carried over to new ids get their old ids back (issue 33),
                // after their fields were restored under the new ones.
                for e in try self.rekeys.undo(run: id, by: runID, events: events) {
                    changes.append(Change(entity: e.entity, id: e.old, field: "id", old: e.new, new: e.old, kind: .rekeyed))
                }
                // Records the run added become inactive.
                for kind in EntityKind.allCases {
                    let keys = kind.keyColumns
                    try database.forEachRow("SELECT \(unescaped: keys.joined(separator: ", ")) FROM \(unescaped: kind.table) WHERE added_run = \(id) AND active = TRUE") { r in
                        let display = (0..<Int32(keys.count)).map { r.text($0) }.joined(separator: "/")
                        changes.append(Change(entity: kind.rawValue, id: display, field: "active", old: "true", new: "false (reverted)", kind: .deactivated))
                        counts[kind, default: RecordCounts()].deactivated += 1
                    }
                    try database.run("""
                        UPDATE \(unescaped: kind.table) SET active = FALSE, deactivated_at = \(stamp), fingerprint = 0, updated_run = \(runID)
                        WHERE added_run = \(id) AND active = TRUE
                        """)
                }
                // Prepared once and bound per row: a run's changes can be many thousands.
                let log = try database.prepare("""
                    INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for c in changes {
                    try log.bind(1, runID); try log.bind(2, c.entity); try log.bind(3, c.id); try log.bind(4, c.field)
                    try log.bind(5, c.old); try log.bind(6, c.new); try log.bind(7, c.kind.rawValue)
                    try log.run()
                }
                if !changes.isEmpty { try events.write { sink in try ChangeEvents.write(changes, origin: .revert, into: sink) } }
                // The mirror no longer matches the stored files: the next run reads them all.
                try database.execute("DELETE FROM export_files; DELETE FROM source_state")
                let roles = try roles.planRoles(settings)
                try self.roles.applyRoles(roles, runID: runID, events: events)
                try self.roles.recordRoleBasis(settings)
                for (kind, n) in counts { summary.entities[kind.rawValue] = n }
                summary.staff = counts[.staff] ?? RecordCounts()
                summary.linksMade = changes.filter { $0.kind == .linked }.count
                summary.linksRemoved = changes.filter { $0.kind == .unlinked }.count
                summary.rolesGranted = roles.grantedCount
                summary.rolesRevoked = roles.revokedCount
                summary.finishedAt = Timestamp.format(Date())
                try auditTrail.finishRun(summary)
                try auditTrail.endHolds(by: runID, actor: actor, at: stamp, approving: nil, events: events)
                if events.isOn { try RunEvents.applied(summary, into: events) }
                try events.finish()
            }
        } catch {
            summary.ending = .failed(SyncRun.classify(error), message: "revert of run \(id) failed, nothing was changed: \(error)")
            summary.finishedAt = Timestamp.format(Date())
            try? auditTrail.recordEnding(summary)
            throw error
        }
        return summary
    }
}
