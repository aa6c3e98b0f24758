import Foundation

/// The apply and roles phases. Apply is one transaction (R1): the records, the links (R6),
/// the calculated roles (R7: planned by joins over what it just wrote, and judged there by
/// the revoke guard), the change log (R8) and the run's record. A hold or a stop rolls all
/// of it back. A run that commits nothing (a dry run, a held run) takes the roles phase
/// instead: the same transaction, rolled back, to see what the roles would become.
extension SyncRun {
    /// What an apply transaction came to, committed or rolled back: the calculated roles
    /// (when the revoke guard held the run, those it would have granted and revoked), the
    /// revoke guard's verdict, and the seconds each step of a committed apply took.
    struct Applied {
        var roles: RolePlan
        var verdict: GuardVerdict
        var timings: [(String, Double)] = []
    }

    /// Applies the plan and commits, the run lock held. With `daemonLock`, the transaction
    /// checks just before it commits that the lock is still this process's (R9).
    func apply(_ plan: Plan, summary: RunSummary, started: Date, phase: inout PhaseClock, daemonLock: DaemonLock?,
               store: RosterStore) throws -> Applied {
        var timings: [(String, Double)] = []
        let settings = configuration.roleSettings(on: started)
        // The change feed (issue 31) is written in this transaction (`RosterStore.apply`),
        // beside the change log: an event exists exactly when the change it tells of
        // committed, and a hold or a stop rolls both back.
        var applied = try applyJudgingRoles(store: store) { judgeRoles in
            try store.apply(plan, summary: summary, roles: settings, now: started, stop: stop,
                            phase: { timings.append(($0, phase.lap())) }, judgeRoles: judgeRoles,
                            beforeCommit: { try daemonLock?.confirmHeld(in: store.database) })
        }
        applied.timings = timings
        return applied
    }

    /// The roles phase of a run that commits nothing: applied and rolled back, as a dry run
    /// shows them (`judged`: the revoke guard may still hold it) and as a held run's record
    /// keeps them (the run is held already).
    func roles(_ plan: Plan, summary: RunSummary, started: Date, judged: Bool, store: RosterStore) throws -> Applied {
        let settings = configuration.roleSettings(on: started)
        guard judged else {
            return Applied(roles: try store.apply(plan, summary: summary, roles: settings, now: started, stop: stop, commit: false), verdict: .allowed)
        }
        return try applyJudgingRoles(store: store) { judgeRoles in
            try store.apply(plan, summary: summary, roles: settings, now: started, stop: stop, commit: false, judgeRoles: judgeRoles)
        }
    }

    /// Runs `apply` with the revoke guard judging the calculated roles inside its
    /// transaction; a hold throws there, which rolls everything back.
    private func applyJudgingRoles(store: RosterStore, _ apply: (_ judgeRoles: (RolePlan) throws -> Void) throws -> RolePlan) throws -> Applied {
        let runGuard = RunGuard(settings: configuration.guardSettings)
        var planned = RolePlan(), verdict = GuardVerdict.allowed
        do {
            let roles = try apply { roles in
                planned = roles
                guard roles.revokedCount > 0 else { return }
                verdict = runGuard.judgeRevocations(revoked: roles.revokedCount, grantedBefore: try store.roles.calculatedGrantCount(),
                                                    allowMassDeactivation: options.allowMassDeactivation)
                if case .blocked(let reason) = verdict { throw RunHeld(reason: reason) }
            }
            return Applied(roles: roles, verdict: verdict)
        } catch is RunHeld {
            // What the held run would have done to the roles, as its record shows it.
            return Applied(roles: planned, verdict: verdict)
        }
    }

    /// The summary as it is stored when the apply transaction commits.
    func finished(_ summary: RunSummary) -> RunSummary {
        var s = summary
        s.finishedAt = Timestamp.format(clock())
        return s
    }

    /// After a run that applied: the change log keeps `history_days` (R8), the change feed
    /// `[events] keep_days` and `max_events`. A failure is a warning; the run has committed.
    func pruneHistory(_ store: RosterStore, now: Date, fields: [(String, String)]) {
        do { try store.auditTrail.pruneHistory(days: configuration.historyDays, now: now) } catch {
            log.log(LogEvent(.runFailed, .warning, "could not prune history older than \(configuration.historyDays) days: \(error); check that \(store.path) is writable", fields: fields))
        }
        do { try store.events.prune(now: now) } catch {
            log.log(LogEvent(.runFailed, .warning, "could not prune the change feed ([events] keep_days = \(configuration.events.keepDays)): \(error); check that \(store.path) is writable", fields: fields))
        }
    }
}
