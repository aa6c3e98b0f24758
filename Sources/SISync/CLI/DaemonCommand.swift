@preconcurrency import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `sisyncd`: parses its arguments, then runs once or keeps syncing on a schedule. It only
/// schedules, handles signals and logs; the run itself is `SyncRun`.
public struct DaemonCommand {
    public let console: Console
    public let log: EventLog

    public init(console: Console, log: EventLog) {
        self.console = console
        self.log = log
    }

    static let usage = """
        usage: sisyncd [--config PATH] [--once [--allow-mass-deactivation]] [--dry-run]
               sisyncd --tenants DIR [--max-tenants N] [--max-parallel-runs N] [--metrics-file PATH]
               sisyncd [--config PATH | --tenants DIR] --check-config

          --config PATH  configuration file (default /etc/sisync/sisync.conf)
          --once         run one cycle and exit: 0 applied or unchanged, 65 bad data or
                         blocked by the guard, 69 source unavailable, 75 database busy
                         (or migrated by a newer sisync), 78 configuration error
          --dry-run      fetch and plan one cycle, print the plan, write nothing
          --allow-mass-deactivation
                         with --once: let that one run past every guard (scripts; a person
                         approves a held run with `sisyncctl run approve ID`)
          --check-config load the configuration, the letter template, the credentials and
                         the store (read only, never migrated) as a run would, list every
                         problem with its file, line and key, and exit: 0 `configuration OK`,
                         78 problems found
          --version      print the version
          --tenants DIR  serve every DIR/NAME.conf as a tenant (a full configuration each), each
                         claimed by its own lock; tenants held by another sisyncd are waited for
          --max-tenants N        serve at most N tenants (default: no cap)
          --max-parallel-runs N  at most N runs at once (default 2)
          --metrics-file PATH    one metrics file for all tenants, labelled `tenant`

        Signals: SIGUSR1 syncs now, SIGHUP reloads the configuration and syncs,
        SIGTERM/SIGINT stop (a run in progress is rolled back).

        """

