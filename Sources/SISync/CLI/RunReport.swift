import Foundation

/// How a run is shown to an administrator: a summary, and for dry runs the plan.
public enum RunReport {
    public static func text(_ s: RunSummary, plan: Plan?, showPlan: Bool, limit: Int = 200) -> String {
        var out = ""
        // A run that failed before it could be recorded (the database busy) has no id, and is no dry run.
        let id = s.runID.map { "run \($0)" } ?? (s.dryRun ? "dry run" : "run (not recorded)")
        out += "\(id): \(s.outcome.rawValue)\(s.dryRun ? " (dry run: nothing was written)" : "")\n"
        // An export's text is in the error (a header, a value): escaped, and one line.
        if let e = s.error { out += "  \(PrintableText.line(e))\n" }
        if let id = s.runID, let h = s.hold {
            let now = Date()
            out += "  held: \(h.describe(at: now))"
            out += h.isStanding(at: now) ? "; `sisyncctl run approve \(id)` applies exactly this plan, `sisyncctl run discard \(id)` drops it\n" : "\n"
        }
        if let a = s.approves { out += "  applies the plan of held run \(a) (approved by \(s.actor))\n" }
        out += "  staff: \(s.staff.added) added, \(s.staff.updated) updated, \(s.staff.deactivated) deactivated, \(s.staff.reactivated) reactivated\n"
        out += "  links: \(s.linksMade) made, \(s.linksRemoved) removed, \(s.linksAmbiguous) ambiguous\n"
        out += "  roles: \(s.rolesGranted) granted, \(s.rolesRevoked) revoked\n"
        for k in EntityKind.allCases where k != .staff {
            if let c = s.entities[k.rawValue], c.total > 0 {
                out += "  \(k.rawValue): \(c.added) added, \(c.updated) updated, \(c.deactivated) deactivated, \(c.reactivated) reactivated\n"
            }
        }
        if !s.problems.isEmpty {
            out += "  \(s.problems.count) row(s) skipped:\n"
            for p in s.problems.prefix(20) { out += "    \(PrintableText.line(p))\n" }
            if s.problems.count > 20 { out += "    … and \(s.problems.count - 20) more (see `sisyncctl run show`)\n" }
        }
        if showPlan, let plan {
            var shown = 0, total = 0
            var lines = ""
            plan.forEachChange { c in
                total += 1
                guard shown < limit else { return }
                shown += 1
                lines += "    " + changeLine(c) + "\n"
            }
            out += "  plan (\(total) change\(total == 1 ? "" : "s")):\n" + lines
            if total > shown { out += "    … and \(total - shown) more (use --json for all)\n" }
        }
        return out
    }

    /// One change as a line: `updated staff S1 email: `a` → `b``, `role_granted users
    /// tbrown: Teacher (2026-2027)`, `linked users tbrown to staff S1042 (manual: …)`.
    /// For a plan not applied (a held run) the verb says what it would do
    /// (`would deactivate staff S1 Ann Lee (missing)`); `name` is the record's person, when
    /// it has one, shown beside its id.
    public static func changeLine(_ c: Change, name: String? = nil, planned: Bool = false) -> String {
        // A record carried over to a new id (issue 33): `rekeyed staff S1042 → 8f1c…`.
        let id = c.kind == .rekeyed ? "\(c.old ?? "?") → \(c.new ?? c.id)" : c.id
        var line = "\(planned ? wouldVerb(c.kind) : c.kind.rawValue) \(c.entity) \(id)"
        if let name, !name.trimmingCharacters(in: .whitespaces).isEmpty { line += " " + PrintableText.line(name, limit: 60) }
        switch c.kind {
        case .updated:
            if let f = c.field { line += " \(f): \(c.old.map { "`\($0)`" } ?? "(none)") → \(c.new.map { "`\($0)`" } ?? "(none)")" }
        case .deactivated:
            if let n = c.new, n.hasPrefix("false (") { line += " " + n.dropFirst(6) }
        case .roleGranted:
            if let role = c.new { line += ": \(role)" }
        case .roleRevoked:
            if let role = c.old { line += ": \(role)" }
        case .linked:
            if let staff = c.new { line += " to staff \(staff)" }
            if let previous = c.old { line += " (was \(previous))" }
        case .unlinked:
            if let staff = c.old { line += " from staff \(staff)" }
        case .added, .reactivated, .rekeyed:
            break
        }
        return line
    }

    /// What a kept plan would do, in words: `would deactivate`, `would grant role` ...
    static func wouldVerb(_ kind: ChangeKind) -> String {
        switch kind {
        case .added: return "would add"
        case .updated: return "would change"
        case .deactivated: return "would deactivate"
        case .reactivated: return "would reactivate"
        case .linked: return "would link"
        case .unlinked: return "would unlink"
        case .roleGranted: return "would grant"
        case .roleRevoked: return "would revoke"
        case .rekeyed: return "would rekey"
        }
    }

    public static func json(_ s: RunSummary, plan: Plan?) -> JSONValue {
        guard case .object(var members) = JSONShapes.runSummary(s) else { return .null }
        if let plan, s.dryRun {
            var changes: [JSONValue] = []
            plan.forEachChange { changes.append(JSONShapes.change($0)) }
            members.append(("changes", .array(changes)))
        }
        return .object(members)
    }
}
