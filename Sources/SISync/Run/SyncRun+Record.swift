import Foundation

/// The run's record (R8): begun, holding the run lock, before anything is planned; finished
/// inside the apply transaction by a run that applies, and by the record phase otherwise.
extension SyncRun {
    /// Records the run's start under the run lock (R9): from here until it commits, this run
    /// is the one writer. Runs a crash interrupted are closed first.
    func begin(store: RosterStore, started: Date, lock: RunLock?) throws -> Int64 {
        try store.auditTrail.closeInterruptedRuns(now: started)
        let id = try store.auditTrail.beginRun(actor: options.actor, trigger: options.trigger, startedAt: started)
        lock?.describe("\(options.lockHolder), run \(id)")
        return id
    }

    /// The record phase of a run that did not apply (an applied run finished its record
    /// inside its transaction): its outcome, and for a run the guard held, its plan, kept
    /// until an administrator approves or discards it (R5). A plan that cannot be kept
    /// leaves the run recorded without it. Returns the summary with its hold.
    func record(_ summary: RunSummary, plan: Plan?, keepingPlan: Bool, store: RosterStore, started: Date) -> RunSummary {
        var summary = summary
        let runField = Self.runFields(summary.runID)
        do {
            if keepingPlan, case .blocked(let reason) = summary.ending, let id = summary.runID, let plan {
                do {
                    try store.auditTrail.hold(HeldPlan(plan), summary: summary, settingsDigest: configuration.settingsDigest, at: started,
                                              days: configuration.guardSettings.heldPlanDays)
                    if let hold = try store.auditTrail.hold(run: id) { summary.ending = .held(hold, reason: reason) }
                } catch {
                    log.log(LogEvent(.runFailed, .error, "cannot keep the plan of run \(id) for approval: \(error); run `sisyncctl sync` again", fields: runField))
                    try store.auditTrail.recordEnding(summary)
                }
            } else {
                try store.auditTrail.recordEnding(summary)
            }
        } catch {
            log.log(LogEvent(.runFailed, .error, "cannot record the outcome of run \(summary.runID ?? 0): \(error)", fields: runField))
        }
        return summary
    }

    /// `metrics_file` (README, "Install and run as a service") is written after every run, whoever runs it (the daemon,
    /// `sisyncd --once` from a timer, `sisyncctl sync`, `run revert`). A failure to write it
    /// is a warning, never a failed run. The webhook deliverer's lines in it are kept
    /// (`MetricsFileParts`).
    package static func writeMetrics(_ summary: RunSummary, store: RosterStore, configuration: Configuration, log: EventLog) {
        guard let path = configuration.metricsFile else { return }
        do {
            try MetricsFileParts.write(.runs, MetricsFile.text(last: summary, totals: store.metricsTotals(interval: configuration.interval.seconds)), to: path)
        } catch {
            let why = (error as? MetricsFileError)?.description ?? "\(path): \(error)"
            log.log(LogEvent(.runFailed, .warning, "cannot write the metrics file \(why)"))
        }
    }
}
