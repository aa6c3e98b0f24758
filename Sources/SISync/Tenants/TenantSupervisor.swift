@preconcurrency import Dispatch
import Foundation

/// `sisyncd --tenants DIR`: one process serving many districts. Each tenant is claimed by
/// its own daemon lock. On PostgreSQL that lock is held by one session per server and
/// database (`PostgresLockSessions`), so the locks of 200 tenants on one server take one
/// connection. A tenant held elsewhere is waited for, as a standby. Each held tenant runs on
/// its own schedule, at most `maxParallelRuns` at once, each run on a connection of its
/// own that also holds its run lock. A tenant's bad export, failed fetch, guard block or
/// broken configuration touches nobody else. The supervisor only schedules, claims and
/// reports; a run is `SyncRun`, as in the single daemon. Each tenant's schedule is a
/// `Scheduler`, as the single daemon's is; one more holds what the process was asked
/// (SIGUSR1, SIGHUP, a stop). It is the one service of its `ServiceGroup`. Each held tenant
/// with `[webhook.NAME]` delivers its own endpoints (`WebhookDelivery`: its store, its
/// configuration, its journal entries with `SISYNC_TENANT`), only while this process holds
/// it.
final class TenantSupervisor: Service, @unchecked Sendable {
    let name = "the tenants' supervisor"
    var answers: ServiceSignals { [.runNow, .reload] }

    struct Options {
        var directory: String
        var maxTenants: Int?
        var maxParallelRuns = 2
        var metricsFile: String?
    }

    /// One tenant as the supervisor sees it. Only the supervisor's thread touches it, except
    /// through `finished` (guarded by `lock`) and its `scheduler` (thread-safe: a run's
    /// thread says it waits for the run lock).
    final class Tenant {
        let name: String
        var file: String
        var stamp: String
        var configuration: Configuration?
        var problem: String?
        var claim: DaemonLock?
        /// Not held yet (`starting`), held elsewhere (`standby`), held (`idle`, `running`,
        /// `waitingForRunLock`), its file gone (`stopping`).
        let scheduler = Scheduler(nextRun: .distantPast)
        /// This process holds its lock and runs it.
        var held: Bool {
            get { [.idle, .running, .waitingForRunLock].contains(scheduler.state) }
            set { if newValue != held { scheduler.enter(newValue ? .idle : .standby, next: nextRun) } }
        }
        var running: Bool { [.running, .waitingForRunLock].contains(scheduler.state) }
        var removed = false
        var nextRun: Date {
            get { scheduler.nextRun ?? .distantPast }
            set { scheduler.enter(scheduler.state, next: newValue) }
        }
        var nextClaim = Date.distantPast
        /// When its lock is asked about next: every `standby_poll`, not every time the loop
        /// wakes (each finished run wakes it; 200 tenants would be 200 queries a wake).
        var nextLockCheck = Date.distantPast
        var holder: String?
        /// A configuration read while a run was in progress, applied once it is over.
        var pending: Result<Configuration, Error>?
        var last: RunSummary?
        var metrics: String?
        /// Its `<database>.daemon` file while this process holds it (SQLite), as the single
        /// daemon's: what `sisyncctl --tenant NAME status` shows as its state and next run.
        var schedule: DaemonSchedule?
        init(name: String, file: String, stamp: String) { self.name = name; self.file = file; self.stamp = stamp }

        /// Taken: its schedule goes to its `<database>.daemon` file from now on. A file that
        /// cannot be written costs the status its next run, not the tenant its runs.
        func claimed(log: EventLog) {
            guard case .sqlite(let path)? = configuration?.store else { return }
            do {
                let file = try DaemonSchedule(databasePath: path)
                schedule = file
                scheduler.observe { state, next in file.write(state: state, next: next) }
            } catch {
                log.log(LogEvent(.runFailed, .warning, "tenant \(name): cannot write \(DaemonSchedule.path(of: path)) (the next run's time for sisyncctl status): \(error)"))
            }
        }

        /// Lets go of its lock, its schedule file emptied first: once the lock is free, the
        /// file may be another daemon's.
        func letGo() {
            scheduler.observe(nil)
            schedule?.clear()
            schedule = nil
            claim?.release()
        }
    }

