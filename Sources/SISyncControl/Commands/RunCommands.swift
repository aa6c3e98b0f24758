import Foundation
import SISync

/// `sisyncctl sync`: one run now, in this process, under the run lock.
struct SyncCommand: ControlSubcommand {
    static let name = "sync"
    static let options: [CommandOption] = [.flag("dry-run"), .flag("allow-mass-deactivation"), .flag("force")]
    static let storeAccess = StoreAccess.writesTakingTheLockItself
    static let help = """
        Runs one sync cycle now, in this process. --dry-run fetches and plans but writes nothing; \
        --allow-mass-deactivation lets one run past the guard (R5); --force re-plans an export that did not change. \
        Works while sisyncd runs: it waits for the daemon's run in progress, then runs. \
        Exit: 0 applied or unchanged, 65 bad data or blocked, 69 source unavailable, 75 a run in progress did not \
        finish within --wait (default 60s), 78 configuration error.
        """
    static let example = "sisyncctl sync --dry-run"
    let call: CommandCall

    func run() throws -> Int32 {
        let wait = waitSeconds(args)
        let c = try configuration(args)
        var options = SyncRun.Options()
        options.dryRun = args.flag("dry-run")
        options.allowMassDeactivation = args.flag("allow-mass-deactivation")
        options.force = args.flag("force")
        options.actor = actor
        options.trigger = .sisyncctl
        options.wait = wait
        var stop: StopSignal?
        var signals: SignalWatcher?
        if call.control.stopsOnSignals {
            let s = StopSignal()
            signals = SignalWatcher()
            signals?.onStop { s.stop() }
            stop = s
        }
        let result = withExtendedLifetime(signals) {
            SyncRun(configuration: c, options: options, log: log, stop: stop).performWithStore(waiting: { call.control.sayWaiting(for: $0, wait: wait) })
        }
        emit(args, json: { RunReport.json(result.summary, plan: result.plan) },
             text: { RunReport.text(result.summary, plan: result.plan, showPlan: options.dryRun) })
        return result.summary.exitCode
    }
}

/// `sisyncctl status`: the last and next run, holds, the database; or every tenant's.
struct StatusCommand: ControlSubcommand {
    static let name = "status"
    static let synopsis = ["status", "--tenants DIR status"]
    static let help = """
        Shows whether sisyncd runs (its pid, host and since when, found without touching its lock) and whether \
        this host is the standby, the last run (one left running by a process that died: interrupted), the next \
        run as the daemon scheduled it, a run the guard holds, deactivation holds, the database and its records. \
        With --tenants DIR (and no --tenant): every tenant, which sisyncd serves it and its last run.
        """
    static let example = "sisyncctl status"
    let call: CommandCall

