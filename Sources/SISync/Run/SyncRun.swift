import Foundation

/// One sync cycle from fetch to commit: fetch, parse, plan, judge, apply. This is the
/// imperative shell around the pure parts; it decides the outcome and logs it.
public struct SyncRun {
    public struct Options: Sendable {
        public var dryRun = false
        public var allowMassDeactivation = false
        /// Re-plan even when the export's digest equals the last applied run's.
        public var force = false
        public var actor = "sync"
        public var trigger = "schedule"
        /// `sisyncd --once` takes the daemon lock (R9: it is a second sisyncd); `sisyncctl
        /// sync` only waits for the run lock, so it works while the service runs.
        public var takesDaemonLock = false
        /// How long to wait for a run in progress (`--wait`, default 60 s) before exit 75.
        public var wait: Double = RunLock.defaultWait
        public init() {}

        /// What the run lock says about this run's process, for whoever waits for it.
        var lockHolder: String {
            trigger == "sisyncctl" ? "sisyncctl sync pid \(getpid()) by \(actor)" : "sisyncd pid \(getpid())"
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
        var summary = RunSummary(runID: nil, startedAt: Timestamp.format(started), outcome: .running,
                                 dryRun: options.dryRun, actor: options.actor, trigger: options.trigger)
        var phase = PhaseClock()
        // Everything the run writes for a while goes into a directory of its own, removed
        // when the run ends, however it ends (issue 26 items 2, 3, 5).
        var directory: RunDirectory?
        defer { directory?.remove() }
        let fetched: Swift.Result<(FetchedExport, OneRosterTranslation?), Error>
        do {
            let made = try RunDirectory.make(for: configuration.store)
            directory = made
            fetched = .success(try fetch(store: store, started: started, directory: made))
        } catch { fetched = .failure(error) }
        summary.timings.append(("fetch", phase.lap()))
        var lock: RunLock?
        if !options.dryRun {
            do { lock = try takeRunLock() } catch {
                summary.outcome = .failed
                summary.failure = Self.classify(error)
                summary.error = Self.describe(error)
                summary.finishedAt = Timestamp.format(clock())
                log.log(LogEvent(.runFailed, .error, "cannot start the run: \(summary.error!)"))
                return Result(summary: summary, plan: nil)
            }
        }
        defer { lock?.release() }
        if !options.dryRun {
            do {
                try store.auditTrail.closeInterruptedRuns(now: started)
                summary.runID = try store.auditTrail.beginRun(actor: options.actor, trigger: options.trigger, startedAt: started)
                lock?.describe("\(options.lockHolder), run \(summary.runID ?? 0)")
            } catch {
                summary.outcome = .failed
                summary.failure = .cannotCreate
                summary.error = "\(error)"
                log.log(LogEvent(.runFailed, .error, "cannot record the run: \(error)"))
                return Result(summary: summary, plan: nil)
            }
        }
        let runField = summary.runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []
        log.log(LogEvent(.runStarted, .info, "run \(summary.runID.map(String.init) ?? "(dry run)") started (\(options.trigger))", fields: runField))
        var plan: Plan?
        do {
            let (export, oneRoster) = try fetched.get()
            plan = try execute(store: store, fetched: export, oneRoster: oneRoster, summary: &summary, started: started, phase: &phase,
                               daemonLock: daemonLock)
        } catch {
            summary.outcome = .failed
            summary.failure = Self.classify(error)
            summary.error = Self.describe(error)
            let type: LogEventType = summary.failure == .unavailable ? .fetchFailed : .runFailed
            log.log(LogEvent(type, .error, "run \(summary.runID.map(String.init) ?? "(dry run)") failed: \(summary.error!)", fields: runField))
        }
        summary.finishedAt = Timestamp.format(clock())
        if !options.dryRun, summary.outcome != .applied {
            // Applied runs finished inside their transaction; every other outcome is recorded
            // here, a new hold with its plan.
            do {
                if summary.outcome == .blocked, let id = summary.runID, summary.standingHold == id, let plan {
                    do {
                        try store.auditTrail.hold(HeldPlan(plan), summary: summary, settingsDigest: configuration.settingsDigest, at: started,
                                                  days: configuration.guardSettings.heldPlanDays)
                        summary.hold = try store.auditTrail.hold(run: id)
                    } catch {
                        log.log(LogEvent(.runFailed, .error, "cannot keep the plan of run \(id) for approval: \(error); run `sisyncctl sync` again", fields: runField))
                        try store.auditTrail.finishRun(summary)
                    }
                } else {
                    try store.auditTrail.finishRun(summary)
                }
            } catch {
                log.log(LogEvent(.runFailed, .error, "cannot record the outcome of run \(summary.runID ?? 0): \(error)", fields: runField))
            }
        }
        if !options.dryRun { summary.standingHold = (try? store.auditTrail.standingHold(at: clock()))??.runID }
        if summary.outcome == .applied || summary.outcome == .unchanged {
            log.log(LogEvent(.runFinished, .notice, "run \(summary.runID.map(String.init) ?? "(dry run)") \(summary.outcome.rawValue): \(Self.countsLine(summary)) in \(Self.timingLine(summary.timings))", fields: runField))
        }
        if !options.dryRun { Self.writeMetrics(summary, store: store, configuration: configuration, log: log) }
        return Result(summary: summary, plan: plan)
    }