    private let options: Options
    private let log: EventLog
    private let stopSignal: StopSignal
    private let notifier: ServiceNotifier
    private let sessions = PostgresLockSessions()
    /// What the process was asked: SIGUSR1 (every held tenant runs now), SIGHUP, a stop.
    private let requests = Scheduler()
    private let lock = NSLock()
    private var finished: [(String, SyncRun.Result, String?)] = []
    private var runningStores: [String: RosterStore] = [:]
    private var tenants: [String: Tenant] = [:]
    private let workers = DispatchGroup()
    /// Each tenant's webhook delivery, and the metric lines it reported (guarded by `lock`).
    private var deliveries: [String: WebhookDelivery] = [:]
    private var webhookMetrics: [String: String] = [:]
    private var webhookMetricsChanged = false

    init(options: Options, log: EventLog, notifier: ServiceNotifier) {
        self.options = options
        self.log = log
        self.stopSignal = StopSignal(petting: notifier)
        self.notifier = notifier
    }

    func stop() {
        stopSignal.stop()
        requests.stop()
        lock.withLock {
            for s in runningStores.values { s.database.interrupt() }
            for d in deliveries.values { d.abort() }
        }
    }

    func runNow() { requests.requestRun(.signal) }
    func reload() { requests.requestReload(thenRun: false) }

    /// How long a stop waits for the runs to roll back before letting go of the locks:
    /// inside the group's 5 s budget.
    private static let rollbackWait: Double = 4

    func run() throws {
        do { try load() } catch {
            log.log(LogEvent(.configRejected, .error, "sisyncd cannot start: \(error)"))
            throw error
        }
        log.log(LogEvent(.daemonStarted, .notice, "sisyncd \(SisyncVersion.current) started: \(tenants.count) tenants in \(options.directory), at most \(options.maxParallelRuns) runs at once\(options.maxTenants.map { ", at most \($0) tenants" } ?? "")"))
        notifier.ready(status: statusLine())
        requests.enter(.idle)
        while !stopSignal.isStopping {
            if requests.takeReloadRequest() { reloadTenants() }
            collectFinished()
            if requests.takeRunRequest() == .signal {
                // A tenant running now runs again as soon as it is over.
                for t in tenants.values where t.held { t.scheduler.requestRun(.signal) }
            }
            dropLostLocks()
            claimTenants()
            dispatchDueRuns()
            manageDeliveries()
            if lock.withLock({ webhookMetricsChanged }) && Date().timeIntervalSince(lastMetricsWrite) >= 5 {
                writeCombinedMetrics()
                lastMetricsWrite = Date()
            }
            notifier.status(statusLine())
            notifier.keepAlive()
            let until = nextEvent()
            let wait = max(0.05, min(until.timeIntervalSinceNow, notifier.watchdogInterval ?? 10, 10))
            requests.wait(until: .now() + wait)
        }
        // A stop interrupts the runs (rolled back); wait for them (within the group's
        // budget) before letting go of the locks. A run still going when the process ends
        // loses its session, and with it its transaction and its lock.
        let deadline = Date().addingTimeInterval(Self.rollbackWait)
        _ = workers.wait(timeout: .now() + Self.rollbackWait)
        for d in lock.withLock({ Array(deliveries.values) }) { d.waitUntilDone(timeout: deadline.timeIntervalSinceNow) }
        collectFinished()
        for t in tenants.values { t.letGo() }
        log.log(LogEvent(.daemonStopping, .notice, "sisyncd stopping"))
    }

    // MARK: tenants

    private func load() throws {
        let entries = try TenantDirectory(path: options.directory).load()
        for e in entries {
            let t = tenants[e.name] ?? Tenant(name: e.name, file: e.file, stamp: "")
            let changed = t.stamp != e.stamp
            t.file = e.file
            t.stamp = e.stamp
            t.removed = false
            tenants[e.name] = t
            guard changed else { continue }
            // Never under a run: its lock and configuration are the run's until it is over.
            if t.running { t.pending = e.configuration } else { apply(e.configuration, to: t) }
        }
        let present = Set(entries.map(\.name))
        for t in tenants.values where !present.contains(t.name) { t.removed = true }
        removeGoneTenants()
    }

