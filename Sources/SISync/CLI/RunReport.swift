import Foundation

/// How a run is shown to an administrator: a summary, and for dry runs the plan.
public enum RunReport {
    public static func text(_ s: RunSummary, plan: Plan?, showPlan: Bool, limit: Int = 200) -> String {
        var out = ""
        // A run that failed before it could be recorded (the database busy) has no id, and is no dry run.
        let id = s.runID.map { "run \($0)" } ?? (s.dryRun ? "dry run" : "run (not recorded)")
        out += "\(id): \(s.outcome.rawValue)\(s.dryRun ? " (dry run: nothing was written)" : "")\n"
        if let e = s.error { out += "  \(e)\n" }
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
            for p in s.problems.prefix(20) { out += "    \(p)\n" }
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

    public static func changeLine(_ c: Change) -> String {
        var line = "\(c.kind.rawValue) \(c.entity) \(c.id)"
        if let f = c.field, c.kind == .updated {
            line += " \(f): \(c.old.map { "`\($0)`" } ?? "(none)") → \(c.new.map { "`\($0)`" } ?? "(none)")"
        } else if c.kind == .deactivated, let n = c.new, n.hasPrefix("false (") {
            line += " " + n.dropFirst(6)
        }
        return line
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