    /// `metrics_file` (README, "Install and run as a service") is written after every run, whoever runs it (the daemon,
    /// `sisyncd --once` from a timer, `sisyncctl sync`, `run revert`). A failure to write it
    /// is a warning, never a failed run.
    package static func writeMetrics(_ summary: RunSummary, store: RosterStore, configuration: Configuration, log: EventLog) {
        guard let path = configuration.metricsFile else { return }
        do {
            try MetricsFile.write(MetricsFile.text(last: summary, totals: store.metricsTotals(interval: configuration.interval.seconds)), to: path)
        } catch {
            let why = (error as? MetricsFileError)?.description ?? "\(path): \(error)"
            log.log(LogEvent(.runFailed, .warning, "cannot write the metrics file \(why)"))
        }
    }

    /// Downloads (or reads) the export; only reads the database (validators for R3).
    private func fetch(store: RosterStore, started: Date, directory: RunDirectory) throws -> (FetchedExport, OneRosterTranslation?) {
        var fetcher = ExportFetcher(configuration: configuration, directory: directory, stop: stop, log: log)
        let oneRoster = oneRosterTranslation(store: store, started: started)
        if let oneRoster { fetcher.translationBasis = "school_year \(oneRoster.schoolYear) day \(oneRoster.today)" }
        // No conditional GET with a school scope: every file is parsed anyway, and a 304 for
        // a file the scope's first run must read would fail it.
        if !options.force && configuration.schoolScope == nil { fetcher.validators = try conditionalValidators(fetcher, store: store) }
        return (try fetcher.fetch(), oneRoster)
    }

