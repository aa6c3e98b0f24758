/// What started a run, as its record, `--json` and `run show` spell it (docs/schema.md,
/// `runs.trigger`).
public enum Trigger: Sendable, Equatable, RawRepresentable, CustomStringConvertible {
    /// sisyncd's cycle, or a tenant's: at start, every `interval`, or a standby's takeover.
    case schedule
    /// SIGUSR1 asked sisyncd (or `sisyncd --tenants`) for a run now, or SIGHUP reloaded
    /// sisyncd's configuration and ran (`sisyncd --tenants` runs nobody on SIGHUP).
    case signal
    /// `sisyncd --once` or `--dry-run` (a timer, a script).
    case once
    /// `sisyncctl sync`.
    case sisyncctl
    /// `sisyncctl run approve`: a held run's plan, applied as a new run.
    case approve
    /// `sisyncctl run revert`.
    case revert
    /// A trigger this sisync does not know, read from a record a newer one wrote.
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "schedule": self = .schedule
        case "signal": self = .signal
        case "once": self = .once
        case "sisyncctl": self = .sisyncctl
        case "approve": self = .approve
        case "revert": self = .revert
        default: self = .other(rawValue)
        }
    }

    public var rawValue: String {
        switch self {
        case .schedule: return "schedule"
        case .signal: return "signal"
        case .once: return "once"
        case .sisyncctl: return "sisyncctl"
        case .approve: return "approve"
        case .revert: return "revert"
        case .other(let name): return name
        }
    }

    public var description: String { rawValue }
}
