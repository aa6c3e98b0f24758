/// How a run ended, with what each ending carries: a failed run its class (which decides
/// the exit code) and its message, a held run its hold. So a failed run cannot lack its
/// class, nor a run the guard held the reason it gives. `outcome` is its name, as stored.
public enum RunEnding: Sendable, Equatable {
    /// Not ended yet. A record a crash left says so until the next run closes it.
    case running
    /// The plan was applied in one transaction (R1).
    case applied
    /// The export was the one last applied (R3): only links, roles and time changed anything.
    case unchanged
    /// The guard held the run (R5): nothing was applied, and its plan was kept as `hold`
    /// for an administrator to approve or discard. `reason` says why and what to do.
    case held(RunHold, reason: String)
    /// The guard blocked the run, which kept no plan of its own: a dry run, a cycle on the
    /// export the standing hold was planned on ("still held"), a plan that could not be
    /// kept, or a record whose kept plan was pruned since.
    case blocked(reason: String)
    /// Nothing was applied.
    case failed(FailureClass, message: String)

    /// The name the run's record, `--json`, the STATUS line and the metrics give it: a held
    /// run is `blocked` there, with `"held": true` and its `hold` beside it.
    public var outcome: RunOutcome {
        switch self {
        case .running: return .running
        case .applied: return .applied
        case .unchanged: return .unchanged
        case .held, .blocked: return .blocked
        case .failed: return .failed
        }
    }

    /// Why the run failed or was held.
    public var message: String? {
        switch self {
        case .running, .applied, .unchanged: return nil
        case .held(_, let reason), .blocked(let reason): return reason
        case .failed(_, let message): return message
        }
    }

    public var failure: FailureClass? {
        if case .failed(let failure, _) = self { return failure }
        return nil
    }

    public var hold: RunHold? {
        if case .held(let hold, _) = self { return hold }
        return nil
    }

    /// A run's ending as its record keeps it: the outcome's name, the message and the hold
    /// (a failure's class is not stored).
    init(recorded outcome: RunOutcome, message: String?, hold: RunHold?) {
        switch outcome {
        case .running: self = .running
        case .applied: self = .applied
        case .unchanged: self = .unchanged
        case .blocked: self = hold.map { .held($0, reason: message ?? "") } ?? .blocked(reason: message ?? "")
        case .failed: self = .failed(.unrecorded, message: message ?? "")
        }
    }

    /// The same ending with every URL in its message redacted (`DisplayedURL`).
    var redacted: RunEnding {
        switch self {
        case .running, .applied, .unchanged: return self
        case .held(let hold, let reason): return .held(hold, reason: DisplayedURL.redacting(in: reason))
        case .blocked(let reason): return .blocked(reason: DisplayedURL.redacting(in: reason))
        case .failed(let failure, let message): return .failed(failure, message: DisplayedURL.redacting(in: message))
        }
    }
}