    private func execute(store: RosterStore, fetched: FetchedExport, oneRoster: OneRosterTranslation?, summary: inout RunSummary,
                         started: Date, phase: inout PhaseClock, daemonLock: DaemonLock?) throws -> Plan {
        // With `[source] schools` the digests are of the export under that scope: the same
        // export seen under another scope is planned again (R3).
        let scope = configuration.schoolScope
        let digest = scope.map { $0.qualify(fetched.contentHash) } ?? fetched.contentHash
        summary.contentHash = digest
        // The export the standing hold was planned on, under the same settings, again: the
        // hold still waits for a person (approve or discard), so this cycle neither plans it
        // again nor alarms again. A changed threshold or alias plans it again.
        if !options.dryRun, !options.force, !options.allowMassDeactivation, let hold = try store.auditTrail.standingHold(at: started),
           hold.settingsDigest == configuration.settingsDigest, try store.auditTrail.run(id: hold.runID)?.contentHash == digest,
           try store.auditTrail.userChange(after: hold.changeMark) == nil {
            // (An administrator's change to the users since makes the hold unapprovable: then
            // the export is planned again, and its new hold replaces this one.)
            summary.outcome = .blocked
            summary.standingHold = hold.runID
            summary.error = "still held: run \(hold.runID) (approve or discard it: `sisyncctl run show \(hold.runID)`, then `sisyncctl run approve \(hold.runID)` or `sisyncctl run discard \(hold.runID)`); the export has not changed since"
            log.log(LogEvent(.guardBlocked, .notice, "still held: run \(hold.runID) (approve or discard it)",
                             fields: summary.runID.map { [("SISYNC_RUN_ID", String($0)), ("SISYNC_HELD_RUN_ID", String(hold.runID))] } ?? []))
            return Plan(entities: [], snapshot: nil, plannedAt: started)
        }
        let planner = Planner(deactivateAfter: configuration.deactivateAfter.seconds, now: started,
                              heldUntil: configuration.deactivationsHeld(on: started))
        var plan: Plan
        if !options.force, let last = try store.auditTrail.lastAppliedHash(), last == digest {
            plan = try planner.planUnchanged(kinds: configuration.entities, stored: store.mirror.state(for:))
            plan.sourceValidators = Self.validators(of: fetched)
            summary.outcome = .unchanged
        } else {
            // Files identical to the last applied run's are not parsed again (R3, per file):
            // their records can only reach `deactivate_after`. Not with a school scope: which
            // households, relationships and attributes are in it depends on the students file.
            let stored = options.force || scope != nil ? [:] : try store.auditTrail.appliedFileHashes()
            var hashes: [EntityKind: String] = [:]
            for f in fetched.files { if let k = f.entity { hashes[k] = scope.map { $0.qualify(f.sha256) } ?? f.sha256 } }
            let unchanged = configuration.entities.filter { k in hashes[k] != nil && stored[k] == hashes[k] }
            var entityPlans = try planner.planUnchanged(kinds: unchanged, stored: store.mirror.state(for:)).entities
            // Each entity is planned as soon as it is parsed, while the next files are read;
            // with a school scope, once every file is read (households follow relationships).
            let snapshot = try ExportSnapshot.read(fetched.without(unchanged), limit: configuration.maxInvalidRows,
                                                   entities: configuration.entities.filter { !unchanged.contains($0) },
                                                   oneRoster: oneRoster, ready: scope != nil ? nil : { rows in
                entityPlans.append(try planner.plan(rows: rows, stored: store.mirror.state(for: rows.kind)))
            })
            if let scope {
                let students = try store.mirror.state(for: .students)
                let masks = try scope.rowsInScope(snapshot.entities) { id in
                    guard let stored = try students.record(forKey: id), stored.active else { return nil }
                    return stored.values[SchoolScope.studentSchool]
                }
                for kind in EntityKind.allCases {
                    guard let rows = snapshot.entities[kind] else { continue }
                    entityPlans.append(try planner.plan(rows: rows, stored: store.mirror.state(for: kind), inScope: masks[kind]))
                }
                let unmatched = scope.unmatchedSchools(snapshot.entities)
                if !unmatched.isEmpty {
                    log.log(LogEvent(.rosterNotice, .warning, "[source] schools names \(unmatched.joined(separator: ", ")), which no staff member or student of the export belongs to: check the school ids",
                                     fields: summary.runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []))
                }
            }
            summary.timings.append(("parse and plan", phase.lap()))
            try report(snapshot, summary: &summary, store: store)
            entityPlans.sort { $0.kind < $1.kind }
            plan = Plan(entities: entityPlans, snapshot: snapshot, plannedAt: started)
            plan.fileHashes = hashes
            plan.unchangedFiles = unchanged
            plan.sourceValidators = Self.validators(of: fetched)
            // A 304 stands for the file the mirror holds; it must be one of the files not parsed.
            for f in fetched.files where f.notModified && !(f.entity.map(unchanged.contains) ?? false) {
                throw FetchError.notModifiedUnexpectedly(url: f.name)
            }
            summary.outcome = .applied
        }
        if summary.outcome == .unchanged { summary.timings.append(("plan", phase.lap())) }
        plan.links = try planLinks(plan, store: store, now: started)
        summary.linksMade = plan.links.made
        summary.linksRemoved = plan.links.removed
        summary.linksAmbiguous = plan.links.ambiguous
        for case .ambiguous(let user, let email, let staff) in plan.links.changes {
            log.log(LogEvent(.linkAmbiguous, .warning, "user \(user) is not linked: \(countWords(staff.count)) active staff share \(email): \(staff.joined(separator: ", ")); fix the emails in the SIS or link the user by hand",
                             fields: (summary.runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []) + [("SISYNC_USERNAME", user)]))
        }
        try stopIfAsked()
        summary.count(records: plan, everyEntity: summary.outcome == .applied)
        let runGuard = RunGuard(settings: configuration.guardSettings)
        let runField = summary.runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []
        /// False when the verdict holds the run: then nothing is applied (R5).
        func accept(_ verdict: GuardVerdict, summary: inout RunSummary) -> Bool {
            switch verdict {
            case .allowed: return true
            case .overridden(let reason):
                log.log(LogEvent(.guardBlocked, .warning, "guard overridden once by \(options.actor) (--allow-mass-deactivation): \(reason)", fields: runField))
                return true
            case .blocked(let reason):
                summary.outcome = .blocked
                if let id = summary.runID {
                    // Not a dry run: the run is held with its plan (kept when it is recorded).
                    summary.standingHold = id
                    summary.error = "blocked by the guard (R5): \(reason); nothing was applied. The run is held: review it with `sisyncctl run show \(id)`, then apply exactly that plan with `sisyncctl run approve \(id)` or drop it with `sisyncctl run discard \(id)`; a script may instead run `sisyncctl sync --allow-mass-deactivation` once."
                } else {
                    summary.error = "blocked by the guard (R5): \(reason); nothing was applied. If this is expected, run `sisyncctl sync --allow-mass-deactivation` once."
                }
                log.log(LogEvent(.guardBlocked, .critical, summary.error!, fields: runField))
                return false
            }
        }
        let context = try guardContext(plan, store: store)
        let roleSettings = configuration.roleSettings(on: started)
        guard accept(runGuard.judge(plan, context: context, allowMassDeactivation: options.allowMassDeactivation), summary: &summary) else {
            // What the held run would do to the calculated roles, for `run show` and its
            // record: applied and rolled back, as a dry run does.
            plan.roles = try store.apply(plan, summary: summary, roles: roleSettings, now: started, stop: stop, commit: false)
            summary.rolesGranted = plan.roles.grantedCount
            summary.rolesRevoked = plan.roles.revokedCount
            return plan
        }
        // The calculated roles are planned inside the transaction, on what it wrote: judged
        // there, and a hold rolls everything back. Nil when it held the run.
        var heldRoles = RolePlan()
        func applyJudged(_ apply: (_ judgeRoles: (RolePlan) throws -> Void) throws -> RolePlan) throws -> RolePlan? {
            var planned = RolePlan(), verdict = GuardVerdict.allowed
            do {
                let roles = try apply { roles in
                    planned = roles
                    guard roles.revokedCount > 0 else { return }
                    verdict = runGuard.judgeRevocations(revoked: roles.revokedCount, grantedBefore: try store.roles.calculatedGrantCount(),
                                                        allowMassDeactivation: options.allowMassDeactivation)
                    if case .blocked(let reason) = verdict { throw RunHeld(reason: reason) }
                }
                _ = accept(verdict, summary: &summary)
                return roles
            } catch is RunHeld {
                // What the held run would have done to the roles, as its record shows it.
                summary.rolesGranted = planned.grantedCount
                summary.rolesRevoked = planned.revokedCount
                heldRoles = planned
                _ = accept(verdict, summary: &summary)
                return nil
            }
        }
        if options.dryRun {
            // Applied and rolled back, to see the roles this run would grant and revoke.
            guard let roles = try applyJudged({ try store.apply(plan, summary: summary, roles: roleSettings, now: started, stop: stop,
                                                                 commit: false, judgeRoles: $0) }) else { plan.roles = heldRoles; return plan }
            plan.roles = roles
            summary.rolesGranted = plan.roles.grantedCount
            summary.rolesRevoked = plan.roles.revokedCount
            return plan
        }
        let total = plan.entities.reduce(0) { $0 + $1.additions.count + $1.updates.count }
        log.log(LogEvent(.runApplying, .info, "run \(summary.runID ?? 0): applying changes to \(total) records in one transaction", fields: runField))
        // Unchanged runs go through here too: links and roles change outside the export (R3).
        summary.timings.append(("links", phase.lap()))
        var applyPhases: [(String, Double)] = []
        let applying = finished(summary)
        guard let roles = try applyJudged({ try store.apply(plan, summary: applying, roles: roleSettings, now: started, stop: stop,
                                                             phase: { applyPhases.append(($0, phase.lap())) }, judgeRoles: $0,
                                                             beforeCommit: { try daemonLock?.confirmHeld(in: store.database) }) }) else { plan.roles = heldRoles; return plan }
        plan.roles = roles
        summary.rolesGranted = plan.roles.grantedCount
        summary.rolesRevoked = plan.roles.revokedCount
        applyPhases.append(("commit", phase.lap()))
        summary.timings += applyPhases
        logChanges(plan, runID: summary.runID)
        pruneHistory(store, now: started, fields: runField)
        return plan
    }

