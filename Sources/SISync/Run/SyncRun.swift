import Foundation

/// One sync cycle, in phases: fetch → parse → plan → link → judge → apply (or, when nothing
/// commits, roles) → record. This is the imperative shell around the pure parts: `run`
/// strings the phases together, each a method that returns a value (`SyncRun+Phase.swift`),
/// and decides the outcome and logs it.
public struct SyncRun {
    public struct Options: Sendable {
        public var dryRun = false
        public var allowMassDeactivation = false
        /// Re-plan even when the export's digest equals the last applied run's.
        public var force = false
        public var actor = "sync"
        public var trigger = Trigger.schedule
        /// `sisyncd --once` takes the daemon lock (R9: it is a second sisyncd); `sisyncctl
        /// sync` only waits for the run lock, so it works while the service runs.
        public var takesDaemonLock = false
        /// How long to wait for a run in progress (`--wait`, default 60 s) before exit 75.
        public var wait: Double = RunLock.defaultWait
        /// `Planner.matchedAlongsideFrom` for this run's plans (tests plan the same export on
        /// one thread and on two); nil keeps the planner's.
        var matchedAlongsideFrom: Int?
        public init() {}

        /// What the run lock says about this run's process, for whoever waits for it.
        var lockHolder: String {
            trigger == .sisyncctl ? "sisyncctl sync pid \(getpid()) by \(actor)" : "sisyncd pid \(getpid())"
        }
    }

    public let configuration: Configuration
    public let options: Options
    public let log: EventLog
    public let stop: StopSignal?
    public let clock: @Sendable () -> Date

    public init(configuration: Configuration, options: Options, log: EventLog, stop: StopSignal? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.options = options
        self.log = log
        self.stop = stop
        self.clock = clock
    }

    /// What a run produced: its summary and, for dry runs and tests, the plan.
    public struct Result {
        public var summary: RunSummary
        public var plan: Plan?
    }


