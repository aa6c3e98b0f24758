import Foundation

/// The single daemon's loop (`sisyncd --config`): a run at start, then every `interval`
/// (up to 10% jitter), early on SIGUSR1, after a reload on SIGHUP; it ends when its group
/// stops it (SIGTERM/SIGINT), rolling a run in progress back. It tells systemd where it is
/// (READY, STATUS, RELOADING) and pets the watchdog while it waits and while a run makes
/// progress; `sisyncctl status` learns its state and next run from the `<database>.daemon`
/// file (SQLite). A hot standby (`[sync] standby`) waits here for the active one's lock.
final class SyncService: Service, @unchecked Sendable {
    let name = "the sync loop"
    var answers: ServiceSignals { [.runNow, .reload] }

    private var configuration: Configuration
    private let configPath: String
    private let log: EventLog
    private let stopSignal: StopSignal
    private let notifier: ServiceNotifier
    /// Where the loop is and what it was asked: the one type tenants use too.
    let scheduler = Scheduler()
    private let lock = NSLock()
    private var store: RosterStore?
    /// Told when this sisyncd starts or stops holding the database's lock: the webhook
    /// service delivers only meanwhile (only the active daemon delivers).
    var onActiveChange: @Sendable (Bool) -> Void = { _ in }

    init(configuration: Configuration, configPath: String, log: EventLog, notifier: ServiceNotifier) {
        self.configuration = configuration
        self.configPath = configPath
        self.log = log
        self.notifier = notifier
        self.stopSignal = StopSignal(petting: notifier)
    }

    func stop() {
        stopSignal.stop()
        scheduler.stop()
        lock.withLock { store?.database.interrupt() }
    }

    func runNow() { scheduler.requestRun(.signal) }
    func reload() { scheduler.requestReload() }

