import Foundation

/// One sync schedule: where it is (`DaemonState`), when its next run is due, and what it
/// was asked meanwhile (SIGUSR1: a run now; SIGHUP: a reload and a run; a stop). The single
/// daemon (`SyncService`) drives one; `sisyncd --tenants` one per tenant, and one of its own
/// for the requests to the whole process. Thread-safe: the signal queue asks, the loop
/// takes, a run's thread says it waits for the run lock.
package final class Scheduler: @unchecked Sendable {
    private let lock = NSLock()
    private let wake = DispatchSemaphore(value: 0)
    private var current: DaemonState
    private var next: Date?
    /// A run asked for and not begun: `.signal` from SIGUSR1 or SIGHUP (a reload's run),
    /// `.schedule` from a takeover. However many arrive, one run answers them.
    private var requested: Trigger?
    private var reloadRequested = false
    private var observer: (@Sendable (DaemonState, Date?) -> Void)?

    package init(state: DaemonState = .starting, nextRun: Date? = nil) {
        current = state
        next = nextRun
    }

    package var state: DaemonState { lock.withLock { current } }
    /// When the next scheduled run is due (nil: not known, or running now).
    package var nextRun: Date? { lock.withLock { next } }
    package var isStopping: Bool { state == .stopping }

    /// Told of every change of state or next run (the `<database>.daemon` file), in order:
    /// called under the lock, so that two threads' changes cannot land out of order.
    package func observe(_ observer: (@Sendable (DaemonState, Date?) -> Void)?) {
        lock.withLock {
            self.observer = observer
            observer?(current, next)
        }
    }

    /// Moves to `state`; `next` is the next run's time when idle. A schedule that is
    /// stopping stays so: a run that ends after SIGTERM does not make it idle again.
    package func enter(_ state: DaemonState, next: Date? = nil) {
        lock.withLock {
            guard current != .stopping else { return }
            current = state
            self.next = next
            observer?(current, self.next)
        }
    }

    /// SIGUSR1, a reload, a takeover: a run as soon as the schedule can (at once when idle,
    /// right after the run in progress otherwise). A signal's trigger is kept over a
    /// schedule's: the run it asked for is recorded as `signal`.
    package func requestRun(_ trigger: Trigger = .signal) {
        lock.withLock { requested = requested == .signal ? .signal : trigger }
        wake.signal()
    }

    /// SIGHUP: the configuration read again, then (`thenRun`) a run, recorded as `signal`
    /// as SIGUSR1's is: an administrator's signal started it, not the interval.
    /// `sisyncd --tenants` reloads without one: a reload touches no tenant whose file it
    /// leaves as it was.
    package func requestReload(thenRun: Bool = true) {
        lock.withLock {
            reloadRequested = true
            if thenRun { requested = .signal }
        }
        wake.signal()
    }

    /// SIGTERM/SIGINT: stopping from now on; a wait ends at once.
    package func stop() {
        lock.withLock {
            current = .stopping
            next = nil
            observer?(current, next)
        }
        wake.signal()
    }

    package var hasRunRequest: Bool { lock.withLock { requested != nil } }
    package var hasReloadRequest: Bool { lock.withLock { reloadRequested } }

    /// The trigger of the run asked for, taken (nil: none asked, the schedule's own run).
    package func takeRunRequest() -> Trigger? {
        lock.withLock {
            defer { requested = nil }
            return requested
        }
    }

    /// Whether a reload was asked for, taken.
    package func takeReloadRequest() -> Bool {
        lock.withLock {
            defer { reloadRequested = false }
            return reloadRequested
        }
    }

    /// Ends a `wait` without asking for anything: a loop that has other work (a tenant's
    /// run finished) looks at it now.
    package func wakeUp() { wake.signal() }

    /// Sleeps until `deadline` or until a request or a stop wakes it. The caller checks
    /// what is due: a wake may be left over from a request it already took.
    package func wait(until deadline: DispatchTime) {
        _ = wake.wait(timeout: deadline)
    }
}