    /// After a run that applied: the change log keeps `history_days` (R8). A failure is a
    /// warning; the run has committed.
    func pruneHistory(_ store: RosterStore, now: Date, fields: [(String, String)]) {
        do { try store.auditTrail.pruneHistory(days: configuration.historyDays, now: now) } catch {
            log.log(LogEvent(.runFailed, .warning, "could not prune history older than \(configuration.historyDays) days: \(error); check that \(store.path) is writable", fields: fields))
        }
    }

    /// How a OneRoster export becomes records on this run's day; nil for native formats.
    private func oneRosterTranslation(store: RosterStore, started: Date) -> OneRosterTranslation? {
        guard configuration.format == .oneRosterCSV || configuration.format == .oneRosterREST else { return nil }
        var states: [EntityKind: StoredEntityState] = [:]
        return OneRosterTranslation(schoolYear: configuration.currentSchoolYear(on: started), yearStart: configuration.schoolYearStart,
                                    today: OneRosterDay(started), entities: Set(configuration.entities), limit: configuration.maxInvalidRows) { kind, key in
            if states[kind] == nil { states[kind] = try store.mirror.state(for: kind) }
            return try states[kind]!.record(forKey: key)
        }
    }

    /// Validators for a conditional GET (R3), only for files the database still mirrors:
    /// a 304 then means "the file that was applied", which is safe to skip.
    private func conditionalValidators(_ fetcher: ExportFetcher, store: RosterStore) throws -> [String: SourceValidator] {
        let stored = try store.auditTrail.sourceValidators()
        guard !stored.isEmpty else { return [:] }
        let files = try store.auditTrail.appliedFileHashes()
        let lastHash = try store.auditTrail.lastAppliedHash()
        var out: [String: SourceValidator] = [:]
        for (entity, location) in try fetcher.locations() {
            guard let v = stored[location] else { continue }
            if let entity {
                if files[entity] == v.sha256 { out[location] = v }
            } else if lastHash == ExportFetcher.contentHash(format: configuration.format, files: [(nil, v.sha256)]) {
                out[location] = v
            }
        }
        return out
    }

