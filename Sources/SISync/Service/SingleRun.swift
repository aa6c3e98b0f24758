import Foundation

/// `sisyncd --once` and `--dry-run`: one run under the daemon lock, for a timer or a
/// script; SIGTERM/SIGINT roll it back and exit 0. Not a service: nothing keeps running.
struct SingleRun {
    let configuration: Configuration
    var options: SyncRun.Options
    let log: EventLog
    let console: Console

    init(configuration: Configuration, options: SyncRun.Options, log: EventLog, console: Console) {
        self.configuration = configuration
        self.options = options
        self.options.trigger = .once
        self.options.takesDaemonLock = true
        self.log = log
        self.console = console
    }

    /// `[events] once_deliver`: what is pending (this run's events, and any before) goes out
    /// before the exit, for at most that long, under the daemon lock: a daemon that holds
    /// the store delivers them itself. The exit code stays the run's.
    private func deliverPending(stop: StopSignal) {
        let seconds = configuration.events.onceDeliver.seconds
        guard seconds > 0 else { return }
        do {
            let lock = try DaemonLock(location: configuration.store)
            let store = try RosterStore(location: configuration.store, mustExist: true)
            let deliverer = WebhookDeliverer(configuration: configuration, log: log)
            // The bound holds for a request in flight too: a receiver that holds one open does
            // not keep a timer's run past once_deliver (that event goes again next time).
            let deadline = Date().addingTimeInterval(seconds)
            deliverer.abortInFlight = { stop.isStopping || Date() >= deadline }
            if let path = configuration.metricsFile {
                deliverer.onMetrics = { [log] in MetricsFileParts.writeWebhooks(WebhookEndpointMetrics.text($0), to: path, log: log) }
            }
            log.log(LogEvent(.webhookDelivery, .info, "delivering pending webhooks to \(configuration.webhooks.keys.sorted().joined(separator: ", ")) for up to \(configuration.events.onceDeliver)"))
            withExtendedLifetime(lock) { deliverer.deliverPending(store: store, for: seconds, stop: stop) }
        } catch StoreError.locked(_, let holder) {
            log.log(LogEvent(.webhookDelivery, .info, "webhooks not delivered by this run: \(holder) holds the database and delivers them"))
        } catch {
            log.log(LogEvent(.webhookFailed, .warning, "webhooks not delivered by this run: \(error); the next run or the daemon sends them"))
        }
    }

    /// The exit code: the run's (`ExitCode.of` its ending), or 0 when stopped by a signal.
    func run() -> Int32 {
        let stop = StopSignal(petting: ServiceNotifier(log: log))
        let signals = SignalWatcher()
        signals.onStop { stop.stop() }
        let options = self.options
        let result = withExtendedLifetime(signals) {
            let result = SyncRun(configuration: configuration, options: options, log: log, stop: stop).performWithStore(waiting: { [log] holder in
                log.log(LogEvent(.runWaiting, .notice, "waiting for \(holder) to finish before this run (up to \(ConfigDuration(seconds: options.wait)))"))
            })
            if !options.dryRun && !stop.isStopping && !configuration.webhooks.isEmpty { deliverPending(stop: stop) }
            return result
        }
        if options.dryRun {
            console.out(RunReport.text(result.summary, plan: result.plan, showPlan: true))
        }
        if stop.isStopping { return 0 }
        return result.summary.exitCode
    }
}
