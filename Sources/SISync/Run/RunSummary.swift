/// The summary of a run (docs/json.md, "A run").
public struct RunSummary: Sendable {
    public var runID: Int64?
    public var startedAt: String
    public var finishedAt: String?
    /// How the run ended, with its payload. Its message is shown, logged and stored, so
    /// every URL in it is redacted as it is set (`DisplayedURL`), whoever sets it; a record
    /// read back from a database an older sisync wrote is redacted too.
    public var ending: RunEnding {
        get { redactedEnding }
        set { redactedEnding = newValue.redacted }
    }
    private var redactedEnding: RunEnding
    public var dryRun: Bool
    public var actor: String
    public var trigger: Trigger
    public var staff = RecordCounts()
    public var linksMade = 0, linksRemoved = 0, linksAmbiguous = 0
    public var rolesGranted = 0, rolesRevoked = 0
    public var entities: [String: RecordCounts] = [:]
    public var problems: [String] = []
    public var reverts: Int64?
    /// The held run whose plan this run applied (`sisyncctl run approve`).
    public var approves: Int64?
    /// The hold that stands after this run (its own, or an earlier one on the same export),
    /// for the STATUS line and `sisync_held_run`; not stored.
    public var standingHold: Int64?
    public var contentHash: String?
    /// Seconds spent in each phase (fetch, parse, plan, apply), for logs and the benchmark.
    public var timings: [(String, Double)] = []

    public init(runID: Int64?, startedAt: String, ending: RunEnding, dryRun: Bool, actor: String, trigger: Trigger) {
        self.runID = runID
        self.startedAt = startedAt
        self.redactedEnding = ending.redacted
        self.dryRun = dryRun
        self.actor = actor
        self.trigger = trigger
    }

    /// The outcome's name, as the run's record, `--json` and the metrics give it.
    public var outcome: RunOutcome { ending.outcome }
    /// Why the run failed or was held.
    public var error: String? { ending.message }
    /// Set for failed runs: which exit code the failure maps to.
    public var failure: FailureClass? { ending.failure }
    /// Set when the guard held this run: its plan is kept until approved or discarded.
    public var hold: RunHold? { ending.hold }

    /// The plan's record counts, as the run's record shows them: per entity (only those
    /// that change, unless `everyEntity`) and staff.
    public mutating func count(records plan: Plan, everyEntity: Bool) {
        for p in plan.entities {
            let counts = plan.counts(for: p.kind)
            if counts.total > 0 || everyEntity { entities[p.kind.rawValue] = counts }
        }
        staff = plan.counts(for: .staff)
    }

    /// The process exit code for this outcome (`sisyncd --once`, `sisyncctl sync`).
    public var exitCode: Int32 { ExitCode.of(ending) }
}
