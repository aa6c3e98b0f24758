import Synchronization

/// Set when the daemon must stop (SIGTERM/SIGINT). Long work (a download, an apply)
/// checks it and gives up, so that a stop rolls the run back instead of waiting for it.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isStopping: Bool { flag.load(ordering: .acquiring) }
    public func stop() { flag.store(true, ordering: .releasing) }
}