    /// The validators to save for this run's downloads.
    static func validators(of fetched: FetchedExport) -> [String: SourceValidator] {
        var out: [String: SourceValidator] = [:]
        for f in fetched.files where f.etag != nil || f.lastModified != nil {
            out[f.name] = SourceValidator(etag: f.etag, lastModified: f.lastModified, sha256: f.sha256)
        }
        return out
    }

    /// R6: links follow the staff as this run leaves them, on every run (unchanged ones too,
    /// since users change outside the export).
    /// What the guard needs from the store: the auto links there are, each school's share
    /// (with `per_school`), and the domain move behind removed links, if there is one.
    private func guardContext(_ plan: Plan, store: RosterStore) throws -> GuardContext {
        var context = GuardContext()
        // The base is counted only when the run removes more auto links than the count
        // limit: below it the guard cannot trip, and most runs remove none.
        if plan.links.autoLinksRemoved > configuration.guardSettings.unlink.count { context.autoLinks = try store.accounts.autoLinkCount() }
        if configuration.guardSettings.perSchool {
            for kind in [EntityKind.staff, .students] {
                guard let p = plan.plan(for: kind) else { continue }
                let leaving = Set(p.updates.compactMap { $0.deactivate != nil ? $0.key : nil })
                context.schools += try store.mirror.schoolShares(kind, deactivating: leaving)
            }
        }
        var moves: [DomainChange: Int] = [:]
        for d in plan.links.domainChanges { moves[d, default: 0] += 1 }
        context.domainChange = moves.max { ($0.value, $1.key.staffDomain) < ($1.value, $0.key.staffDomain) }?.key
        return context
    }

