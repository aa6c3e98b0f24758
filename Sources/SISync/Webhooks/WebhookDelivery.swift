import Foundation

/// One configuration's webhook delivery, as a daemon runs it: a store of its own (the
/// deliverer waits on it, and commits once per acknowledged event, apart from the runs'
/// connection), a `WebhookDeliverer` over it until stopped, and a new connection when the
/// old one is lost (a PostgreSQL restart). `WebhookService` runs one while the single daemon
/// is the active one; the tenants' supervisor one per held tenant with `[webhook.NAME]`.
final class WebhookDelivery: @unchecked Sendable {
    let configuration: Configuration
    private let log: EventLog
    private let onMetrics: @Sendable (String) -> Void
    /// Between events: a reload, a lost lock, a tenant let go.
    private let finishing = StopSignal()
    /// In flight too: the process stops.
    private let aborting = StopSignal()
    private let changed = NSCondition()
    private var done = false

    /// `onMetrics` gets the endpoints' metric families (`WebhookEndpointMetrics.text`) every
    /// few seconds while it delivers.
    init(configuration: Configuration, log: EventLog, onMetrics: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
        self.onMetrics = onMetrics
    }

    /// Ends the delivery after the request in flight (its answer is recorded).
    func finish() {
        finishing.stop()
        changed.withLock { changed.broadcast() }
    }

    /// Ends it at once, cutting a request in flight: the event is sent again later, with the
    /// same webhook-id (at least once).
    func abort() {
        aborting.stop()
        finish()
    }

    var isDone: Bool { changed.withLock { done } }

    /// Waits (at most `timeout` seconds) until `run` has returned.
    @discardableResult
    func waitUntilDone(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        changed.lock()
        defer { changed.unlock() }
        while !done { if !changed.wait(until: deadline) { break } }
        return done
    }

    /// Delivers until `finish` or `abort`, on the calling thread.
    func run() {
        defer { changed.withLock { done = true; changed.broadcast() } }
        let names = configuration.webhooks.keys.sorted().joined(separator: ", ")
        log.log(LogEvent(.webhookDelivery, .notice, "delivering webhooks to \(names)"))
        var problem: String?
        while !finishing.isStopping {
            do {
                let store = try RosterStore(location: configuration.store)
                if problem != nil { log.log(LogEvent(.webhookDelivery, .notice, "webhook delivery connected again to \(store.path)")) }
                problem = nil
                let deliverer = WebhookDeliverer(configuration: configuration, log: log)
                deliverer.abortInFlight = { [aborting] in aborting.isStopping }
                deliverer.onMetrics = { [onMetrics] in onMetrics(WebhookEndpointMetrics.text($0)) }
                deliverer.run(store: store, until: finishing)
                if finishing.isStopping { break }
                problem = "lost its connection to the database"
                log.log(LogEvent(.webhookFailed, .warning, "webhook delivery lost its connection to the database; connecting again in 5 s"))
            } catch {
                let why = "cannot open the database: \(error)"
                if problem != why { log.log(LogEvent(.webhookFailed, .warning, "webhook delivery \(why); trying again every 5 s")) }
                problem = why
            }
            let deadline = Date().addingTimeInterval(5)
            changed.withLock { while !finishing.isStopping && changed.wait(until: deadline) {} }
        }
        log.log(LogEvent(.webhookDelivery, .notice, "stopped delivering webhooks to \(names)"))
    }
}
