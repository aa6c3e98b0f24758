import Foundation

/// The journal entries of a run beyond its start and end: every change it made (R8), at
/// a level that keeps a re-import from flooding the journal, and the one-line summaries.
extension SyncRun {
    /// What the run changed, after it committed: links, roles, and every changed field.
    func logChanges(_ plan: Plan, runID: Int64?) {
        let runField = runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []
        let linkDetail: LogPriority = plan.links.changes.count > 100 ? .debug : .info
        for c in plan.links.changes {
            switch c {
            case .link(let user, let staff, let previous):
                log.log(LogEvent(.userLinked, linkDetail, "user \(user) linked to staff \(staff)\(previous.map { " (was \($0))" } ?? "")",
                                 fields: runField + [("SISYNC_USERNAME", user), ("SISYNC_STAFF_ID", staff)]))
            case .unlink(let user, let staff, _, let why):
                log.log(LogEvent(.userUnlinked, linkDetail, "user \(user) unlinked from staff \(staff): \(why)",
                                 fields: runField + [("SISYNC_USERNAME", user), ("SISYNC_STAFF_ID", staff)]))
            case .ambiguous:
                break  // logged when planned, also by runs that change nothing
            case .unapprove(let user, let staff):
                log.log(LogEvent(.userUnlinked, .notice, "user \(user) unapproved: staff \(staff) was deactivated (on_staff_deactivated = unapprove)",
                                 fields: runField + [("SISYNC_USERNAME", user), ("SISYNC_STAFF_ID", staff)]))
            }
        }
        let roleDetail: LogPriority = plan.roles.grantedCount + plan.roles.revokedCount > 100 ? .debug : .info
        for r in plan.roles.granted {
            log.log(LogEvent(.roleGranted, roleDetail, "user \(r.username) granted \(r.label)", fields: runField + [("SISYNC_USERNAME", r.username), ("SISYNC_ROLE", r.role)]))
        }
        for r in plan.roles.revoked {
            log.log(LogEvent(.roleRevoked, roleDetail, "user \(r.username) lost \(r.label)", fields: runField + [("SISYNC_USERNAME", r.username), ("SISYNC_ROLE", r.role)]))
        }
        let total = plan.entities.reduce(0) { $0 + $1.additions.count + $1.updates.count }
        let detailed: LogPriority = total > 100 ? .debug : .info
        // R8: every changed field, with its old and new value. Staff are the people
        // administrators ask about (`journalctl SISYNC_STAFF_ID=...`): their updates stay at
        // info up to 1,000 staff records (a run that changes more is a re-import, summarised
        // below); other entities' updates follow the per-record bound: debug past 100 records.
        let staffDetail: LogPriority = (plan.plan(for: .staff)?.updatedCount ?? 0) > 1000 ? .debug : .info
        // Issue 33: each record carried over to a new id, with both ids (a whole district's
        // at debug, summarised below with the other records).
        let rekeyDetail: LogPriority = plan.carriedOver.count > 1000 ? .debug : .notice
        for r in plan.carriedOver {
            let old = RecordKey.display(r.old), new = RecordKey.display(r.new)
            log.log(LogEvent(.recordRekeyed, rekeyDetail, "\(r.entity) \(old) rekeyed → \(new) (\(r.evidence))",
                             fields: runField + [("SISYNC_ENTITY", r.entity), ("SISYNC_OLD_ID", old), ("SISYNC_NEW_ID", new)]
                                 + (r.entity == EntityKind.staff.rawValue ? [("SISYNC_STAFF_ID", new)] : [])))
        }
        for p in plan.entities {
            for u in p.updates {
                for f in u.fields {
                    let values = "`\(Self.clip(f.old))` → `\(Self.clip(f.new))`"
                    if p.kind == .staff {
                        log.log(LogEvent(.staffUpdated, staffDetail, "staff \(u.key) \(f.name) changed: \(values)",
                                         fields: runField + [("SISYNC_STAFF_ID", u.key), ("SISYNC_FIELD", f.name),
                                                             ("SISYNC_OLD_VALUE", Self.bounded(f.old)), ("SISYNC_NEW_VALUE", Self.bounded(f.new))]))
                    } else {
                        let id = RecordKey.display(u.key)
                        log.log(LogEvent(.recordUpdated, detailed, "\(p.kind.rawValue) \(id) \(f.name) changed: \(values)",
                                         fields: runField + [("SISYNC_ENTITY", p.kind.rawValue), ("SISYNC_RECORD_ID", id), ("SISYNC_FIELD", f.name),
                                                             ("SISYNC_OLD_VALUE", Self.bounded(f.old)), ("SISYNC_NEW_VALUE", Self.bounded(f.new))]))
                    }
                }
            }
        }
        guard let staff = plan.plan(for: .staff) else { return }
        if let rows = plan.snapshot?.entities[.staff] {
            for r in staff.additions {
                let key = rows.key(Int(r))
                log.log(LogEvent(.staffAdded, detailed, "staff \(key) added", fields: runField + [("SISYNC_STAFF_ID", key)]))
            }
        }
        for u in staff.updates {
            if u.reactivate { log.log(LogEvent(.staffReactivated, detailed, "staff \(u.key) reactivated", fields: runField + [("SISYNC_STAFF_ID", u.key)])) }
            if let reason = u.deactivate {
                log.log(LogEvent(.staffDeactivated, detailed, "staff \(u.key) deactivated (\(reason.rawValue))", fields: runField + [("SISYNC_STAFF_ID", u.key)]))
            }
        }
        if total > 100 {
            let parts = plan.entities.compactMap { p -> String? in
                let c = plan.counts(for: p.kind)
                return c.total == 0 ? nil : "\(p.kind.rawValue) +\(c.added) ~\(c.updated) -\(c.deactivated) ↺\(c.reactivated)"
            }
            log.log(LogEvent(.recordsChanged, .notice, "\(total) records changed: \(parts.joined(separator: ", "))", fields: runField))
        }
    }