    private func planLinks(_ plan: Plan, store: RosterStore, now: Date) throws -> LinkPlan {
        let normalizer = EmailNormalizer(aliases: configuration.emailDomainAliases)
        let staffPlan = plan.plan(for: .staff)
        // A stop asked for between statements would not interrupt the next one (SQLite's
        // interrupt stops only what is running then), and these steps take seconds on a
        // district's 300,000 staff: so each step looks for a stop first.
        try stopIfAsked()
        let stored = try store.accounts.staffDirectoryEntries(normalizer: normalizer)
        try stopIfAsked()
        let directory = StaffDirectory.after(staffPlan, rows: plan.snapshot?.entities[.staff], stored: stored, normalizer: normalizer)
        try stopIfAsked()
        let candidates = try store.accounts.linkingUsers(normalizer: normalizer, activeKeys: directory.activeEmailKeys, stop: stop)
        try stopIfAsked()
        let deactivated = Set(staffPlan?.updates.compactMap { $0.deactivate != nil ? $0.key : nil } ?? [])
        var links = LinkPlanner(now: now, unapproveOnDeactivation: configuration.onStaffDeactivated == .unapprove)
            .plan(users: candidates.users, staff: directory, deactivatedNow: deactivated)
        links.emailKeys = candidates.keys
        links.emailKeyBasis = candidates.basis
        return links
    }

    /// Ends the run as stopped when SIGTERM or SIGINT asked for it (rolled back, R1).
    private func stopIfAsked() throws(StoreError) {
        if let stop, stop.isStopping { throw .interrupted }
    }

    /// The summary as it is stored when the apply transaction commits.
    func finished(_ summary: RunSummary) -> RunSummary {
        var s = summary
        s.finishedAt = Timestamp.format(clock())
        return s
    }

    private func report(_ snapshot: ExportSnapshot, summary: inout RunSummary, store: RosterStore) throws {
        let runField = summary.runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []
        for (source, columns) in snapshot.unknownColumns {
            log.log(LogEvent(.unknownColumns, .notice, "\(source): ignoring unknown columns \(columns.joined(separator: ", "))", fields: runField))
        }
        for line in snapshot.notices {
            log.log(LogEvent(.rosterNotice, .notice, "OneRoster: left out \(line)", fields: runField))
        }
        var states: [EntityKind: StoredEntityState] = [:]
        for var p in snapshot.problems {
            if let kind = p.entity, let key = p.recordKey {
                if states[kind] == nil { states[kind] = try store.mirror.state(for: kind) }
                p.inMirror = try states[kind]!.record(forKey: key) != nil
            } else if p.entity == nil, let id = p.id, configuration.format == .oneRosterCSV || configuration.format == .oneRosterREST {
                // A OneRoster user is a staff member, a student or a household.
                var found = false
                for kind in [EntityKind.staff, .students, .households] where configuration.entities.contains(kind) && !found {
                    if states[kind] == nil { states[kind] = try store.mirror.state(for: kind) }
                    found = try states[kind]!.record(forKey: id) != nil
                }
                p.inMirror = found
            }
            summary.problems.append(p.description)
            log.log(LogEvent(.rowSkipped, .warning, "skipped row: \(p)", fields: runField))
        }
    }

