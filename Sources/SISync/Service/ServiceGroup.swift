import Foundation

/// The one owner of a process's services (swift-service-lifecycle's `ServiceGroup` is the
/// model, on threads): it starts each on a thread of its own, turns SIGTERM/SIGINT into a
/// stop of all of them and SIGUSR1/SIGHUP into the calls of those that answer them, and ends
/// the process's work when one of them ends. A service that fails stops the others and the
/// process, with one critical journal entry naming it and its error, and the error's exit
/// code (`ExitCode.of`): systemd then restarts the unit (or, for 78, waits for a fixed
/// configuration). Every stop, by a signal or a failure, takes at most `stopBudget`
/// seconds: what has not returned by then is left to end with the process (a transaction
/// in progress dies with its connection), inside the units' TimeoutStopSec=10s.
package final class ServiceGroup: @unchecked Sendable {
    package let process: String
    private let services: [any Service]
    private let log: EventLog
    private let notifier: ServiceNotifier
    private let event: LogEventType
    private let fields: [(String, String)]
    private let stopBudget: Double
    private let changed = NSCondition()
    /// Which services have returned (by index), and how.
    private var ended: [Int: Result<Void, any Error>] = [:]
    private var stopRequested = false

    /// `process` names the binary in the journal ("sisyncd"); `event` is the `MESSAGE_ID`
    /// of the group's own entries; `fields` go with them (`SISYNC_CONFIG`).
    package init(process: String, services: [any Service], log: EventLog, notifier: ServiceNotifier, event: LogEventType = .daemonStopping,
                 fields: [(String, String)] = [], stopBudget: Double = 5) {
        self.process = process
        self.services = services
        self.log = log
        self.notifier = notifier
        self.event = event
        self.fields = fields
        self.stopBudget = stopBudget
    }

    /// Watches the signals, runs the services, and returns the process's exit code once
    /// they have stopped (or the budget is spent): 0 when stopped by a signal or when a
    /// service returned by itself, the failure's code when one failed.
    package func run() -> Int32 {
        let signals = SignalWatcher()
        signals.onStop { [self] in stop() }
        let all = services.reduce(ServiceSignals()) { $0.union($1.answers) }
        if all.contains(.runNow) { signals.onSyncNow { [services] in for s in services where s.answers.contains(.runNow) { s.runNow() } } }
        if all.contains(.reload) { signals.onReload { [services] in for s in services where s.answers.contains(.reload) { s.reload() } } }
        return withExtendedLifetime(signals) { serve() }
    }

    /// What `run` does once the signals are watched; a test calls it and `stop()` directly.
    package func serve() -> Int32 {
        for (index, service) in services.enumerated() {
            Thread.detachNewThread { [self] in
                let result = Result { try service.run() }
                changed.withLock {
                    ended[index] = result
                    changed.broadcast()
                }
            }
        }
        changed.lock()
        while ended.isEmpty && !stopRequested { changed.wait() }
        let first = ended.min { $0.key < $1.key }
        let signalled = stopRequested
        changed.unlock()

        var code: Int32 = 0
        if !signalled, let (index, result) = first {
            let others = services.count > 1 ? "; stopping the other services" : ""
            switch result {
            case .failure(let error):
                code = ExitCode.of(error)
                let restart = code == 78 ? "systemd does not restart it until the configuration is fixed" : "for systemd to restart it"
                log.log(LogEvent(event, .critical, "\(process): \(services[index].name) failed: \(error)\(others); exit \(code), \(restart)", fields: fields))
            case .success:
                log.log(LogEvent(event, .notice, "\(process): \(services[index].name) ended\(others)", fields: fields))
            }
            stop()
        }
        let deadline = Date().addingTimeInterval(stopBudget - 0.5)
        changed.lock()
        while ended.count < services.count && changed.wait(until: deadline) {}
        let left = services.indices.filter { ended[$0] == nil }.map { services[$0].name }
        changed.unlock()
        if !left.isEmpty {
            log.log(LogEvent(event, .warning, "\(process): \(left.joined(separator: ", ")) did not stop within \(stopBudget - 0.5) s; ending without \(left.count == 1 ? "it" : "them")",
                             fields: fields))
        }
        return code
    }

    /// SIGTERM/SIGINT, or a service that ended: STOPPING=1 to systemd, then every service
    /// asked to stop. Once only.
    package func stop() {
        let first = changed.withLock {
            defer { stopRequested = true; changed.broadcast() }
            return !stopRequested
        }
        guard first else { return }
        notifier.stopping()
        for s in services { s.stop() }
    }
}