    func run() throws -> Int32 {
        if args.value("tenants") != nil && args.value("tenant") == nil { return try tenantsStatus(args) }
        let store = try openStore(args)
        var last = try store.auditTrail.lastRun()
        // Found without taking any lock (DaemonProbe): a sisyncd starting now is not disturbed.
        let probe = DaemonProbe(location: store.location)
        let daemon = try? probe.daemon()
        let next = daemon?.nextRunAt.map(Timestamp.format)
        var interrupted: String?
        if let id = last?.runID, last?.outcome == .running, let daemon, let runLock = try? probe.runLock(),
           let why = DaemonProbe.interruption(of: id, runLock: runLock, daemon: daemon), try store.auditTrail.run(id: id)?.outcome == .running {
            interrupted = why
            // Shown as the failure the next run records it as; the store still says running.
            last?.ending = .failed(.unrecorded, message: why + "; nothing it planned was applied, and the next run records it as failed")
        }
        let bytes = (try? store.database.sizeInBytes()) ?? 0
        let counts = try store.mirror.recordCounts()
        let held = (try? configuration(args))?.deactivationsHeld(on: Date())
        let hold = try store.auditTrail.standingHold(at: Date())
        last = last.map { RunReport.withEndedHold($0, standing: hold?.runID) }
        emit(args, json: {
            .object([
                ("daemon", daemon?.json ?? .null),
                ("last_run", last.map(JSONShapes.runSummary) ?? .null),
                ("next_run_at", .string(next)),
                ("deactivations_held_until", .string(held)),
                ("held_run", hold.map { .int($0.runID) } ?? .null),
                ("database", .object([("path", .string(store.path)), ("bytes", .int(Int64(bytes)))])),
                ("records", .object(counts.map { ($0.0.rawValue, .object([("active", .int($0.active)), ("total", .int($0.total))])) })),
            ])
        }, text: {
            var out = daemon?.statusLines(store: store.path) ?? "daemon: cannot tell (the store's locks cannot be read)\n"
            if let last, let interrupted {
                out += "last run: run \(last.runID ?? 0) \(interrupted); nothing it planned was applied, and the next run records it as failed\n"
            } else if let last {
                out += "last run: " + RunReport.text(last, plan: nil, showPlan: false)
            } else {
                out += "last run: none yet\n"
            }
            if let hold {
                out += "held run: \(hold.runID), blocked by the guard and waiting for review until \(LocalTime.text(stored: hold.expiresAt)): `sisyncctl run show \(hold.runID)`, then `sisyncctl run approve \(hold.runID)` or `sisyncctl run discard \(hold.runID)`\n"
            }
            if let held { out += "deactivations: on hold until \(held) ([sync] hold_deactivations): absent records are marked missing, not deactivated\n" }
            out += "database: \(store.path), \(ControlCommand.humanBytes(bytes))\n"
            var t = TextTable(["entity", "active", "total"])
            for (k, a, n) in counts { t.add([k.rawValue, String(a), String(n)]) }
            return out + t.rendered()
        })
        return 0
    }

    /// `sisyncctl --tenants DIR status`: every tenant, which sisyncd serves it, its last run.
    private func tenantsStatus(_ args: Arguments) throws -> Int32 {
        let directory = args.value("tenants") ?? TenantDirectory.defaultPath
        let entries = try TenantDirectory(path: directory).load()
        let sessions = PostgresLockSessions()
        var rows: [(name: String, database: String, holder: String, last: RunSummary?, problem: String?)] = []
        for e in entries {
            switch e.configuration {
            case .failure(let error):
                rows.append((e.name, "", "", nil, "\(error)"))
            case .success(let c):
                var holder = "nobody", problem: String?, last: RunSummary?
                do {
                    switch c.store {
                    case .postgres:
                        let found = try DaemonLock.tenant(location: c.store, sessions: sessions).holder().holder
                        if found != "unknown" { holder = found }
                    case .sqlite:
                        // From the kernel's lock table, never by trying the lock: a try, however
                        // short, makes a sisyncd claiming the tenant at that moment pass it by,
                        // and letting go empties the lock file of a killed daemon's pid.
                        let daemon = try DaemonProbe(location: c.store).daemon()
                        if daemon.running, let pid = daemon.pid { holder = "sisyncd on \(daemon.host ?? "this host") pid \(pid)" }
                    }
                    last = try RosterStore(location: c.store, mustExist: true).auditTrail.lastRun()
                } catch StoreError.noDatabase {
                    last = nil
                } catch {
                    problem = "\(error)"
                }
                rows.append((e.name, c.store.display, holder, last, problem))
            }
        }
        emit(args, json: {
            .object([("tenants", .array(rows.map { r in
                .object([("name", .string(r.name)), ("database", .string(r.database)), ("served_by", .string(r.holder)),
                         ("last_run", r.last.map(JSONShapes.runSummary) ?? .null), ("problem", .string(r.problem))])
            }))])
        }, text: {
            var t = TextTable(["tenant", "served by", "last run", "database"], whole: ["served by", "last run"])
            var problems = ""
            for r in rows {
                let last = r.last.map { "\($0.runID.map(String.init) ?? "-") \($0.outcome.rawValue) \(LocalTime.text(stored: $0.startedAt))" } ?? "none yet"
                t.add([r.name, r.problem == nil ? r.holder : "-", r.problem == nil ? last : "see below", r.database])
                // A problem is a sentence to read whole, not a cell to cut to the terminal.
                if let p = r.problem { problems += "\(r.name): \(PrintableText.line(p))\n" }
            }
            return "\(rows.count) tenants in \(directory)\n" + t.rendered() + problems
        })
        return 0
    }
}

