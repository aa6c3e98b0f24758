/// How a run ended. The exit code of `sisyncd --once` and `sisyncctl sync` follows it.
public enum RunOutcome: String, Sendable, Codable {
    case running, applied, unchanged, blocked, failed
}

/// Why a run failed, which decides the exit code (README, the exit codes under "Commands"; sysexits).
public enum FailureClass: Sendable, Equatable {
    case badData          // 65
    case unavailable      // 69
    case cannotCreate     // 73
    case temporary        // 75
    case configuration    // 78
    case software         // 70

    public var exitCode: Int32 {
        switch self {
        case .badData: return 65
        case .unavailable: return 69
        case .cannotCreate: return 73
        case .temporary: return 75
        case .configuration: return 78
        case .software: return 70
        }
    }
}

/// The summary of a run (docs/json.md, "A run").
public struct RunSummary: Sendable {
    public var runID: Int64?
    public var startedAt: String
    public var finishedAt: String?
    public var outcome: RunOutcome
    public var dryRun: Bool
    /// Why the run failed or was held. Shown, logged and stored, so every URL in it is
    /// redacted as it is set (`DisplayedURL`), whoever sets it; a record read back from a
    /// database an older sisync wrote is redacted too.
    public var error: String? {
        get { redactedError }
        set { redactedError = newValue.map(DisplayedURL.redacting(in:)) }
    }
    private var redactedError: String?
    public var actor: String
    public var trigger: String
    public var staff = RecordCounts()
    public var linksMade = 0, linksRemoved = 0, linksAmbiguous = 0
    public var rolesGranted = 0, rolesRevoked = 0
    public var entities: [String: RecordCounts] = [:]
    public var problems: [String] = []
    public var reverts: Int64?
    /// The held run whose plan this run applied (`sisyncctl run approve`).
    public var approves: Int64?
    /// Set when the guard held this run: its plan is kept until approved or discarded.
    public var hold: RunHold?
    /// The hold that stands after this run (its own, or an earlier one on the same export),
    /// for the STATUS line and `sisync_held_run`; not stored.
    public var standingHold: Int64?
    public var contentHash: String?
    /// Seconds spent in each phase (fetch, parse, plan, apply), for logs and the benchmark.
    public var timings: [(String, Double)] = []
    /// Set for failed runs: which exit code the failure maps to.
    public var failure: FailureClass?

    public init(runID: Int64?, startedAt: String, outcome: RunOutcome, dryRun: Bool, actor: String, trigger: String) {
        self.runID = runID
        self.startedAt = startedAt
        self.outcome = outcome
        self.dryRun = dryRun
        self.actor = actor
        self.trigger = trigger
    }

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
    public var exitCode: Int32 {
        switch outcome {
        case .applied, .unchanged, .running: return 0
        case .blocked: return 65
        case .failed: return (failure ?? .software).exitCode
        }
    }
}