    static func timingLine(_ timings: [(String, Double)]) -> String {
        let total = timings.reduce(0) { $0 + $1.1 }
        return String(format: "%.2f s (", total) + timings.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", ") + ")"
    }

    /// Staff always, then every other entity that changed:
    /// `staff +1 ~2 -0 ↺0; students +5 ~1 -0 ↺0; links +1 -0 ?0; roles +3 -0`.
    static func countsLine(_ s: RunSummary) -> String {
        var parts = ["staff +\(s.staff.added) ~\(s.staff.updated) -\(s.staff.deactivated) ↺\(s.staff.reactivated)"]
        for k in EntityKind.allCases where k != .staff {
            if let c = s.entities[k.rawValue], c.total > 0 { parts.append("\(k.rawValue) +\(c.added) ~\(c.updated) -\(c.deactivated) ↺\(c.reactivated)") }
        }
        parts.append("links +\(s.linksMade) -\(s.linksRemoved) ?\(s.linksAmbiguous)")
        parts.append("roles +\(s.rolesGranted) -\(s.rolesRevoked)")
        return parts.joined(separator: "; ")
    }

    /// A value as a log line shows it: one line, control characters escaped (`\r`,
    /// `\u{1B}`), at most 200 characters (the journal fields carry more).
    static func clip(_ value: String) -> String {
        let line = PrintableText.escaped(value)
        return line.count > 200 ? String(line.prefix(197)) + "..." : line
    }

    /// A value as a journal field carries it: whole up to 4 KiB, so that one entry stays
    /// well inside a journal datagram.
    static func bounded(_ value: String) -> String {
        guard value.utf8.count > 4096 else { return value }
        var end = value.utf8.index(value.utf8.startIndex, offsetBy: 4093)
        while end.samePosition(in: value.unicodeScalars) == nil { end = value.utf8.index(before: end) }
        return String(value[..<end]) + "..."
    }
}