/// `sisyncctl runs`: recent runs, newest first.
struct RunsCommand: ControlSubcommand {
    static let name = "runs"
    static let options: [CommandOption] = [.value("limit", "N")]
    static let pages = true
    static let help = "Lists recent runs, newest first (default 20)."
    static let example = "sisyncctl runs --limit 5"
    let call: CommandCall

    func run() throws -> Int32 {
        let limit = try ListLimit.parse(args.value("limit")) ?? 20
        let list = try openStore(args).auditTrail.runs(limit: limit)
        emit(args, json: { .array(list.map(JSONShapes.runSummary)) }, text: {
            // Records of every entity; the table is cut to the terminal, the error most.
            var t = TextTable(["run", "started", "outcome", "by", "added", "changed", "deactivated", "reactivated", "error"], whole: ["started", "outcome"])
            for r in list {
                let counts = r.entities.values
                t.add([String(r.runID ?? 0), LocalTime.text(stored: r.startedAt), r.outcome.rawValue, r.actor,
                       String(counts.reduce(0) { $0 + $1.added }), String(counts.reduce(0) { $0 + $1.updated }),
                       String(counts.reduce(0) { $0 + $1.deactivated }), String(counts.reduce(0) { $0 + $1.reactivated }),
                       r.error.map { PrintableText.line($0) } ?? ""])
            }
            return list.isEmpty ? "no runs yet\n" : t.rendered()
        })
        return 0
    }
}

/// `run show ID`: one run and its changes (a held run: what it would change).
struct RunShowCommand: ControlSubcommand {
    static let name = "run show"
    static let arguments: [CommandArgument] = [.required("ID")]
    static let options: [CommandOption] = [.value("limit", "N")]
    static let pages = true
    static let help = """
        Lists one run and every change it made; for a run the guard held (R5), every change its kept plan \
        would make, naming each person beside the id. --limit N shows the first N changes.
        """
    static let example = "sisyncctl run show 42"
    let call: CommandCall