    private func apply(_ configuration: Result<Configuration, Error>, to t: Tenant) {
        let tlog = TenantLog(base: log, tenant: t.name)
        switch configuration {
        case .success(let c):
            // Two files naming one database and schema would be one tenant claimed twice
            // (a session's advisory locks are re-entrant).
            if let twin = tenants.values.first(where: { $0 !== t && $0.configuration?.store == c.store }) {
                t.problem = "names the same database and schema as tenant \(twin.name)"
                tlog.log(LogEvent(.configRejected, .error, "tenant \(t.name): configuration rejected, tenant skipped: it \(t.problem!)"))
                return
            }
            if let old = t.configuration, old.store != c.store {
                // Another database is another lock: let go of this one, held or waited for.
                t.letGo()
                t.claim = nil
                t.held = false
                t.holder = nil
            }
            t.configuration = c
            t.problem = nil
        case .failure(let error):
            t.problem = "\(error)"
            tlog.log(LogEvent(.configRejected, .error, "tenant \(t.name): configuration rejected, tenant skipped\(t.configuration == nil ? "" : " (keeping its last good configuration)"): \(error)"))
        }
    }

    private func reloadTenants() {
        notifier.reloading()
        defer { notifier.ready(status: statusLine()) }
        // Each delivery starts over with its tenant's configuration as now read (endpoints
        // added or removed, a secret file rotated), after its request in flight.
        lock.withLock { for d in deliveries.values { d.finish() } }
        do {
            try load()
            log.log(LogEvent(.configReloaded, .notice, "tenants reloaded from \(options.directory): \(tenants.count) tenants"))
        } catch {
            log.log(LogEvent(.configRejected, .error, "tenants not reloaded, keeping them as they were: \(error)"))
        }
    }

    private func removeGoneTenants() {
        for t in tenants.values where t.removed && !t.running {
            t.letGo()
            tenants[t.name] = nil
            TenantLog(base: log, tenant: t.name).log(LogEvent(.configReloaded, .notice, "tenant \(t.name) removed (its file is gone); its lock is free"))
        }
    }

    // MARK: locks

    /// R9: a tenant whose lock's session ended is not this process's any more.
    private func dropLostLocks() {
        let now = Date()
        for t in tenants.values where t.held && !t.running && t.nextLockCheck <= now {
            t.nextLockCheck = now.addingTimeInterval(t.configuration?.standbyPoll.seconds ?? 10)
            guard let claim = t.claim, !claim.isStillHeld() else { continue }
            t.held = false
            t.claim = nil
            TenantLog(base: log, tenant: t.name).log(LogEvent(.daemonStandby, .warning, "tenant \(t.name): lost its lock (the PostgreSQL session ended); waiting for it again"))
        }
    }

    private func claimTenants() {
        let now = Date()
        var heldCount = tenants.values.filter(\.held).count
        for t in tenants.values.sorted(by: { $0.name < $1.name }) where !t.held && !t.removed && t.nextClaim <= now {
            guard let c = t.configuration else { continue }
            if let cap = options.maxTenants, heldCount >= cap { break }
            let tlog = TenantLog(base: log, tenant: t.name)
            t.nextClaim = now.addingTimeInterval(c.standbyPoll.seconds)
            do {
                let claim = try t.claim ?? DaemonLock.tenant(location: c.store, sessions: sessions)
                t.claim = claim
                if try claim.tryTakeOver() {
                    do { try SyncRun.tightenDatabaseModes(c.store, log: tlog) } catch {
                        claim.release()
                        throw error
                    }
                    t.held = true
                    t.holder = nil
                    t.nextRun = now
                    t.claimed(log: tlog)
                    heldCount += 1
                    tlog.log(LogEvent(.daemonTakeover, .notice, "serving tenant \(t.name) (\(c.store.display)); running a cycle now"))
                } else {
                    let holder = claim.holder().holder
                    if t.holder != holder {
                        tlog.log(LogEvent(.daemonStandby, .info, "tenant \(t.name) is held by \(holder); waiting for it"))
                    }
                    t.holder = holder
                }
            } catch {
                t.claim = nil
                let why = "tenant \(t.name): cannot claim it: \(error)"
                if t.problem != why { tlog.log(LogEvent(.runFailed, .error, why + "; trying again in \(c.standbyPoll)")) }
                t.problem = why
            }
        }
    }

