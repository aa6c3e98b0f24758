import Foundation

extension SyncRun {
    /// `sisyncctl run approve ID`: applies the plan held run `id` kept, as a new run that
    /// records `approves = id`: exactly what `run show ID` listed, not a new plan of what the
    /// SIS exports by now. Refused (`HoldError`) when the hold ended or expired, or when
    /// the store changed under the plan since: another run applied, or an administrator
    /// changed users whose links the plan decides. The calculated roles are recomputed on
    /// what it writes (R7), as every run does. The caller holds the run lock.
    public func approve(run id: Int64, store: RosterStore, withoutRekeys: Bool = false) throws -> Result {
        let started = clock()
        store.events.settings = configuration.events
        let (heldRun, hold) = try store.auditTrail.standing(id, at: started)
        if let later = try store.auditTrail.appliedRun(after: id) {
            throw HoldError.storeChanged(id, what: "run \(later) applied since")
        }
        if let c = try store.auditTrail.userChange(after: hold.changeMark) {
            throw HoldError.storeChanged(id, what: "\(c.actor) changed user \(c.change.id) at \(c.at): \(RunReport.changeLine(c.change))")
        }
        guard let kept = try store.auditTrail.heldPlan(run: id) else { throw HoldError.notHeld(id) }
        // With the records it carries over to new ids, unless `--without-rekeys` (issue 33).
        var plan = try kept.plan(withoutRekeys: withoutRekeys)
        try store.auditTrail.closeInterruptedRuns(now: started)
        let runID = try store.auditTrail.beginRun(actor: options.actor, trigger: .approve, startedAt: started)
        var summary = RunSummary(runID: runID, startedAt: Timestamp.format(started), ending: .applied, dryRun: false,
                                 actor: options.actor, trigger: .approve)
        summary.approves = id
        summary.contentHash = heldRun.contentHash
        summary.count(records: plan, everyEntity: false)
        summary.linksMade = plan.links.made
        summary.linksRemoved = plan.links.removed
        summary.linksAmbiguous = plan.links.ambiguous
        let runField = [("SISYNC_RUN_ID", String(runID)), ("SISYNC_HELD_RUN_ID", String(id))]
        log.log(LogEvent(.runStarted, .info, "run \(runID) started (approve of held run \(id) by \(options.actor))", fields: runField))
        var phase = PhaseClock()
        do {
            let roles = try store.apply(plan, summary: finished(summary), roles: configuration.roleSettings(on: started), now: started, stop: stop)
            plan.roles = roles
            summary.rolesGranted = roles.grantedCount
            summary.rolesRevoked = roles.revokedCount
            summary.finishedAt = Timestamp.format(clock())
            summary.timings = [("apply", phase.lap())]
            log.log(LogEvent(.holdEnded, .warning, "run \(runID) applied held run \(id), approved by \(options.actor); the guard had said: \(Self.heldReason(heldRun.error))",
                             fields: runField))
            logChanges(plan, runID: runID)
            pruneHistory(store, now: started, fields: runField)
            log.log(LogEvent(.runFinished, .notice, "run \(runID) applied: \(Self.countsLine(summary)) in \(Self.timingLine(summary.timings))", fields: runField))
        } catch {
            summary.ending = .failed(Self.classify(error), message: "approving held run \(id) failed, nothing was applied: \(Self.describe(error))")
            summary.finishedAt = Timestamp.format(clock())
            try? store.auditTrail.recordEnding(summary)
            log.log(LogEvent(.runFailed, .error, "run \(runID) failed: \(summary.error!)", fields: runField))
        }
        summary.standingHold = (try? store.auditTrail.standingHold(at: clock()))??.runID
        Self.writeMetrics(summary, store: store, configuration: configuration, log: log)
        return Result(summary: summary, plan: plan)
    }

    /// The threshold a held run's error names, without the advice that follows it.
    static func heldReason(_ error: String?) -> String {
        guard var text = error else { return "(no reason recorded)" }
        if text.hasPrefix("blocked by the guard (R5): ") { text.removeFirst("blocked by the guard (R5): ".count) }
        if let end = text.range(of: "; nothing was applied") { text = String(text[..<end.lowerBound]) }
        return text
    }
}
