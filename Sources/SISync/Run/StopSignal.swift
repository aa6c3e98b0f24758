import Synchronization

/// Set when the daemon must stop (SIGTERM/SIGINT). Long work (a download, an apply)
/// checks it and gives up, so that a stop rolls the run back instead of waiting for it.
/// Each check is also a sign of progress: `heartbeat` (the systemd watchdog) is called,
/// so a run that hangs stops the pings and systemd restarts the daemon.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    private let heartbeat: (@Sendable () -> Void)?

    public init(heartbeat: (@Sendable () -> Void)? = nil) { self.heartbeat = heartbeat }

    public var isStopping: Bool {
        heartbeat?()
        return flag.load(ordering: .acquiring)
    }

    public func stop() { flag.store(true, ordering: .releasing) }
}