    // MARK: runs

    private func dispatchDueRuns() {
        let now = Date()
        var running = tenants.values.filter(\.running).count
        let due = tenants.values.filter { $0.held && !$0.running && !$0.removed && ($0.nextRun <= now || $0.scheduler.hasRunRequest) }
        for t in due.sorted(by: { $0.nextRun < $1.nextRun }) {
            guard running < options.maxParallelRuns, let c = t.configuration, let claim = t.claim else { break }
            running += 1
            let trigger = t.scheduler.takeRunRequest() ?? .schedule
            t.scheduler.enter(.running)
            start(t.name, scheduler: t.scheduler, configuration: c, claim: claim, trigger: trigger)
        }
    }

    private func start(_ name: String, scheduler: Scheduler, configuration: Configuration, claim: DaemonLock, trigger: Trigger) {
        let tlog = TenantLog(base: log, tenant: name)
        let stop = self.stopSignal
        let wantsMetrics = options.metricsFile != nil
        workers.enter()
        Thread.detachNewThread { [self] in
            defer { workers.leave() }
            var options = SyncRun.Options()
            options.trigger = trigger
            let run = SyncRun(configuration: configuration, options: options, log: tlog, stop: stop)
            let result: SyncRun.Result
            var metrics: String?
            do {
                let store = try RosterStore(location: configuration.store)
                lock.withLock { runningStores[name] = store }
                defer { lock.withLock { runningStores[name] = nil } }
                result = run.run(store: store, takeRunLock: {
                    // Bounded: an administrator's write that never ends fails this tenant's
                    // run, not a run slot for ever.
                    defer { scheduler.enter(.running) }
                    return try RunLock.acquire(on: store, holder: SyncRun.Options().lockHolder, wait: configuration.interval.seconds, waiting: { holder in
                        scheduler.enter(.waitingForRunLock)
                        tlog.log(LogEvent(.runWaiting, .notice, "waiting for \(holder) to finish before the next run"))
                    }, giveUp: { stop.isStopping })
                }, daemonLock: claim)
                if wantsMetrics, let totals = try? store.metricsTotals(interval: configuration.interval.seconds) { metrics = MetricsFile.text(last: result.summary, totals: totals) }
            } catch {
                result = run.failedToStart(error)
            }
            lock.withLock { finished.append((name, result, metrics)) }
            requests.wakeUp()
        }
    }

    private func collectFinished() {
        let done = lock.withLock { let d = finished; finished = []; return d }
        guard !done.isEmpty else { return }
        for (name, result, metrics) in done {
            guard let t = tenants[name] else { continue }
            t.last = result.summary
            if let metrics { t.metrics = metrics }
            let interval = t.configuration?.interval.seconds ?? 900
            // SIGUSR1 while it ran: its request stands, and the loop runs it again at once.
            t.scheduler.enter(.idle, next: Date().addingTimeInterval(interval + Double.random(in: 0...(interval * 0.1))))
            if let pending = t.pending {
                t.pending = nil
                apply(pending, to: t)
                lock.withLock { deliveries[name]?.finish() }
            }
        }
        removeGoneTenants()
        // Not once per finished run: during a cycle of 200 tenants that would rewrite a file
        // of all 200 two hundred times.
        let inFlight = tenants.values.contains(where: \.running)
        if !inFlight || Date().timeIntervalSince(lastMetricsWrite) >= 10 {
            writeCombinedMetrics()
            lastMetricsWrite = Date()
        }
    }

    private var lastMetricsWrite = Date.distantPast

    /// The earliest moment something is due: a held tenant's next run or the check of its
    /// lock (every `standby_poll`), a claim to try again.
    private func nextEvent() -> Date {
        var next = Date().addingTimeInterval(10)
        for t in tenants.values {
            if t.held && !t.running { next = min(next, t.scheduler.hasRunRequest ? Date() : t.nextRun, t.nextLockCheck) }
            if !t.held && t.configuration != nil { next = min(next, t.nextClaim) }
        }
        return next
    }

