import Foundation

/// The judge phase (R5): the guard says whether the plan may be applied. A blocked run is
/// held: nothing is applied, and its plan is kept (when it is recorded) until an
/// administrator approves or discards it.
extension SyncRun {
    /// The standing hold, when this export is the one it was planned on, under the same
    /// settings: the hold still waits for a person (approve or discard), so this cycle
    /// neither plans the export again nor alarms again. A changed threshold or alias plans it
    /// again, and so does an administrator's change to the users since (it makes the hold
    /// unapprovable: the export is planned again, and its new hold replaces this one).
    func holdStillStanding(on fetched: Fetched, store: RosterStore, started: Date) throws -> RunHold? {
        guard !options.dryRun, !options.force, !options.allowMassDeactivation, let hold = try store.auditTrail.standingHold(at: started),
              hold.settingsDigest == configuration.settingsDigest, try store.auditTrail.run(id: hold.runID)?.contentHash == fetched.digest,
              try store.auditTrail.userChange(after: hold.changeMark) == nil else { return nil }
        return hold
    }

    /// Why a run that found its hold still standing applied nothing, logged.
    func stillHeld(_ hold: RunHold, runID: Int64?) -> String {
        log.log(LogEvent(.guardBlocked, .notice, "still held: run \(hold.runID) (approve or discard it)",
                         fields: runID.map { [("SISYNC_RUN_ID", String($0)), ("SISYNC_HELD_RUN_ID", String(hold.runID))] } ?? []))
        return "still held: run \(hold.runID) (approve or discard it: `sisyncctl run show \(hold.runID)`, then `sisyncctl run approve \(hold.runID)` or `sisyncctl run discard \(hold.runID)`); the export has not changed since"
    }

    /// The guard's verdict on the plan, with what it needs to know from the store.
    func judge(_ plan: Plan, store: RosterStore) throws -> GuardVerdict {
        let context = try guardContext(plan, store: store)
        return RunGuard(settings: configuration.guardSettings).judge(plan, context: context, allowMassDeactivation: options.allowMassDeactivation)
    }

    /// Acts on a verdict (the plan's, or the revoke guard's on the calculated roles): an
    /// override is logged and the run goes on (nil); a block is logged as critical and
    /// returns the reason the run's record gives, with what to do.
    func heed(_ verdict: GuardVerdict, runID: Int64?) -> String? {
        let runField = Self.runFields(runID)
        switch verdict {
        case .allowed:
            return nil
        case .overridden(let reason):
            log.log(LogEvent(.guardBlocked, .warning, "guard overridden once by \(options.actor) (--allow-mass-deactivation): \(reason)", fields: runField))
            return nil
        case .blocked(let reason):
            let error: String
            if let id = runID {
                // Not a dry run: the run is held with its plan (kept when it is recorded).
                error = "blocked by the guard (R5): \(reason); nothing was applied. The run is held: review it with `sisyncctl run show \(id)`, then apply exactly that plan with `sisyncctl run approve \(id)` or drop it with `sisyncctl run discard \(id)`; a script may instead run `sisyncctl sync --allow-mass-deactivation` once."
            } else {
                error = "blocked by the guard (R5): \(reason); nothing was applied. If this is expected, run `sisyncctl sync --allow-mass-deactivation` once."
            }
            log.log(LogEvent(.guardBlocked, .critical, DisplayedURL.redacting(in: error), fields: runField))
            return error
        }
    }

    /// What the guard needs from the store: the auto links there are, each school's share
    /// (with `per_school`), and the domain move behind removed links, if there is one.
    private func guardContext(_ plan: Plan, store: RosterStore) throws -> GuardContext {
        var context = GuardContext()
        // The base is counted only when the run removes more auto links than the count
        // limit: below it the guard cannot trip, and most runs remove none.
        if plan.links.autoLinksRemoved > configuration.guardSettings.unlink.count { context.autoLinks = try store.accounts.autoLinkCount() }
        if configuration.guardSettings.perSchool {
            for kind in [EntityKind.staff, .students] {
                guard let p = plan.plan(for: kind) else { continue }
                let leaving = Set(p.updates.compactMap { $0.deactivate != nil ? $0.key : nil })
                context.schools += try store.mirror.schoolShares(kind, deactivating: leaving)
            }
        }
        var moves: [DomainChange: Int] = [:]
        for d in plan.links.domainChanges { moves[d, default: 0] += 1 }
        context.domainChange = moves.max { ($0.value, $1.key.staffDomain) < ($1.value, $0.key.staffDomain) }?.key
        return context
    }
}