    func run() throws -> Int32 {
        let id = words[0]
        guard let n = Int64(id) else { console.err("sisyncctl: run id must be a number, got `\(id)`\n"); return 64 }
        let store = try openStore(args)
        guard let run = try store.auditTrail.run(id: n) else { throw StoreError.notFound(what: "run \(n)") }
        var changes = try store.auditTrail.changes(runID: n)
        var planned = false
        // Issue 33: the records the run carries (or carried) over to new ids, with their
        // evidence, and those it could not pair; listed whole, before the other changes.
        var rekeys: [RekeyListing] = try store.rekeys.entries(run: n).map { RekeyListing(entity: $0.entity, old: $0.old, new: $0.new, evidence: $0.evidence) }
        var ambiguous: [AmbiguousRekey] = []
        if run.hold != nil, changes.isEmpty, let kept = try store.auditTrail.heldPlan(run: n) {
            // Nothing of a held run was applied: its changes are those of the kept plan.
            planned = true
            let plan = try kept.plan()
            rekeys = plan.carriedOver.map { RekeyListing(entity: $0.entity, old: RecordKey.display($0.old), new: RecordKey.display($0.new), evidence: $0.evidence) }
            ambiguous = plan.rekeys.ambiguous
            plan.forEachChange { c in
                if c.kind != .rekeyed { changes.append(StoredChange(runID: n, at: run.startedAt, actor: run.actor, change: c)) }
            }
        }
        let total = changes.count
        if let limit = try ListLimit.parse(args.value("limit")) { changes = Array(changes.prefix(limit)) }
        emit(args, json: {
            guard case .object(var m) = JSONShapes.runSummary(run) else { return .null }
            if !rekeys.isEmpty || planned {
                m.append(("rekeys", .array(rekeys.map { .object([("entity", .string($0.entity)), ("old", .string($0.old)), ("new", .string($0.new)), ("evidence", .string($0.evidence))]) })))
            }
            if planned {
                m.append(("ambiguous_rekeys", .array(ambiguous.map { a in
                    .object([("entity", .string(a.entity)), ("old", .array(a.old.map { .string(RecordKey.display($0)) })),
                             ("new", .array(a.new.map { .string(RecordKey.display($0)) })), ("evidence", .string(a.evidence))])
                })))
            }
            m.append(("changes", .array(changes.map { JSONShapes.change($0.change, actor: $0.actor) })))
            return .object(m)
        }, text: {
            var out = RunReport.text(run, plan: nil, showPlan: false)
            out += "  by \(run.actor) (\(run.trigger)), \(LocalTime.text(stored: run.startedAt)) → \(run.finishedAt.map(LocalTime.text(stored:)) ?? "-")\n"
            if !rekeys.isEmpty {
                out += planned ? "  records the held plan would carry over to new ids (\(rekeys.count)):\n" : "  records carried over to new ids (\(rekeys.count)):\n"
                for r in rekeys { out += "    \(r.entity) \(PrintableText.line(r.old)) → \(PrintableText.line(r.new)) (\(PrintableText.line(r.evidence)))\n" }
            }
            if !ambiguous.isEmpty {
                out += "  not carried over, more than one possible partner (\(ambiguous.count)); pair them by hand with `sisyncctl staff rekey` or `student rekey`:\n"
                for a in ambiguous { out += "    \(a.entity) \(PrintableText.line(a.described))\n" }
            }
            let others = rekeys.isEmpty && ambiguous.isEmpty ? "" : "other "
            out += planned ? "  \(others)changes the held plan would make (\(total)):\n" : "  changes (\(total)):\n"
            // A held plan is judged by whom it touches: each record's person is named.
            for c in changes {
                let name = planned ? EntityKind(rawValue: c.change.entity).flatMap { try? store.mirror.name(of: $0, id: c.change.id) } : nil
                out += "    " + RunReport.changeLine(c.change, name: name, planned: planned) + "\n"
            }
            return out + ListLimit.more(total - changes.count, indent: "    ")
        })
        return 0
    }
}

