/// Stops a run that looks like a broken export rather than real change (R5): too many
/// deactivations of one entity (or, with `per_school`, of one school), too many auto links
/// removed (an email-domain migration), too many calculated roles revoked. Pure: the plan,
/// the settings and a `GuardContext` in, a verdict out.
public struct RunGuard: Sendable {
    public let settings: GuardSettings

    public init(settings: GuardSettings) {
        self.settings = settings
    }

    /// Judges the records and links a plan changes (before anything is written).
    public func judge(_ plan: Plan, context: GuardContext = GuardContext(), allowMassDeactivation: Bool) -> GuardVerdict {
        var reasons: [String] = []
        for p in plan.entities {
            let n = p.deactivationCount
            if p.kind == .staff, p.exportEmpty, p.activeBefore > 0 {
                reasons.append("the staff export has no rows while \(p.activeBefore) staff are active")
                continue
            }
            let limit = settings.deactivateLimit(for: p.kind)
            if let share = limit.exceeded(n, of: p.activeBefore) {
                reasons.append("the run would deactivate \(n) of \(p.activeBefore) active \(Self.noun(p.kind)) (\(GuardLimit.format(share))%, limits: \(GuardLimit.format(limit.percent))% and \(limit.count) records)")
            }
        }
        if settings.perSchool {
            for s in context.schools.sorted(by: { ($0.kind.rawValue, $0.school) < ($1.kind.rawValue, $1.school) }) {
                let limit = GuardLimit(percent: settings.deactivateLimit(for: s.kind).percent, count: settings.perSchoolMin)
                if let share = limit.exceeded(s.deactivated, of: s.active) {
                    reasons.append("school \(s.school): \(s.deactivated) of \(s.active) active \(Self.noun(s.kind)) (\(GuardLimit.format(share))%) would be deactivated; threshold \(limit.described)")
                }
            }
        }
        let unlinked = plan.links.autoLinksRemoved
        if let share = settings.unlink.exceeded(unlinked, of: context.autoLinks) {
            var reason = "the run would remove \(unlinked) of \(context.autoLinks) auto links (\(GuardLimit.format(share))%, limits: \(GuardLimit.format(settings.unlink.percent))% and \(settings.unlink.count) links)"
            if let d = context.domainChange {
                reason += "; the staff emails moved from \(d.userDomain) to \(d.staffDomain) while the users' did not: if that is a migration, set `[linking] email_domain_aliases = \(d.staffDomain) = \(d.userDomain)`"
            }
            reasons.append(reason)
        }
        // A run that carries records over to new ids waits for a person whatever the
        // thresholds (issue 33): `--allow-mass-deactivation` does not answer for pairs.
        if let rekeys = rekeyHold(plan) { return .blocked(reason: (reasons + [rekeys]).joined(separator: "; ")) }
        return verdict(reasons, allowMassDeactivation)
    }

    /// Why the records a plan carries over to new ids hold it: always with `rekey = hold`,
    /// and with `apply` when a pair rests on names alone. Nil when they do not.
    func rekeyHold(_ plan: Plan) -> String? {
        let pairs = plan.carriedOver
        guard !pairs.isEmpty else { return nil }
        let byName = pairs.filter(\.nameOnly).count
        guard settings.rekey != .apply || byName > 0 else { return nil }
        var counts: [EntityKind: Int] = [:]
        for p in pairs { if let k = p.kind { counts[k, default: 0] += 1 } }
        let listed = counts.keys.sorted().map { "\(counts[$0]!) \(Self.noun($0))" }.joined(separator: ", ")
        var reason = "the run would carry \(listed) over to the new ids the SIS gives them (the same people on the evidence: `[guard] rekey = \(settings.rekey.rawValue)`)"
        if byName > 0 { reason += "; \(byName) of them matched on names without an email, which always waits for review" }
        return reason + "; `run approve ID` carries them over, `run approve ID --without-rekeys` deactivates and adds instead"
    }

    /// Judges the calculated roles a run would revoke (planned inside its transaction, after
    /// the records and links are written), against the calculated grants there were.
    public func judgeRevocations(revoked: Int, grantedBefore: Int, allowMassDeactivation: Bool) -> GuardVerdict {
        guard let share = settings.revoke.exceeded(revoked, of: grantedBefore) else { return .allowed }
        return verdict(["the run would revoke \(revoked) of \(grantedBefore) calculated roles (\(GuardLimit.format(share))%, limits: \(GuardLimit.format(settings.revoke.percent))% and \(settings.revoke.count) roles)"],
                       allowMassDeactivation)
    }

    private func verdict(_ reasons: [String], _ allow: Bool) -> GuardVerdict {
        guard !reasons.isEmpty else { return .allowed }
        let reason = reasons.joined(separator: "; ")
        return allow ? .overridden(reason: reason) : .blocked(reason: reason)
    }

    static func noun(_ kind: EntityKind) -> String {
        kind == .staff ? "staff" : kind.rawValue.replacingOccurrences(of: "_", with: " ")
    }
}