    func logChanges(_ plan: Plan, runID: Int64?) {
        let runField = runID.map { [("SISYNC_RUN_ID", String($0))] } ?? []
        let linkDetail: LogPriority = plan.links.changes.count > 100 ? .debug : .info
        for c in plan.links.changes {
            switch c {
            case .link(let user, let staff, let previous):
                log.log(LogEvent(.userLinked, linkDetail, "user \(user) linked to staff \(staff)\(previous.map { " (was \($0))" } ?? "")",
                                 fields: runField + [("SISYNC_USERNAME", user), ("SISYNC_STAFF_ID", staff)]))
            case .unlink(let user, let staff, _, let why):
                log.log(LogEvent(.userUnlinked, linkDetail, "user \(user) unlinked from staff \(staff): \(why)",
                                 fields: runField + [("SISYNC_USERNAME", user), ("SISYNC_STAFF_ID", staff)]))
            case .ambiguous:
                break  // logged when planned, also by runs that change nothing
            case .unapprove(let user, let staff):
                log.log(LogEvent(.userUnlinked, .notice, "user \(user) unapproved: staff \(staff) was deactivated (on_staff_deactivated = unapprove)",
                                 fields: runField + [("SISYNC_USERNAME", user), ("SISYNC_STAFF_ID", staff)]))
            }
        }
        let roleDetail: LogPriority = plan.roles.grantedCount + plan.roles.revokedCount > 100 ? .debug : .info
        for r in plan.roles.granted {
            log.log(LogEvent(.roleGranted, roleDetail, "user \(r.username) granted \(r.label)", fields: runField + [("SISYNC_USERNAME", r.username), ("SISYNC_ROLE", r.role)]))
        }
        for r in plan.roles.revoked {
            log.log(LogEvent(.roleRevoked, roleDetail, "user \(r.username) lost \(r.label)", fields: runField + [("SISYNC_USERNAME", r.username), ("SISYNC_ROLE", r.role)]))
        }
        let total = plan.entities.reduce(0) { $0 + $1.additions.count + $1.updates.count }
        let detailed: LogPriority = total > 100 ? .debug : .info
        // R8: every changed field, with its old and new value. Staff are the people
        // administrators ask about (`journalctl SISYNC_STAFF_ID=...`): their updates stay at
        // info up to 1,000 staff records (a run that changes more is a re-import, summarised
        // below); other entities' updates follow the per-record bound: debug past 100 records.
        let staffDetail: LogPriority = (plan.plan(for: .staff)?.updatedCount ?? 0) > 1000 ? .debug : .info
        for p in plan.entities {
            for u in p.updates {
                for f in u.fields {
                    let values = "`\(Self.clip(f.old))` → `\(Self.clip(f.new))`"
                    if p.kind == .staff {
                        log.log(LogEvent(.staffUpdated, staffDetail, "staff \(u.key) \(f.name) changed: \(values)",
                                         fields: runField + [("SISYNC_STAFF_ID", u.key), ("SISYNC_FIELD", f.name),
                                                             ("SISYNC_OLD_VALUE", Self.bounded(f.old)), ("SISYNC_NEW_VALUE", Self.bounded(f.new))]))
                    } else {
                        let id = RecordKey.display(u.key)
                        log.log(LogEvent(.recordUpdated, detailed, "\(p.kind.rawValue) \(id) \(f.name) changed: \(values)",
                                         fields: runField + [("SISYNC_ENTITY", p.kind.rawValue), ("SISYNC_RECORD_ID", id), ("SISYNC_FIELD", f.name),
                                                             ("SISYNC_OLD_VALUE", Self.bounded(f.old)), ("SISYNC_NEW_VALUE", Self.bounded(f.new))]))
                    }
                }
            }
        }
        guard let staff = plan.plan(for: .staff) else { return }
        if let rows = plan.snapshot?.entities[.staff] {
            for r in staff.additions {
                let key = rows.key(Int(r))
                log.log(LogEvent(.staffAdded, detailed, "staff \(key) added", fields: runField + [("SISYNC_STAFF_ID", key)]))
            }
        }
        for u in staff.updates {
            if u.reactivate { log.log(LogEvent(.staffReactivated, detailed, "staff \(u.key) reactivated", fields: runField + [("SISYNC_STAFF_ID", u.key)])) }
            if let reason = u.deactivate {
                log.log(LogEvent(.staffDeactivated, detailed, "staff \(u.key) deactivated (\(reason.rawValue))", fields: runField + [("SISYNC_STAFF_ID", u.key)]))
            }
        }
        if total > 100 {
            let parts = plan.entities.compactMap { p -> String? in
                let c = plan.counts(for: p.kind)
                return c.total == 0 ? nil : "\(p.kind.rawValue) +\(c.added) ~\(c.updated) -\(c.deactivated) ↺\(c.reactivated)"
            }
            log.log(LogEvent(.recordsChanged, .notice, "\(total) records changed: \(parts.joined(separator: ", "))", fields: runField))
        }
    }

