/// Where a sync schedule is, the single daemon's or one tenant's: what `sisyncctl status`
/// reports (`"daemon": {…, "state"}`) from the `<database>.daemon` file, so that an
/// administrator can tell a daemon waiting for its next run from one stuck behind an
/// administrator's write or cut off from its database.
public enum DaemonState: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Before its first run: taking the lock, opening the store.
    case starting
    /// Waiting for the next run (the interval, SIGUSR1, SIGHUP).
    case idle
    /// A run is in progress.
    case running
    /// A run waits for the run lock, held by an administrator's write or another run (R9).
    case waitingForRunLock = "waiting_for_run_lock"
    /// Another sisyncd holds the store; this one takes over when it lets go.
    case standby
    /// The database cannot be reached; connecting again.
    case reconnecting
    /// SIGTERM or SIGINT: rolling back a run in progress and ending.
    case stopping

    /// As `sisyncctl status` says it on its `daemon:` line.
    public var description: String {
        switch self {
        case .starting: return "starting"
        case .idle: return "idle, waiting for the next run"
        case .running: return "running a sync"
        case .waitingForRunLock: return "waiting for the run lock"
        case .standby: return "standby"
        case .reconnecting: return "connecting to the database again"
        case .stopping: return "stopping"
        }
    }
}