    // MARK: webhooks

    /// One delivery per held tenant with `[webhook.NAME]`; one that is not wanted any more
    /// (its tenant let go, removed, stopped, without endpoints) is finished, and a new one
    /// starts only once the old one has ended, so an endpoint never has two at once.
    private func manageDeliveries() {
        func wanted(_ name: String) -> Configuration? {
            guard !stopSignal.isStopping, let t = tenants[name], t.held, !t.removed, let c = t.configuration, !c.webhooks.isEmpty else { return nil }
            return c
        }
        for (name, d) in lock.withLock({ deliveries }) {
            let keep = wanted(name) != nil
            if !keep { d.finish() }
            guard d.isDone else { continue }
            lock.withLock {
                deliveries[name] = nil
                if !keep, webhookMetrics.removeValue(forKey: name) != nil { webhookMetricsChanged = true }
            }
        }
        for name in tenants.keys.sorted() {
            guard let c = wanted(name), lock.withLock({ deliveries[name] == nil }) else { continue }
            let delivery = WebhookDelivery(configuration: c, log: TenantLog(base: log, tenant: name)) { [weak self] text in
                guard let self else { return }
                lock.withLock {
                    webhookMetrics[name] = text
                    webhookMetricsChanged = true
                }
                requests.wakeUp()
            }
            lock.withLock { deliveries[name] = delivery }
            // A stop between `wanted` and here would not have reached it.
            if stopSignal.isStopping { delivery.abort() }
            Thread.detachNewThread { [requests] in
                delivery.run()
                requests.wakeUp()
            }
        }
    }

    // MARK: output

    /// "12 tenants (3 on other hosts): 11 ok, 1 failed (lincoln: HTTP 503); next 08:30"
    func statusLine() -> String { Self.statusLine(tenants.values.sorted { $0.name < $1.name }) }

    static func statusLine(_ tenants: [Tenant], timeZone: TimeZone = .current) -> String {
        let elsewhere = tenants.filter { !$0.held && $0.holder != nil }.count
        var ok = 0
        var failed: [String] = []
        var broken: [String] = []
        for t in tenants {
            if t.configuration == nil { broken.append(t.name); continue }
            guard t.held, let s = t.last else { continue }
            switch s.outcome {
            case .applied, .unchanged: ok += 1
            default:
                failed.append("\(t.name): \(Scheduler.firstLine(s.error ?? s.outcome.rawValue, at: 60))")
            }
        }
        var line = "\(tenants.count) tenants" + (elsewhere > 0 ? " (\(elsewhere) on other hosts)" : "") + ": \(ok) ok"
        if !failed.isEmpty { line += ", \(failed.count) failed (\(failed.prefix(3).joined(separator: "; "))\(failed.count > 3 ? "; …" : ""))" }
        if !broken.isEmpty { line += ", \(broken.count) not configured (\(broken.prefix(3).joined(separator: ", ")))" }
        if let next = tenants.filter({ $0.held && !$0.running }).map(\.nextRun).min(), next > Date() {
            line += "; next \(Timestamp.clock(next, timeZone: timeZone))"
        }
        return line
    }

    /// `--metrics-file`: every held tenant's metrics in one file, each sample labelled
    /// `tenant`, metric families kept together as the text format wants.
    private func writeCombinedMetrics() {
        guard let path = options.metricsFile else { return }
        let hooks = lock.withLock {
            webhookMetricsChanged = false
            return webhookMetrics
        }
        let parts = tenants.values.filter(\.held).sorted { $0.name < $1.name }.compactMap { t -> (String, String)? in
            let text = (t.metrics ?? "") + (hooks[t.name] ?? "")
            return text.isEmpty ? nil : (t.name, text)
        }
        do { try MetricsFile.write(MetricsFile.combined(parts), to: path) } catch {
            log.log(LogEvent(.runFailed, .warning, "cannot write the metrics file \(error.description)"))
        }
    }
}
