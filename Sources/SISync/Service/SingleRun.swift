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

    /// The exit code: the run's (`ExitCode.of` its ending), or 0 when stopped by a signal.
    func run() -> Int32 {
        let stop = StopSignal(petting: ServiceNotifier(log: log))
        let signals = SignalWatcher()
        signals.onStop { stop.stop() }
        let options = self.options
        let result = withExtendedLifetime(signals) {
            SyncRun(configuration: configuration, options: options, log: log, stop: stop).performWithStore(waiting: { [log] holder in
                log.log(LogEvent(.runWaiting, .notice, "waiting for \(holder) to finish before this run (up to \(ConfigDuration(seconds: options.wait)))"))
            })
        }
        if options.dryRun {
            console.out(RunReport.text(result.summary, plan: result.plan, showPlan: true))
        }
        if stop.isStopping { return 0 }
        return result.summary.exitCode
    }
}