    /// Runs the cycle against an open store (a daemon holds the daemon lock). The export
    /// is fetched first, holding nothing: a slow SIS never keeps administrators waiting.
    /// Then `takeRunLock` is called, and the run lock it returns is held from the moment the
    /// run is recorded until it commits (R9, docs/rules.md); it learns the run id for those
    /// who wait. A run that cannot have the lock ends unrecorded, with the lock's error.
    /// With `daemonLock`, the run checks inside its transaction, just before it commits,
    /// that the lock is still this process's (R9: never two writers).
    public func run(store: RosterStore, takeRunLock: () throws -> RunLock? = { nil }, daemonLock: DaemonLock? = nil) -> Result {
        let started = clock()
        // The change feed as this configuration has it: whoever opened the store (the
        // daemon, a tenant, sisyncctl) runs with the configuration's `[events]`.
        store.events.settings = configuration.events
        var summary = RunSummary(runID: nil, startedAt: Timestamp.format(started), ending: .running,
                                 dryRun: options.dryRun, actor: options.actor, trigger: options.trigger)
        var phase = PhaseClock()
        // Everything the run writes for a while goes into a directory of its own, removed
        // when the run ends, however it ends (issue 26 items 2, 3, 5).
        var directory: RunDirectory?
        defer { directory?.remove() }
        let fetched: Swift.Result<Fetched, Error>
        do {
            let made = try RunDirectory.make(for: configuration.store)
            directory = made
            fetched = .success(try fetch(store: store, started: started, directory: made))
        } catch { fetched = .failure(error) }
        summary.timings.append(("fetch", phase.lap()))
        var lock: RunLock?
        defer { lock?.release() }
        if !options.dryRun {
            do { lock = try takeRunLock() } catch {
                summary.ending = .failed(Self.classify(error), message: Self.describe(error))
                summary.finishedAt = Timestamp.format(clock())
                log.log(LogEvent(.runFailed, .error, "cannot start the run: \(summary.error!)"))
                return Result(summary: summary, plan: nil)
            }
            do { summary.runID = try begin(store: store, started: started, lock: lock) } catch {
                summary.ending = .failed(.cannotCreate, message: "\(error)")
                log.log(LogEvent(.runFailed, .error, "cannot record the run: \(error)"))
                return Result(summary: summary, plan: nil)
            }
        }
        let runID = summary.runID
        let runField = Self.runFields(runID)
        log.log(LogEvent(.runStarted, .info, "run \(runID.map(String.init) ?? "(dry run)") started (\(options.trigger))", fields: runField))
        var plan: Plan?
        /// The guard held the run: its plan is kept when it is recorded.
        var keepsPlan = false
        do {
            let fetched = try fetched.get()
            summary.contentHash = fetched.digest
            if let hold = try holdStillStanding(on: fetched, store: store, started: started) {
                summary.ending = .blocked(reason: stillHeld(hold, runID: runID))
                plan = Plan(entities: [], snapshot: nil, plannedAt: started)
            } else {
                let planner = planner(at: started)
                let parsed = try parse(fetched, planner: planner, store: store, directory: directory)
                var planned = try rekey(try self.plan(parsed, fetched: fetched, planner: planner, store: store, started: started, runID: runID),
                                        store: store, runID: runID)
                summary.timings.append((parsed == nil ? "plan" : "parse and plan", phase.lap()))
                FreedMemory.returnToSystem()
                if let parsed {
                    summary.problems = try reportSkipped(parsed.snapshot, store: store, runID: runID)
                    try confirmNotModified(fetched, parsed: parsed)
                }
                summary.ending = parsed == nil ? .unchanged : .applied
                planned.links = try link(planned, store: store, now: started, runID: runID)
                summary.linksMade = planned.links.made
                summary.linksRemoved = planned.links.removed
                summary.linksAmbiguous = planned.links.ambiguous
                summary.count(records: planned, everyEntity: parsed != nil)
                FreedMemory.returnToSystem()
                let applied: Applied
                var blocked: String?
                if let reason = heed(try judge(planned, store: store), runID: runID) {
                    // What the held run would do to the calculated roles, for `run show` and
                    // its record: applied and rolled back, as a dry run does.
                    applied = try roles(planned, summary: summary, started: started, judged: false, store: store)
                    blocked = reason
                } else if options.dryRun {
                    // Applied and rolled back, to see the roles this run would grant and revoke.
                    applied = try roles(planned, summary: summary, started: started, judged: true, store: store)
                    blocked = heed(applied.verdict, runID: runID)
                } else {
                    let total = planned.entities.reduce(0) { $0 + $1.additions.count + $1.updates.count }
                    log.log(LogEvent(.runApplying, .info, "run \(runID ?? 0): applying changes to \(total) records in one transaction", fields: runField))
                    // Unchanged runs go through here too: links and roles change outside the export (R3).
                    summary.timings.append(("links", phase.lap()))
                    applied = try apply(planned, summary: finished(summary), started: started, phase: &phase, daemonLock: daemonLock, store: store)
                    blocked = heed(applied.verdict, runID: runID)
                }
                planned.roles = applied.roles
                summary.rolesGranted = applied.roles.grantedCount
                summary.rolesRevoked = applied.roles.revokedCount
                // The links of the plan without its rekeys are kept only with a hold (for
                // `--without-rekeys`): a run that applies has no use for them.
                if blocked != nil { try linkWithoutRekeys(&planned, store: store, now: started, runID: runID) }
                if let blocked {
                    summary.ending = .blocked(reason: blocked)
                    keepsPlan = runID != nil
                } else if !options.dryRun {
                    summary.timings += applied.timings + [("commit", phase.lap())]
                    logChanges(planned, runID: runID)
                    pruneHistory(store, now: started, fields: runField)
                }
                plan = planned
            }
        } catch {
            let failure = Self.classify(error)
            summary.ending = .failed(failure, message: Self.describe(error))
            let type: LogEventType = failure == .unavailable ? .fetchFailed : .runFailed
            log.log(LogEvent(type, .error, "run \(runID.map(String.init) ?? "(dry run)") failed: \(summary.error!)", fields: runField))
        }
        summary.finishedAt = Timestamp.format(clock())
        if !options.dryRun {
            if summary.outcome != .applied { summary = record(summary, plan: plan, keepingPlan: keepsPlan, store: store, started: started) }
            summary.standingHold = (try? store.auditTrail.standingHold(at: clock()))??.runID
        }
        if summary.outcome == .applied || summary.outcome == .unchanged {
            log.log(LogEvent(.runFinished, .notice, "run \(runID.map(String.init) ?? "(dry run)") \(summary.outcome.rawValue): \(Self.countsLine(summary)) in \(Self.timingLine(summary.timings))", fields: runField))
        }
        if !options.dryRun { Self.writeMetrics(summary, store: store, configuration: configuration, log: log) }
        // Issue 31: the webhook deliverer is woken here. The run has committed (or rolled
        // back) and its record is written: the events its transaction put in the outbox are
        // there to deliver, and nothing of this run can take them back any more.
        return Result(summary: summary, plan: plan)
    }

    /// Ends the run as stopped when SIGTERM or SIGINT asked for it (rolled back, R1).
    func stopIfAsked() throws(StoreError) {
        if let stop, stop.isStopping { throw .interrupted }
    }

    /// The journal field naming the run, when it has an id (a dry run has none).
    static func runFields(_ runID: Int64?) -> [(String, String)] {
        runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []
    }

    /// The class of an error that ended a run (`FailureClass.init(_:)`, the one table).
    package static func classify(_ error: Error) -> FailureClass {
        FailureClass(error)
    }

    static func describe(_ error: Error) -> String {
        String(describing: error)
    }
}