    func run() throws {
        let location = configuration.store
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
                let opened = try RosterStore(location: location)
                lock.withLock { store = opened }
            }
        } catch {
            log.log(LogEvent(.runFailed, .error, "sisyncd cannot start: \(error)"))
            notifier.status("cannot start: \(error)")
            throw error
        }
        // Tells `sisyncctl status` the state and the next run's time (SQLite: the file beside the lock).
        var schedule: DaemonSchedule?
        if daemonLock != nil, case .sqlite(let file) = location {
            do { schedule = try DaemonSchedule(databasePath: file) } catch {
                log.log(LogEvent(.runFailed, .warning, "cannot write \(DaemonSchedule.path(of: file)) (the next run's time for sisyncctl status): \(error)"))
            }
        }
        if let schedule { scheduler.observe { state, next in schedule.write(state: state, next: next) } }
        defer {
            scheduler.observe(nil)
            schedule?.clear()
        }
        log.log(LogEvent(.daemonStarted, .notice, "sisyncd \(SisyncVersion.current) started: database \(location.display), every \(configuration.interval) from \(configuration.url ?? "per-entity URLs")\(configuration.standby ? ", standby allowed" : "")"))
        if daemonLock != nil { notifier.ready(status: "started; first run now") }
        onActiveChange(daemonLock != nil)
        defer {
            onActiveChange(false)
            log.log(LogEvent(.daemonStopping, .notice, "sisyncd stopping"))
            lock.withLock { store = nil }
        }
        try loop(holding: &daemonLock)
        withExtendedLifetime(daemonLock) {}
    }

    /// The cycles, until a stop. Throws when another sisyncd took the store (75).
    private func loop(holding daemonLock: inout DaemonLock?) throws {
        let path = configuration.store.display
        while !stopSignal.isStopping {
            // R9, never two writers: a lock whose session ended is not held any more.
            if let held = daemonLock, !held.isStillHeld() {
                daemonLock = nil
                onActiveChange(false)
                lock.withLock { store = nil }
                log.log(LogEvent(.daemonStandby, .warning, "lost the lock on \(path) (its PostgreSQL session ended); not writing until it holds the lock again"))
                if !configuration.standby {
                    daemonLock = try takeLockBack()
                    if daemonLock == nil { break }
                    onActiveChange(true)
                }
            }
            if daemonLock == nil {
                guard let taken = waitAsStandby() else { break }
                daemonLock = taken
                onActiveChange(true)
            }
            if lock.withLock({ store == nil }) {
                scheduler.enter(.reconnecting)
                do {
                    let opened = try RosterStore(location: configuration.store)
                    lock.withLock { store = opened }
                } catch {
                    // Fails this cycle; the next one connects again.
                    let result = SyncRun(configuration: configuration, options: SyncRun.Options(), log: log, stop: stopSignal).failedToStart(error)
                    if stopSignal.isStopping { break }
                    let next = Date().addingTimeInterval(configuration.interval.seconds)
                    scheduler.enter(.reconnecting, next: next)
                    notifier.status(Scheduler.statusLine(result.summary, next: next, heldUntil: configuration.deactivationsHeld(on: Date())))
                    if waitForNextCycle(configuration.interval.seconds) { continue } else { break }
                }
            }
            if scheduler.takeReloadRequest() { reloadConfiguration() }
            let trigger = scheduler.takeRunRequest() ?? .schedule
            notifier.keepAlive()
            scheduler.enter(.running)
            guard let result = cycle(daemonLock: daemonLock, trigger: trigger) else { break }
            if stopSignal.isStopping { break }
            // A run that found its lock gone: to standby (or take it back) now, not next cycle.
            if let held = daemonLock, !held.isStillHeld() { continue }
            let jitter = Double.random(in: 0...(configuration.interval.seconds * 0.1))
            let wait = configuration.interval.seconds + jitter
            let next = Date().addingTimeInterval(wait)
            scheduler.enter(.idle, next: next)
            notifier.status(Scheduler.statusLine(result.summary, next: next, heldUntil: configuration.deactivationsHeld(on: Date())))
            if !waitForNextCycle(wait, holding: daemonLock) { break }
        }
    }

    /// A lost lock taken back if nobody else has it: at once, or once the server is back (a
    /// restart). Nil when stopped meanwhile; another sisyncd holding it stops this one (75).
    private func takeLockBack() throws -> DaemonLock? {
        let path = configuration.store.display
        var reported = false
        scheduler.enter(.reconnecting)
        while !stopSignal.isStopping {
            do {
                return try DaemonLock(location: configuration.store)
            } catch StoreError.locked(let file, let holder) {
                log.log(LogEvent(.runFailed, .error, "sisyncd stops: another sisyncd holds \(path) now (\(holder))"))
                throw StoreError.locked(path: file, holder: holder)
            } catch {
                if !reported { log.log(LogEvent(.runFailed, .error, "cannot take the lock on \(path) back: \(error); trying again every \(configuration.standbyPoll)")) }
                reported = true
                _ = waitForNextCycle(configuration.standbyPoll.seconds)
            }
        }
        return nil
    }

    /// Waits `seconds` (or until SIGUSR1, SIGHUP or a stop), petting the watchdog. With
    /// `holding`, a PostgreSQL lock is checked every `standby_poll` meanwhile, so that a
    /// daemon whose session ended stops calling itself active long before its next cycle.
    /// False when the daemon is stopping.
    private func waitForNextCycle(_ seconds: Double, holding: DaemonLock? = nil) -> Bool {
        let deadline = DispatchTime.now() + seconds
        var nextCheck = DispatchTime.now() + configuration.standbyPoll.seconds
        let checks = holding != nil && configuration.store.isPostgres
        while !stopSignal.isStopping {
            if scheduler.hasRunRequest { return true }
            if checks, DispatchTime.now() >= nextCheck {
                if holding?.isStillHeld() == false { return true }
                nextCheck = DispatchTime.now() + configuration.standbyPoll.seconds
            }
            notifier.keepAlive()
            var step = notifier.watchdogInterval.map { min(DispatchTime.now() + $0, deadline) } ?? deadline
            if checks { step = min(step, nextCheck) }
            scheduler.wait(until: step)
            if DispatchTime.now() >= deadline && !scheduler.hasRunRequest { return !stopSignal.isStopping }
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
        while !stopSignal.isStopping {
            if scheduler.takeReloadRequest() { reloadConfiguration() }
            let poll = configuration.standbyPoll
            do {
                let claim = try candidate ?? DaemonLock.standby(settings: settings)
                candidate = claim
                if try claim.tryTakeOver() {
                    log.log(LogEvent(.daemonTakeover, .notice, "took over \(settings.display): the active sisyncd's lock was free; running a cycle now"))
                    notifier.status("active: took over; running a cycle now")
                    scheduler.requestRun(.schedule)
                    return claim
                }
                scheduler.enter(.standby)
                let line = Scheduler.standbyLine(claim.holder())
                if !announced || problem != nil {
                    log.log(LogEvent(.daemonStandby, .notice, "\(line); trying to take over every \(poll)"))
                }
                if announced { notifier.status(line) } else { notifier.ready(status: line) }
                announced = true
                problem = nil
                Self.writeStandbyMetrics(configuration: configuration, log: log)
            } catch {
                candidate = nil
                scheduler.enter(.reconnecting)
                let why = "standby: cannot reach the database: \(error)"
                if problem != why { log.log(LogEvent(.daemonStandby, .warning, "\(why); trying again every \(poll)")) }
                problem = why
                if announced { notifier.status(why) } else { notifier.ready(status: why) }
                announced = true
            }
            let deadline = DispatchTime.now() + poll.seconds
            while !stopSignal.isStopping && DispatchTime.now() < deadline {
                notifier.keepAlive()
                let step = notifier.watchdogInterval.map { min(DispatchTime.now() + $0, deadline) } ?? deadline
                scheduler.wait(until: step)
                if scheduler.hasReloadRequest { break }
            }
        }
        return nil
    }

    private static func writeStandbyMetrics(configuration: Configuration, log: EventLog) {
        guard let path = configuration.metricsFile else { return }
        do { try MetricsFileParts.write(.runs, MetricsFile.standbyText(), to: path) } catch {
            log.log(LogEvent(.runFailed, .warning, "cannot write the metrics file \(error.description)"))
        }
    }

    /// One run. The run lock is taken after the fetch (SyncRun) and waited for however
    /// long an administrator's write holds it, petting the watchdog; a stop while waiting
    /// ends the wait. A run that cannot take the lock (its file unusable) fails and is
    /// retried next cycle: the daemon never writes without it.
    private func cycle(daemonLock: DaemonLock?, trigger: Trigger) -> SyncRun.Result? {
        var options = SyncRun.Options()
        options.trigger = trigger
        if let current = lock.withLock({ store }), !current.isConnected {
            // The PostgreSQL session went away (a server restart, a network cut): connect
            // again, or fail this cycle and try again at the next.
            scheduler.enter(.reconnecting)
            do {
                let fresh = try RosterStore(location: configuration.store)
                lock.withLock { store = fresh }
                log.log(LogEvent(.daemonStarted, .notice, "connected again to \(fresh.path)"))
                scheduler.enter(.running)
            } catch {
                let result = SyncRun(configuration: configuration, options: options, log: log, stop: stopSignal).failedToStart(error)
                return stopSignal.isStopping ? nil : result
            }
        }
        guard let store = lock.withLock({ store }) else {
            // Not reached: the loop opens the store before a cycle. Said plainly if it ever is.
            return SyncRun(configuration: configuration, options: options, log: log, stop: stopSignal)
                .failedToStart(StoreError.cannotOpen(path: configuration.store.display, message: "the database is not open; sisyncd opens it again at its next cycle"))
        }
        let result = SyncRun(configuration: configuration, options: options, log: log, stop: stopSignal).run(store: store, takeRunLock: { [self] in
            defer { scheduler.enter(.running) }
            return try RunLock.acquire(location: configuration.store, holder: options.lockHolder, wait: .infinity, waiting: { [self] holder in
                scheduler.enter(.waitingForRunLock)
                log.log(LogEvent(.runWaiting, .notice, "waiting for \(holder) to finish before the next run"))
                notifier.status("waiting for \(holder) to finish")
            }, giveUp: { [self] in stopSignal.isStopping })
        }, daemonLock: daemonLock)
        return stopSignal.isStopping && result.summary.runID == nil ? nil : result
    }

    private func reloadConfiguration() {
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
