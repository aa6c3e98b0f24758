import Foundation

/// The rekey phase (issue 33), between plan and link: when the plan deactivates much of an
/// entity and adds records of it, the records that are the same people on the evidence are
/// carried over to their new ids instead (`RekeyDetector`, `Plan.carryingOver`). The guard
/// then holds the run for review unless `[guard] rekey = apply` (`RunGuard.rekeyHold`).
extension SyncRun {
    func rekey(_ plan: Plan, store: RosterStore, runID: Int64?) throws -> Plan {
        let settings = configuration.guardSettings
        guard plan.snapshot != nil else { return plan }
        // An administrator's pairs (`staff rekey`) are carried over even with `rekey = off`:
        // they were asked for by name.
        let requested = try store.rekeyRequests()
        guard settings.rekey != .off || !requested.isEmpty else { return plan }
        let detector = RekeyDetector(minShare: settings.rekey == .off ? 101 : settings.rekeyMinShare,
                                     normalizer: EmailNormalizer(aliases: configuration.emailDomainAliases))
        let proposal = try detector.propose(plan, stored: store.mirror.state(for:), schoolShares: store.mirror.schoolShares, requested: requested)
        guard !proposal.isEmpty else { return plan }
        let runField = Self.runFields(runID)
        for a in proposal.ambiguous {
            log.log(LogEvent(.rekeyAmbiguous, .warning, "\(a.entity) \(a.described): more than one possible partner, so none is carried over; deactivated and added unless paired by hand (`sisyncctl \(a.entity == EntityKind.staff.rawValue ? "staff" : "student") rekey OLD NEW`)",
                             fields: runField))
        }
        var rekeyed = plan.carryingOver(proposal.pairs)
        rekeyed.rekeys = proposal
        try stopIfAsked()
        return rekeyed
    }

    /// The links of the plan without its rekeys, kept with a hold for `--without-rekeys`.
    func linkWithoutRekeys(_ plan: inout Plan, store: RosterStore, now: Date, runID: Int64?) throws {
        guard let plain = plan.withoutRekeys else { return }
        var without = plan
        without.entities = plain.entities
        without.carriedOver = []
        without.withoutRekeys = nil
        plan.withoutRekeys = (plain.entities, try link(without, store: store, now: now, runID: runID, logging: false))
    }
}