/// `run revert ID`: undoes the latest run that changed anything, as a new run.
struct RunRevertCommand: ControlSubcommand {
    static let name = "run revert"
    static let arguments: [CommandArgument] = [.required("ID")]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Undoes the latest run that changed anything, as a new run: changed fields get their old values, \
        deactivated records come back, records it added become inactive, links are restored and roles recomputed. \
        Older runs are refused. The next sync compares the restored records with the export again: revert is for \
        undoing a mistaken override (e.g. --allow-mass-deactivation); if the export itself is wrong, fix it at the \
        source first.
        """
    static let example = "sisyncctl run revert 42"
    let call: CommandCall

    func run() throws -> Int32 {
        let text = words[0]
        guard let id = Int64(text) else { console.err("sisyncctl: run revert takes a run id, got `\(text)`\n"); return 64 }
        let c = try configuration(args)
        let store = try RosterStore(configuration: c, mustExist: true)
        let summary = try store.revert(run: id, actor: actor, roles: c.roleSettings(on: Date()), now: Date())
        SyncRun.writeMetrics(summary, store: store, configuration: c, log: log)
        log.log(LogEvent(.runFinished, .notice, "run \(summary.runID ?? 0) by \(actor) reverted run \(id)",
                         fields: [("SISYNC_RUN_ID", String(summary.runID ?? 0))]))
        emit(args, json: { RunReport.json(summary, plan: nil) }, text: { "reverted run \(id): " + RunReport.text(summary, plan: nil, showPlan: false) })
        return 0
    }
}

/// `run approve ID`: applies a held run's kept plan as a new run (the run lock is held).
struct RunApproveCommand: ControlSubcommand {
    static let name = "run approve"
    static let arguments: [CommandArgument] = [.required("ID")]
    static let options: [CommandOption] = [.flag("without-rekeys")]
    static let synopsis = ["run approve ID [--without-rekeys]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Applies exactly the plan of a run the guard held (R5) as a new run (`approves`: ID). It is refused \
        (exit 1, saying why) once another run applied, an administrator changed users since, or the hold expired \
        ([guard] held_plan_days, default 7): then run `sisyncctl sync` again. A hold also ends when a later run \
        applies; while it stands, a cycle on the same export exits 65 without a second hold. A plan that carries \
        records over to new ids (a renumbered SIS, docs/rekey.md) is applied with them; --without-rekeys applies it \
        the old way instead: the old records deactivated, the new ones added.
        """
    static let example = "sisyncctl run approve 42"
    let call: CommandCall

    func run() throws -> Int32 {
        let text = words[0]
        guard let id = Int64(text) else { console.err("sisyncctl: run approve takes a run id, got `\(text)`\n"); return 64 }
        let c = try configuration(args)
        let store = try RosterStore(location: c.store, mustExist: true)
        var options = SyncRun.Options()
        options.actor = actor
        options.trigger = .approve
        let result: SyncRun.Result
        do {
            result = try SyncRun(configuration: c, options: options, log: log).approve(run: id, store: store, withoutRekeys: args.flag("without-rekeys"))
        } catch let e as HoldError {
            console.err("sisyncctl: \(e)\n")
            return 1
        }
        emit(args, json: { RunReport.json(result.summary, plan: nil) },
             text: { "approved held run \(id): " + RunReport.text(result.summary, plan: nil, showPlan: false) })
        return result.summary.exitCode
    }
}

/// `run discard ID`: drops a held run's plan; nothing is applied.
struct RunDiscardCommand: ControlSubcommand {
    static let name = "run discard"
    static let arguments: [CommandArgument] = [.required("ID")]
    static let storeAccess = StoreAccess.writes
    static let help = "Drops the plan of a run the guard held; nothing of it is applied."
    static let example = "sisyncctl run discard 42"
    let call: CommandCall

    func run() throws -> Int32 {
        let text = words[0]
        guard let id = Int64(text) else { console.err("sisyncctl: run discard takes a run id, got `\(text)`\n"); return 64 }
        let store = try openStore(args)
        do { _ = try store.auditTrail.discardHold(run: id, actor: actor, at: Date()) } catch let e as HoldError {
            console.err("sisyncctl: \(e)\n")
            return 1
        }
        log.log(LogEvent(.holdEnded, .notice, "held run \(id) discarded by \(actor); nothing of it was applied",
                         fields: [("SISYNC_HELD_RUN_ID", String(id))]))
        let run = try store.auditTrail.run(id: id)
        // The metrics say the hold is gone (`sisync_held_run` 0), with the last run as before.
        if let c = try? configuration(args), let last = try store.auditTrail.lastRun() { SyncRun.writeMetrics(last, store: store, configuration: c, log: log) }
        emit(args, json: { run.map(JSONShapes.runSummary) ?? .null }, text: { "discarded the hold of run \(id); nothing of it was applied\n" })
        return 0
    }
}

