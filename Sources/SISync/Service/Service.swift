/// One long-running part of a process, owned by a `ServiceGroup`: the sync loop
/// (`SyncService`), the webhook delivery (`WebhookService`), the tenants' supervisor
/// (`TenantSupervisor`), sisync-api's HTTP server. Each runs on a thread of its own (libpq and SQLite
/// block), until told to stop or until it fails.
package protocol Service: AnyObject, Sendable {
    /// What the journal calls it: "the sync loop", "the HTTP server".
    var name: String { get }
    /// Which of SIGUSR1 and SIGHUP it answers; the group watches only those, so that a
    /// process without one keeps the signal's default.
    var answers: ServiceSignals { get }
    /// Runs until `stop()`, then returns. Throws when it cannot go on (its database is held
    /// by another sisyncd, a socket cannot be bound): the group stops the others and the
    /// process exits with the error's code (`ExitCode.of`), so that systemd restarts it.
    func run() throws
    /// Asks `run` to return soon (rolling back what it was doing). Called from the signal
    /// queue, or when another service failed; returns at once, and may come before `run`
    /// started or after it returned.
    func stop()
    /// SIGUSR1, when `answers` has `.runNow`.
    func runNow()
    /// SIGHUP, when `answers` has `.reload`.
    func reload()
}

extension Service {
    package var answers: ServiceSignals { [] }
    package func runNow() {}
    package func reload() {}
}

/// The signals besides SIGTERM/SIGINT (which stop every service) that a service answers.
package struct ServiceSignals: OptionSet, Sendable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }
    /// SIGUSR1: run now.
    package static let runNow = ServiceSignals(rawValue: 1)
    /// SIGHUP: read the configuration again.
    package static let reload = ServiceSignals(rawValue: 2)
}