    public func run(_ argv: [String]) -> Int32 {
        let args: Arguments
        do {
            args = try Arguments(argv, valued: ["config", "tenants", "max-tenants", "max-parallel-runs", "metrics-file"],
                                 flags: ["once", "dry-run", "help", "version", "allow-mass-deactivation", "check-config"])
        } catch {
            console.err("sisyncd: \(error)\n\(Self.usage)")
            return 64
        }
        if args.flag("help") { console.out(Self.usage); return 0 }
        if args.flag("version") { console.out("sisyncd \(SisyncVersion.current)\n"); return 0 }
        guard args.positional.isEmpty else {
            console.err("sisyncd: unexpected argument `\(args.positional[0])`\n\(Self.usage)")
            return 64
        }
        if args.flag("allow-mass-deactivation") && !args.flag("once") {
            // Said, not ignored: a daemon let past every guard on every cycle is not offered.
            console.err("sisyncd: --allow-mass-deactivation lets one run past the guard: it needs --once (a held run of the daemon is approved with `sisyncctl run approve ID`)\n")
            return 64
        }
        if args.flag("check-config") {
            guard !args.flag("once"), !args.flag("dry-run") else {
                console.err("sisyncd: --check-config runs nothing; leave out --once and --dry-run\n")
                return 64
            }
            return checkConfiguration(args)
        }
        if let directory = args.value("tenants") {
            var options = TenantSupervisor.Options(directory: directory)
            func count(_ name: String) -> Int?? {
                guard let v = args.value(name) else { return .some(nil) }
                guard let n = Int(v), n >= 1 else { return nil }
                return .some(n)
            }
            guard let maxTenants = count("max-tenants"), let parallel = count("max-parallel-runs") else {
                console.err("sisyncd: --max-tenants and --max-parallel-runs take a whole number of at least 1\n\(Self.usage)")
                return 64
            }
            guard args.value("config") == nil, !args.flag("once"), !args.flag("dry-run") else {
                console.err("sisyncd: --tenants takes each tenant's configuration from DIR; it cannot be combined with --config, --once or --dry-run\n")
                return 64
            }
            options.maxTenants = maxTenants
            options.maxParallelRuns = parallel ?? 2
            options.metricsFile = args.value("metrics-file")
            let notifier = ServiceNotifier(log: log)
            var heartbeat: (@Sendable () -> Void)?
            if notifier.watchdogInterval != nil { heartbeat = { notifier.keepAlive() } }
            return TenantSupervisor(options: options, log: log, signals: SignalWatcher(), stop: StopSignal(heartbeat: heartbeat), notifier: notifier).run()
        }
        let path = args.value("config") ?? "/etc/sisync/sisync.conf"
        let configuration: Configuration
        do { configuration = try Configuration.load(path: path) } catch {
            // Critical, through the log (the journal under systemd, else stderr): exit 78 is
            // in RestartPreventExitStatus, so the service stays down until the file is fixed,
            // and this entry is what the administrator finds (a 0.2 configuration that is
            // refused now, such as a source URL with a password, is met here).
            log.log(LogEvent(.configRejected, .critical, "sisyncd cannot start: \(error); fix the configuration, then start sisync again (exit 78: systemd does not restart it until then)",
                             fields: [("SISYNC_CONFIG", path)]))
            return 78
        }
        let notifier = ServiceNotifier(log: log)
        var heartbeat: (@Sendable () -> Void)?
        if notifier.watchdogInterval != nil { heartbeat = { notifier.keepAlive() } }
        let stop = StopSignal(heartbeat: heartbeat)
        let signals = SignalWatcher()
        var options = SyncRun.Options()
        options.allowMassDeactivation = args.flag("allow-mass-deactivation")
        if args.flag("once") || args.flag("dry-run") {
            options.dryRun = args.flag("dry-run")
            options.trigger = .once
            options.takesDaemonLock = true
            signals.onStop { stop.stop() }
            let result = SyncRun(configuration: configuration, options: options, log: log, stop: stop).performWithStore(waiting: { holder in
                log.log(LogEvent(.runWaiting, .notice, "waiting for \(holder) to finish before this run (up to \(ConfigDuration(seconds: options.wait)))"))
            })
            if options.dryRun {
                console.out(RunReport.text(result.summary, plan: result.plan, showPlan: true))
            }
            if stop.isStopping { return 0 }
            return result.summary.exitCode
        }
        return Scheduler(configuration: configuration, configPath: path, log: log, signals: signals, stop: stop, notifier: notifier).run()
    }
}

extension DaemonCommand {
    /// `--check-config`: every finding on stdout, then `configuration OK` (0) or the number
    /// of problems (78). With `--tenants DIR`, each tenant's file in turn.
    func checkConfiguration(_ args: Arguments) -> Int32 {
        var files: [(label: String?, path: String)] = []
        if let directory = args.value("tenants") {
            guard args.value("config") == nil else {
                console.err("sisyncd: --tenants takes each tenant's configuration from DIR; it cannot be combined with --config\n")
                return 64
            }
            do {
                files = try TenantDirectory(path: directory).load().map { ("tenant \($0.name)", $0.file) }
            } catch {
                console.out("\(error)\n")
                return 78
            }
            if files.isEmpty { console.out("\(directory): no tenants (NAME.conf files)\n") }
        } else {
            files = [(nil, args.value("config") ?? "/etc/sisync/sisync.conf")]
        }
        var problems = 0
        for (label, path) in files {
            let findings = ConfigurationCheck(path: path).run()
            let indent = label == nil ? "" : "  "
            if let label { console.out("\(label) (\(path)):\n") }
            for f in findings { console.out(indent + f.description + "\n") }
            let count = findings.filter { $0.kind == .problem }.count
            problems += count
            console.out(indent + (count == 0 ? "configuration OK\n" : "\(count) problem\(count == 1 ? "" : "s") in \(path)\n"))
        }
        return problems == 0 ? 0 : 78
    }
}