/// `staff list`: staff records, active ones by default.
struct StaffListCommand: ControlSubcommand {
    static let name = "staff list"
    static let options: [CommandOption] = [.flag("inactive"), .flag("all"), .value("search", "TEXT"), .value("limit", "N")]
    static let synopsis = ["staff list [--inactive | --all] [--search TEXT] [--limit N]"]
    static let pages = true
    static let help = """
        Lists staff records: the active ones, or with --inactive the inactive ones, or with --all every one; \
        --search keeps those whose id, name or email contains TEXT.
        """
    static let example = "sisyncctl staff list --search lima"
    let call: CommandCall

    func run() throws -> Int32 {
        if args.flag("inactive") && args.flag("all") { console.err("sisyncctl: use either --inactive or --all\n"); return 64 }
        let filter: StaffFilter = args.flag("all") ? .all : args.flag("inactive") ? .inactive : .active
        let found = try openStore(args).mirror.staff(filter: filter, search: args.value("search"))
        let list = try ListLimit.parse(args.value("limit")).map { Array(found.prefix($0)) } ?? found
        emit(args, json: { .array(list.map { .object(JSONShapes.staff($0)) }) }, text: {
            var t = TextTable(["staff_id", "name", "email", "title", "schools", "state"])
            for s in list {
                var state = s.active ? (s.missingSince.map { "missing since \(LocalTime.text(stored: $0))" } ?? "active")
                    : "inactive since \(s.deactivatedAt.map(LocalTime.text(stored:)) ?? "?")"
                if !s.enabled { state += ", account disabled in the SIS" }
                t.add([s.staffID, "\(s.firstName) \(s.lastName)", s.email, s.title, s.schoolIDs.joined(separator: ";"), state])
            }
            return t.rendered() + ListLimit.more(found.count - list.count) + "\(found.count) staff\n"
        })
        return 0
    }
}

/// `staff show ID`: one staff record, its linked users and its history.
struct StaffShowCommand: ControlSubcommand {
    static let name = "staff show"
    static let arguments: [CommandArgument] = [.required("ID")]
    static let options: [CommandOption] = [.value("limit", "N")]
    static let pages = true
    static let help = "Shows one staff record, the users linked to it and its history (with --limit N, the newest N entries)."
    static let example = "sisyncctl staff show S1042"
    let call: CommandCall

    func run() throws -> Int32 {
        let asked = words[0]
        let store = try openStore(args)
        // A record carried over to a new id (issue 33) is found under its old one too.
        var id = asked
        var renamed: RekeyStore.Entry?
        if try store.mirror.staffMember(id: asked) == nil,
           let r = try store.rekeys.entries(entity: .staff, id: asked).first(where: { $0.old == asked && $0.revertedRun == nil }) {
            id = r.new
            renamed = r
        }
        guard let s = try store.mirror.staffMember(id: id) else { throw StoreError.notFound(what: "staff member \(id)") }
        let formerly = try store.rekeys.entries(entity: .staff, id: id).filter { $0.new == id && $0.revertedRun == nil }
        let users = try store.accounts.linkedUsers(staffID: id)
        let whole = try store.auditTrail.history(entity: .staff, id: id)
        let history = try ListLimit.parse(args.value("limit")).map { Array(whole.suffix($0)) } ?? whole
        emit(args, json: {
            .object(JSONShapes.staff(s) + [("users", .array(users.map { .string($0) })), ("history", .array(history.map(JSONShapes.storedChange))),
                                           ("formerly", .array(formerly.map { .object([("staff_id", .string($0.old)), ("run_id", .int($0.runID))]) }))])
        }, text: {
            var out = ""
            if let renamed { out += "\(asked) is now \(renamed.new): the SIS renumbered it, carried over in run \(renamed.runID)\n" }
            out += "\(s.staffID)  \(s.firstName) \(s.lastName)\(s.active ? "" : "  (INACTIVE since \(s.deactivatedAt.map(LocalTime.text(stored:)) ?? "?"))")\n"
            for f in formerly { out += "  formerly \(f.old) (run \(f.runID))\n" }
            out += "  email:   \(s.email)\n  title:   \(s.title)\n  schools: \(s.schoolIDs.joined(separator: ", "))\n"
            if let m = s.missingSince { out += "  missing from the export since \(LocalTime.text(stored: m))\n" }
            if !s.enabled { out += "  account disabled in the SIS (enabledUser = false); the record stays active\n" }
            out += "  linked users: \(users.isEmpty ? "none" : users.joined(separator: ", "))\n  history:\n"
            out += ListLimit.more(whole.count - history.count, indent: "    ", word: "earlier")
            for h in history { out += "    " + ControlCommand.historyLine(h) }
            return out
        })
        return 0
    }
}