    static func timingLine(_ timings: [(String, Double)]) -> String {
        let total = timings.reduce(0) { $0 + $1.1 }
        return String(format: "%.2f s (", total) + timings.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", ") + ")"
    }

    /// Staff always, then every other entity that changed:
    /// `staff +1 ~2 -0 ↺0; students +5 ~1 -0 ↺0; links +1 -0 ?0; roles +3 -0`.
    static func countsLine(_ s: RunSummary) -> String {
        var parts = ["staff +\(s.staff.added) ~\(s.staff.updated) -\(s.staff.deactivated) ↺\(s.staff.reactivated)"]
        for k in EntityKind.allCases where k != .staff {
            if let c = s.entities[k.rawValue], c.total > 0 { parts.append("\(k.rawValue) +\(c.added) ~\(c.updated) -\(c.deactivated) ↺\(c.reactivated)") }
        }
        parts.append("links +\(s.linksMade) -\(s.linksRemoved) ?\(s.linksAmbiguous)")
        parts.append("roles +\(s.rolesGranted) -\(s.rolesRevoked)")
        return parts.joined(separator: "; ")
    }

    /// A value as a log line shows it: one line, control characters escaped (`\r`,
    /// `\u{1B}`), at most 200 characters (the journal fields carry more).
    static func clip(_ value: String) -> String {
        let line = PrintableText.escaped(value)
        return line.count > 200 ? String(line.prefix(197)) + "..." : line
    }

    /// A value as a journal field carries it: whole up to 4 KiB, so that one entry stays
    /// well inside a journal datagram.
    static func bounded(_ value: String) -> String {
        guard value.utf8.count > 4096 else { return value }
        var end = value.utf8.index(value.utf8.startIndex, offsetBy: 4093)
        while end.samePosition(in: value.unicodeScalars) == nil { end = value.utf8.index(before: end) }
        return String(value[..<end]) + "..."
    }

    package static func classify(_ error: Error) -> FailureClass {
        switch error {
        case let e as FetchError: return e.isConfigurationProblem ? .configuration : .unavailable
        case is ExportError: return .badData
        case let e as OneRosterError:
            switch e {
            case .serverError, .shortRead, .wrongPage: return .unavailable
            case .notADirectoryOrZip: return .configuration
            case .missingManifest, .unsupportedVersion, .badManifestValue, .missingFile, .badDocument: return .badData
            }
        case let e as ZipError:
            switch e {
            case .tooLarge, .unreadable: return .unavailable
            case .cannotWrite: return .cannotCreate
            case .notAZip, .unsupported, .corrupt: return .badData
            }
        case is ConfigError: return .configuration
        case is RunDirectoryError: return .cannotCreate
        case let e as StoreError:
            switch e {
            case .locked, .runInProgress, .lockLost, .newerSchema: return .temporary
            case .interrupted: return .temporary
            case .cannotOpen, .unsafeFile, .linkInPath, .hardLinksUnprotected, .readOnly, .noAccess, .notADatabase, .corrupt, .unknownSchemaVersion, .storageFailed: return .cannotCreate
            case .unusablePath: return .configuration
            default: return .software
            }
        case let e as PostgresError:
            if e.isUnavailable { return .unavailable }
            guard case .query(_, let state?, _, _, _) = e else { return .software }
            // No right to create the schema or its tables, or no room for them.
            if state == "42501" || state == "3F000" || state.hasPrefix("53") { return .cannotCreate }
            return state == "57014" ? .temporary : .software
        default: return .software
        }
    }

    static func describe(_ error: Error) -> String {
        String(describing: error)
    }
}