/// Turns SIGTERM/SIGINT/SIGUSR1/SIGHUP into calls on a private queue, so that a signal
/// never interrupts a database write half-way.
package final class SignalWatcher: @unchecked Sendable {
    package init() {}

    private let queue = DispatchQueue(label: "sisync.signals")
    private var sources: [DispatchSourceSignal] = []

    private func watch(_ signals: [Int32], _ handler: @escaping @Sendable () -> Void) {
        for s in signals {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: queue)
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    package func onStop(_ handler: @escaping @Sendable () -> Void) { watch([SIGTERM, SIGINT], handler) }
    package func onSyncNow(_ handler: @escaping @Sendable () -> Void) { watch([SIGUSR1], handler) }
    package func onReload(_ handler: @escaping @Sendable () -> Void) { watch([SIGHUP], handler) }
}

/// The daemon's loop: a run at start, then every `interval` (up to 10% jitter), early on
/// SIGUSR1, after a reload on SIGHUP; it ends on SIGTERM/SIGINT. It tells systemd where it
/// is (READY, STATUS, RELOADING, STOPPING) and pets the watchdog while it waits and while
/// a run makes progress.
final class Scheduler: @unchecked Sendable {
    private var configuration: Configuration
    private let configPath: String
    private let log: EventLog
    private let signals: SignalWatcher
    private let stop: StopSignal
    private let notifier: ServiceNotifier
    private let wake = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var syncRequested = false
    /// SIGUSR1 asked for the next run: it is recorded as `signal`, not `schedule`.
    private var signalled = false
    private var reloadRequested = false
    private var store: RosterStore?

    init(configuration: Configuration, configPath: String, log: EventLog, signals: SignalWatcher, stop: StopSignal, notifier: ServiceNotifier) {
        self.configuration = configuration
        self.configPath = configPath
        self.log = log
        self.signals = signals
        self.stop = stop
        self.notifier = notifier
    }

    func run() -> Int32 {
        let location = configuration.store
        let path = location.display
        var daemonLock: DaemonLock?
        do {
            // Made without following a link another user could change (issue 26, F5).
            if case .sqlite(let file) = location { _ = try StateFolder(holding: file, creating: true) }
            do {
                daemonLock = try DaemonLock(location: location)
            } catch StoreError.locked where configuration.standby {
                daemonLock = nil   // another sisyncd is active: wait as its standby (below)
            }
            if daemonLock != nil {
                try SyncRun.tightenDatabaseModes(location, log: log)
                store = try RosterStore(location: location)
            }
        } catch {
            log.log(LogEvent(.runFailed, .error, "sisyncd cannot start: \(error)"))
            notifier.status("cannot start: \(error)")
            return ExitCode.of(error)
        }
        // Tells `sisyncctl status` the next run's time (SQLite: the file beside the lock).
        var schedule: DaemonSchedule?
        if daemonLock != nil, case .sqlite(let file) = location {
            do { schedule = try DaemonSchedule(databasePath: file) } catch {
                log.log(LogEvent(.runFailed, .warning, "cannot write \(DaemonSchedule.path(of: file)) (the next run's time for sisyncctl status): \(error)"))
            }
        }
        defer { schedule?.clear() }
        signals.onStop { [self] in
            notifier.stopping()
            stop.stop()
            lock.withLock { store?.database.interrupt() }
            wake.signal()
        }
        signals.onSyncNow { [self] in
            lock.withLock { syncRequested = true; signalled = true }
            wake.signal()
        }
        signals.onReload { [self] in
            lock.withLock { reloadRequested = true; syncRequested = true }
            wake.signal()
        }
        log.log(LogEvent(.daemonStarted, .notice, "sisyncd \(SisyncVersion.current) started: database \(path), every \(configuration.interval) from \(configuration.url ?? "per-entity URLs")\(configuration.standby ? ", standby allowed" : "")"))
        if daemonLock != nil { notifier.ready(status: "started; first run now") }
        var exitCode: Int32 = 0
        do {
            while !stop.isStopping {
                // R9, never two writers: a lock whose session ended is not held any more.
                if let held = daemonLock, !held.isStillHeld() {
                    daemonLock = nil
                    lock.withLock { store = nil }
                    log.log(LogEvent(.daemonStandby, .warning, "lost the lock on \(path) (its PostgreSQL session ended); not writing until it holds the lock again"))
                    if !configuration.standby {
                        // Taken back if nobody else has it: at once, or once the server is
                        // back (a restart); another sisyncd holding it stops this one (75).
                        var reported = false
                        while !stop.isStopping && daemonLock == nil {
                            do {
                                daemonLock = try DaemonLock(location: location)
                            } catch StoreError.locked(_, let holder) {
                                log.log(LogEvent(.runFailed, .error, "sisyncd stops: another sisyncd holds \(path) now (\(holder))"))
                                exitCode = 75
                                break
                            } catch {
                                if !reported { log.log(LogEvent(.runFailed, .error, "cannot take the lock on \(path) back: \(error); trying again every \(configuration.standbyPoll)")) }
                                reported = true
                                _ = waitForNextCycle(configuration.standbyPoll.seconds)
                            }
                        }
                        if daemonLock == nil { break }
                    }
                }
                if daemonLock == nil {
                    guard let taken = waitAsStandby() else { break }
                    daemonLock = taken
                }
                if store == nil {
                    do {
                        let opened = try RosterStore(location: location)
                        lock.withLock { store = opened }
                    } catch {
                        // Fails this cycle; the next one connects again.
                        let result = SyncRun(configuration: configuration, options: SyncRun.Options(), log: log, stop: stop).failedToStart(error)
                        if stop.isStopping { break }
                        let next = Date().addingTimeInterval(configuration.interval.seconds)
                        schedule?.write(next: next)
                        notifier.status(Self.statusLine(result.summary, next: next, heldUntil: configuration.deactivationsHeld(on: Date())))
                        if waitForNextCycle(configuration.interval.seconds) { continue } else { break }
                    }
                }
                if lock.withLock({ let r = reloadRequested; reloadRequested = false; return r }) { reload() }
                let trigger: Trigger = lock.withLock {
                    defer { syncRequested = false; signalled = false }
                    return signalled ? .signal : .schedule
                }
                notifier.keepAlive()
                schedule?.write(next: nil)
                guard let result = cycle(daemonLock: daemonLock, trigger: trigger) else { break }
                if stop.isStopping { break }
                // A run that found its lock gone: to standby (or take it back) now, not next cycle.
                if let held = daemonLock, !held.isStillHeld() { continue }
                let jitter = Double.random(in: 0...(configuration.interval.seconds * 0.1))
                let wait = configuration.interval.seconds + jitter
                schedule?.write(next: Date().addingTimeInterval(wait))
                notifier.status(Self.statusLine(result.summary, next: Date().addingTimeInterval(wait), heldUntil: configuration.deactivationsHeld(on: Date())))
                if !waitForNextCycle(wait, holding: daemonLock) { break }
            }
        }
        log.log(LogEvent(.daemonStopping, .notice, "sisyncd stopping"))
        lock.withLock { store = nil }
        withExtendedLifetime(daemonLock) {}
        return exitCode
    }

    /// Waits `seconds` (or until SIGUSR1, SIGHUP or a stop), petting the watchdog. With
    /// `holding`, a PostgreSQL lock is checked every `standby_poll` meanwhile, so that a
    /// daemon whose session ended stops calling itself active long before its next cycle.
    /// False when the daemon is stopping.
    private func waitForNextCycle(_ seconds: Double, holding: DaemonLock? = nil) -> Bool {
        let deadline = DispatchTime.now() + seconds
        var nextCheck = DispatchTime.now() + configuration.standbyPoll.seconds
        let checks = holding != nil && configuration.store.isPostgres
        while !stop.isStopping {
            if lock.withLock({ syncRequested }) { return true }
            if checks, DispatchTime.now() >= nextCheck {
                if holding?.isStillHeld() == false { return true }
                nextCheck = DispatchTime.now() + configuration.standbyPoll.seconds
            }
            notifier.keepAlive()
            var step = notifier.watchdogInterval.map { min(DispatchTime.now() + $0, deadline) } ?? deadline
            if checks { step = min(step, nextCheck) }
            if wake.wait(timeout: step) == .timedOut && DispatchTime.now() >= deadline { return true }
        }
        return false
    }

    /// A hot standby (`[sync] standby = true`, PostgreSQL): READY, a STATUS line naming the
    /// active sisyncd, a try for the lock every `standby_poll`; returns the lock as soon as
    /// it is free (the active one's session ended), or nil when told to stop. The metrics
    /// file says `sisync_active 0` meanwhile. A database that cannot be reached is retried.
    private func waitAsStandby() -> DaemonLock? {
        guard case .postgres(let settings) = configuration.store else { return nil }
        var candidate: DaemonLock?
        var announced = false
        var problem: String?
        while !stop.isStopping {
            if lock.withLock({ let r = reloadRequested; reloadRequested = false; return r }) { reload() }
            let poll = configuration.standbyPoll
            do {
                let claim = try candidate ?? DaemonLock.standby(settings: settings)
                candidate = claim
                if try claim.tryTakeOver() {
                    log.log(LogEvent(.daemonTakeover, .notice, "took over \(settings.display): the active sisyncd's lock was free; running a cycle now"))
                    notifier.status("active: took over; running a cycle now")
                    lock.withLock { syncRequested = true }
                    return claim
                }
                let line = Self.standbyLine(claim.holder())
                if !announced || problem != nil {
                    log.log(LogEvent(.daemonStandby, .notice, "\(line); trying to take over every \(poll)"))
                }
                if announced { notifier.status(line) } else { notifier.ready(status: line) }
                announced = true
                problem = nil
                Self.writeStandbyMetrics(configuration: configuration, log: log)
            } catch {
                candidate = nil
                let why = "standby: cannot reach the database: \(error)"
                if problem != why { log.log(LogEvent(.daemonStandby, .warning, "\(why); trying again every \(poll)")) }
                problem = why
                if announced { notifier.status(why) } else { notifier.ready(status: why) }
                announced = true
            }
            let deadline = DispatchTime.now() + poll.seconds
            while !stop.isStopping && DispatchTime.now() < deadline {
                notifier.keepAlive()
                let step = notifier.watchdogInterval.map { min(DispatchTime.now() + $0, deadline) } ?? deadline
                _ = wake.wait(timeout: step)
                if lock.withLock({ reloadRequested }) { break }
            }
        }
        return nil
    }

    /// An error's first line, cut to `limit` characters, for a STATUS line.
    static func firstLine(_ text: String, at limit: Int) -> String {
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.count > limit ? String(line.prefix(limit - 3)) + "..." : line
    }

    /// "standby: sisync held by db-a.district.org pid 812 since 08:15"
    static func standbyLine(_ holder: (holder: String, since: Date?), timeZone: TimeZone = .current) -> String {
        var who = holder.holder
        if who.hasPrefix("sisyncd on ") { who.removeFirst("sisyncd on ".count) }
        var line = "standby: sisync held by \(who)"
        if let since = holder.since { line += " since \(Timestamp.clock(since, timeZone: timeZone))" }
        return line
    }

    private static func writeStandbyMetrics(configuration: Configuration, log: EventLog) {
        guard let path = configuration.metricsFile else { return }
        do { try MetricsFile.write(MetricsFile.standbyText(), to: path) } catch {
            log.log(LogEvent(.runFailed, .warning, "cannot write the metrics file \(error.description)"))
        }
    }

    /// "last run 42 applied 08:15: +3 staff, -1 staff, 2 links, 5 roles; next 08:30", and
    /// "; deactivations on hold until 2027-08-31" inside a `hold_deactivations` window.
    static func statusLine(_ s: RunSummary, next: Date, heldUntil: String? = nil, timeZone: TimeZone = .current) -> String {
        let at = Timestamp.parse(s.startedAt).map { Timestamp.clock($0, timeZone: timeZone) } ?? s.startedAt
        let outcome = s.outcome == .blocked && s.standingHold != nil && s.standingHold == s.runID ? "held" : s.outcome.rawValue
        var line = "last run \(s.runID.map(String.init) ?? "-") \(outcome) \(at): "
        switch s.outcome {
        case .failed, .blocked:
            line += Self.firstLine(s.error ?? "no reason recorded", at: 160)
        default:
            var parts = ["+\(s.staff.added) staff", "-\(s.staff.deactivated) staff"]
            if s.staff.reactivated > 0 { parts.append("\(s.staff.reactivated) staff back") }
            parts.append("\(s.linksMade + s.linksRemoved) links")
            parts.append("\(s.rolesGranted + s.rolesRevoked) roles")
            line += parts.joined(separator: ", ")
        }
        // A blocked run's own error says that it is held, or which run still is.
        if let held = s.standingHold, s.outcome != .blocked { line += "; run \(held) held for review (sisyncctl run approve \(held))" }
        return line + "; next \(Timestamp.clock(next, timeZone: timeZone))" + (heldUntil.map { "; deactivations on hold until \($0)" } ?? "")
    }

    /// One run. The run lock is taken after the fetch (SyncRun) and waited for however
    /// long an administrator's write holds it, petting the watchdog; a stop while waiting
    /// ends the wait. A run that cannot take the lock (its file unusable) fails and is
    /// retried next cycle: the daemon never writes without it.
    private func cycle(daemonLock: DaemonLock?, trigger: Trigger) -> SyncRun.Result? {
        var options = SyncRun.Options()
        options.trigger = trigger
        if let current = store, !current.isConnected {
            // The PostgreSQL session went away (a server restart, a network cut): connect
            // again, or fail this cycle and try again at the next.
            do {
                let fresh = try RosterStore(location: configuration.store)
                lock.withLock { store = fresh }
                log.log(LogEvent(.daemonStarted, .notice, "connected again to \(fresh.path)"))
            } catch {
                let result = SyncRun(configuration: configuration, options: options, log: log, stop: stop).failedToStart(error)
                return stop.isStopping ? nil : result
            }
        }
        guard let store else {
            // Not reached: the loop opens the store before a cycle. Said plainly if it ever is.
            return SyncRun(configuration: configuration, options: options, log: log, stop: stop)
                .failedToStart(StoreError.cannotOpen(path: configuration.store.display, message: "the database is not open; sisyncd opens it again at its next cycle"))
        }
        let result = SyncRun(configuration: configuration, options: options, log: log, stop: stop).run(store: store, takeRunLock: { [self] in
            try RunLock.acquire(location: configuration.store, holder: options.lockHolder, wait: .infinity, waiting: { [self] holder in
                log.log(LogEvent(.runWaiting, .notice, "waiting for \(holder) to finish before the next run"))
                notifier.status("waiting for \(holder) to finish")
            }, giveUp: { [self] in stop.isStopping })
        }, daemonLock: daemonLock)
        return stop.isStopping && result.summary.runID == nil ? nil : result
    }

    private func reload() {
        notifier.reloading()
        defer { notifier.ready() }
        do {
            let new = try Configuration.load(path: configPath)
            if new.store != configuration.store {
                log.log(LogEvent(.configRejected, .error, "\(configPath): [sync] database changed; restart sisyncd to use a new database (keeping the old configuration)"))
                return
            }
            configuration = new
            log.log(LogEvent(.configReloaded, .notice, "configuration reloaded from \(configPath)"))
        } catch {
            log.log(LogEvent(.configRejected, .error, "configuration rejected, keeping the old one: \(error)"))
        }
    }
}