/// A record carried over to a new id, as `run show` lists it (ids as displayed).
struct RekeyListing {
    var entity: String
    var old: String
    var new: String
    var evidence: String
}

/// `staff rekey OLD NEW`: the next run carries a staff member over to the id the SIS gives
/// them now, when the evidence is not enough for it to pair them itself (issue 33).
struct StaffRekeyCommand: ControlSubcommand {
    static let name = "staff rekey"
    static let arguments: [CommandArgument] = [.required("OLD"), .required("NEW")]
    static let storeAccess = StoreAccess.writes
    static let help = RekeyRequestText.help("staff member")
    static let example = "sisyncctl staff rekey S1042 8f1c2a"
    let call: CommandCall

    func run() throws -> Int32 { try RekeyRequestText.request(.staff, call: call, self) }
}

/// `student rekey OLD NEW`: as `staff rekey`, for a student (its codes, pairings, families).
struct StudentRekeyCommand: ControlSubcommand {
    static let name = "student rekey"
    static let arguments: [CommandArgument] = [.required("OLD"), .required("NEW")]
    static let storeAccess = StoreAccess.writes
    static let help = RekeyRequestText.help("student")
    static let example = "sisyncctl student rekey ST20001 5d0e77"
    let call: CommandCall

    func run() throws -> Int32 { try RekeyRequestText.request(.students, call: call, self) }
}

/// What `staff rekey` and `student rekey` share: their help and their one action.
enum RekeyRequestText {
    static func help(_ noun: String) -> String {
        """
        Pairs a \(noun) the next run would deactivate (OLD, still active) with the id the SIS now gives them (NEW, \
        a record the next run would add), when the evidence is not enough for the run to pair them itself \
        (docs/rekey.md): the next run carries the record over with its history, links, roles, codes and pairings, \
        whatever its share of removals, and is held for review unless [guard] rekey = apply. Refused (exit 1) when \
        OLD is unknown or inactive, or NEW exists already (a rekey never merges two records). A run held before \
        the pairing does not have it: discard it and sync again.
        """
    }

    static func request(_ entity: EntityKind, call: CommandCall, _ command: some ControlSubcommand) throws -> Int32 {
        let (old, new) = (command.words[0], command.words[1])
        let store = try command.openStore(command.args)
        let request: RekeyRequest
        do { request = try store.requestRekey(entity, old: old, new: new, actor: command.actor, now: Date()) } catch let e as RekeyError {
            command.console.err("sisyncctl: \(e)\n")
            return 1
        }
        let hold = try store.auditTrail.standingHold(at: Date())
        command.emit(command.args, json: {
            .object([("entity", .string(request.entity.rawValue)), ("old", .string(request.old)), ("new", .string(request.new)),
                     ("requested_by", .string(request.by)), ("held_run", hold.map { .int($0.runID) } ?? .null)])
        }, text: {
            var out = "the next run carries \(entity.noun) \(old) over to \(new)\n"
            if let hold {
                out += "run \(hold.runID) is held on a plan without this pair: `sisyncctl run discard \(hold.runID)`, then `sisyncctl sync`\n"
            }
            return out
        })
        return 0
    }
}
