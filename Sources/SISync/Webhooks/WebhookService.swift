import Foundation

/// The single daemon's webhook delivery (`sisyncd --config`), a service beside the sync
/// loop: it delivers while the sync loop holds the database (`setActive`, told by
/// `SyncService`), never while this sisyncd is a standby, so only the active daemon sends.
/// SIGHUP reads the configuration again and starts over with it (endpoints added or
/// removed, a secret file rotated), after the request in flight; SIGTERM cuts a request in
/// flight, so it stops well inside the group's budget. Without any `[webhook.NAME]` it only
/// waits, so that a reload that adds one starts delivering.
final class WebhookService: Service, @unchecked Sendable {
    let name = "the webhook deliverer"
    var answers: ServiceSignals { [.reload] }

    private var configuration: Configuration
    private let configPath: String
    private let log: EventLog
    private let changed = NSCondition()
    private var active = false
    private var stopping = false
    private var reloadRequested = false
    private var current: WebhookDelivery?
    /// Whether the metrics file has this service's lines (cleared when it stops delivering).
    private var wroteMetrics = false

    init(configuration: Configuration, configPath: String, log: EventLog) {
        self.configuration = configuration
        self.configPath = configPath
        self.log = log
    }

    /// The sync loop holds the database's lock (true) or waits as a standby, lost it, or is
    /// stopping (false).
    func setActive(_ value: Bool) {
        changed.withLock {
            guard active != value else { return }
            active = value
            if !value { current?.finish() }
            changed.broadcast()
        }
    }

    func stop() {
        changed.withLock {
            stopping = true
            current?.abort()
            changed.broadcast()
        }
    }

    func reload() {
        changed.withLock {
            reloadRequested = true
            current?.finish()
            changed.broadcast()
        }
    }

    func run() throws {
        while true {
            changed.lock()
            if stopping { changed.unlock(); return }
            if reloadRequested {
                reloadRequested = false
                changed.unlock()
                reloadConfiguration()
                continue
            }
            guard active, !configuration.webhooks.isEmpty else {
                let clear = wroteMetrics
                wroteMetrics = false
                changed.unlock()
                // A standby, or no endpoint any more: its lines leave the metrics file.
                if clear { writeMetrics("") }
                changed.withLock { if !stopping && !reloadRequested && !(active && !configuration.webhooks.isEmpty) { changed.wait() } }
                continue
            }
            let delivery = WebhookDelivery(configuration: configuration, log: log) { [weak self] text in self?.writeMetrics(text) }
            current = delivery
            changed.unlock()
            delivery.run()
            changed.withLock { current = nil }
        }
    }

    private func writeMetrics(_ text: String) {
        guard let path = changed.withLock({ configuration.metricsFile }) else { return }
        changed.withLock { wroteMetrics = !text.isEmpty }
        MetricsFileParts.writeWebhooks(text, to: path, log: log)
    }

    /// The sync loop says what was wrong with a new file (and keeps its old configuration
    /// for a changed database); this keeps its old one quietly in both cases.
    private func reloadConfiguration() {
        guard let new = try? Configuration.load(path: configPath), new.store == configuration.store else { return }
        changed.withLock { configuration = new }
    }
}
