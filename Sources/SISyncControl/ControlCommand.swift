import Foundation
import SISync
import SISyncLetters

/// `sisyncctl`, the administrator's tool. Lives in a library so tests can run every command
/// in-process, and in its own (SISyncControl), so that sisyncd, which links only the engine,
/// does not load the letters' pango and cairo; the executable only forwards its arguments.
public struct ControlCommand {
    public let console: Console
    public let environment: [String: String]
    public let log: EventLog
    /// `sisyncctl sync` stops its run on SIGTERM/SIGINT (rolled back, its private directory
    /// removed) instead of dying half-way; the executable sets this, in-process tests do not.
    public var stopsOnSignals = false

    public init(console: Console, environment: [String: String], log: EventLog) {
        self.console = console
        self.environment = environment
        self.log = log
    }

    static let usage = """
        usage: sisyncctl [--config PATH | --db PATH|URL | --tenant NAME [--tenants DIR]] [--json] COMMAND ...
               sisyncctl --tenants DIR status      every tenant, who serves it, its last run

        commands:
          sync [--dry-run] [--allow-mass-deactivation] [--force]
                                    run one sync now, in this process
          status                    the last run, the next scheduled run, the database size
          runs [--limit N]          recent runs, newest first
          run revert ID             undo the latest run that changed anything, as a new run
          run show ID               one run and its changes (a held run: what it would change)
          run approve ID            apply exactly the plan of a run the guard held, as a new run
          run discard ID            drop a held run's plan
          staff list [--inactive | --all] [--search TEXT]
                                    staff records (active ones by default)
          staff show ID             one staff record, its linked users and its history
          user add --username U --email E [--name N] [--approved]
          user list | user show U | user approve U | user unapprove U | user unlock U
          user remove U             remove a login account (staff records are never removed)
          user link U STAFF_ID --reason TEXT [--until YYYY-MM-DD]
                                    a manual link that sync never changes (R6)
          user unlink U
          user attach U --student ID | --household ID | --donor ID   (and user detach ...)
          user role add|remove U ROLE
                                    manual roles; calculated roles (R7) come from the data
          user school add|remove U SCHOOL, user ledger add|remove U LEDGER
          access enable|reset|pair|list|revoke|instructions|letters|export
                                    parent-portal access codes (see access --help)
          user passwd U | user login U
                                    set or check a password (at a terminal asked for
                                    without echo, twice for passwd; else one line of stdin)
          form add|list|delete|undelete, role create|rename|set|show|list|merge|delete|undelete
          user assign U ROLE [--buildings B,...] | user unassign U ROLE
          access-check U FORM (--building B | --student S) [--grant LEVEL]
                                    form permissions (see form --help, role --help)
          audit                     what needs an administrator: ambiguous emails, cross-links,
                                    users linked to inactive staff, ledgers and schools
          explain U                 why a user has each link and role, and why not the others
          store copy --to URL [--schema NAME]
                                    copy this SQLite database whole into an empty PostgreSQL
                                    schema (then point [sync] database at it)
          user import FILE.csv      add or update users (username, email, approved,
                                    student_id, household_id, donor_id; lists with ;)

        options:
          --config PATH   configuration file (default /etc/sisync/sisync.conf)
          --db PATH|URL   database file or postgresql:// URI (instead of the configured one)
          --tenant NAME   the tenant NAME of `sisyncd --tenants`: its DIR/NAME.conf
          --tenants DIR   where the tenants are (default /etc/sisync/tenants.d)
          --json          one JSON document on stdout
          --wait DURATION how long a write waits for a run in progress (default 60s;
                          then exit 75); reads never wait
          --help          this text; `sisyncctl COMMAND --help` for one command

        """

    static let commandHelp: [String: String] = [
        "sync": "usage: sisyncctl sync [--dry-run] [--allow-mass-deactivation] [--force]\n  Runs one sync cycle now. --dry-run fetches and plans but writes nothing; --allow-mass-deactivation lets one run past the guard (R5); --force re-plans an export that did not change.\n  Exit: 0 applied or unchanged, 65 bad data or blocked, 69 source unavailable, 75 a run in progress did not finish within --wait (default 60s), 78 configuration error.\n  Works while sisyncd runs: it waits for the daemon's run in progress, then runs.\n",
        "status": "usage: sisyncctl status\n  Shows the last run, when the next scheduled run is due, and the database size.\n",
        "runs": "usage: sisyncctl runs [--limit N]\n  Lists recent runs, newest first (default 20).\n",
        "run": "usage: sisyncctl run show ID\n       sisyncctl run revert ID\n       sisyncctl run approve ID\n       sisyncctl run discard ID\n  `show` lists one run and every change it made; for a run the guard held (R5), every change its kept plan would make. `approve` applies exactly that plan as a new run (`approves`: ID); it is refused once another run applied, an administrator changed users since, or the hold expired ([guard] held_plan_days, default 7): then run `sisyncctl sync` again. `discard` drops the hold. A hold also ends when a later run applies; while it stands, a cycle on the same export exits 65 without a second hold. `revert` undoes the latest run that changed anything, as a new run: changed fields get their old values, deactivated records come back, records it added become inactive, links are restored and roles recomputed. Older runs are refused. The next sync compares the restored records with the export again: revert is for undoing a mistaken override (e.g. --allow-mass-deactivation); if the export itself is wrong, fix it at the source first.\n",
        "user": "usage: sisyncctl user add --username U --email E [--name N] [--approved]\n       sisyncctl user list | show U | approve U | unapprove U | unlock U | remove U\n       sisyncctl user link U STAFF_ID --reason TEXT [--until YYYY-MM-DD] | unlink U\n       sisyncctl user attach|detach U --student ID | --household ID | --donor ID\n       sisyncctl user role add|remove U ROLE\n       sisyncctl user school add|remove U SCHOOL | ledger add|remove U LEDGER\n       sisyncctl user import FILE.csv\n  Login accounts. Usernames and emails are unique regardless of case. Users without a manual link are linked to the one active staff member with their email on every run (R6); a manual link is an administrator's decision, with a reason, and sync never changes it (one with --until ends after that day). `user import` reads columns username, email (required), approved, student_id, household_id, donor_id (lists with ;); the whole file is checked before anything is written; existing users are updated and listed attachments added, no user is removed.\n",
        "access": "usage: sisyncctl access enable STUDENT | enable --all [--school ID] | reset STUDENT\n       sisyncctl access pair --user U --code CODE | list STUDENT\n       sisyncctl access revoke --user U --student S [--student S2 ...]\n       sisyncctl access instructions STUDENT [--pdf FILE] | export\n       sisyncctl access letters [--school ID] [--grade G] [--without-pairing] --pdf FILE [--force]\n  Parent-portal access codes: one per student (8 characters such as 7KQ4-M9TX, from the system's random source). `pair` pairs an approved user with the code's active student and grants Parent at once (R7); a code of an inactive student is answered and counted as a wrong code; five failed attempts by a user within 15 minutes refuse further attempts for 15 minutes. `reset` makes a new code (existing pairings stay); `revoke` ends pairings and resets those students' codes. `instructions` prints a family's letter ([portal] settings and letter_template), or writes it as a one-page PDF; `letters` writes one page per student enrolled this school year, sorted by school, grade and name, creating codes for students who have none. PDFs are created mode 0600 and never replace a file without --force. `export` writes CSV for a mail merge; a cell starting with =, +, -, @, tab or CR gets a leading ' so that spreadsheets show it as text. Codes are never logged.\n",
        "form": "usage: sisyncctl form add NAME [--group G] | list [--group G] [--include-deleted] | delete NAME | undelete NAME\n  Document types (IEP, 504 plan, evaluation ...) that permission roles set levels for.\n",
        "role": "usage: sisyncctl role create NAME | rename OLD NEW | show ROLE | list [--deleted] | delete ROLE | undelete ROLE\n       sisyncctl role set ROLE FORM --default LEVEL --max LEVEL\n       sisyncctl role set ROLE --group G --default LEVEL --max LEVEL\n       sisyncctl role merge ROLE... --into NAME\n  Form permission roles; levels none < view < edit < owner. A role gives its default and max for students in the buildings it is assigned for (user assign U ROLE --buildings B,...); a role assigned without buildings gives none/owner for all forms; several roles combine to the highest. Merge keeps per form the highest default and max, gives users the new role with the union of their buildings, and deletes the merged roles (undelete gives one back to its former users).\n",
        "access-check": "usage: sisyncctl access-check U FORM (--building B | --student S) [--grant LEVEL]\n  The user's effective default and max for the form in that building, the level an explicit grant on a document gives (capped at max), and whether they can create the form (max owner). A user with no role at all has none/owner everywhere.\n",
        "audit": "usage: sisyncctl audit\n  Lists what needs an administrator: emails shared by several active staff (nobody with them can be linked), manual links whose emails differ (entries appear under the staff member's name), users linked to inactive staff, users with ledgers but no Finance role, users with schools but no active staff link.\n",
        "explain": "usage: sisyncctl explain U\n  Why the user has their link and each role, and why not the roles they lack, from the data as it is now (R6, R7).\n",
        "staff": "usage: sisyncctl staff list [--inactive | --all] [--search TEXT]\n       sisyncctl staff show ID\n  Lists staff records, or shows one with its linked users and history.\n",
    ]

    /// Runs the command and returns the exit code.
    public func run(_ argv: [String]) -> Int32 {
        let args: Arguments
        do {
            args = try Arguments(argv, valued: ["config", "db", "limit", "search", "username", "email", "name", "reason", "until",
                                                "student", "household", "donor", "user", "code", "school",
                                                "group", "default", "max", "into", "buildings", "users", "building", "grant", "wait", "to", "schema",
                                                "tenant", "tenants", "pdf", "grade"],
                                 flags: ["json", "help", "dry-run", "allow-mass-deactivation", "force", "inactive", "all", "approved",
                                         "include-deleted", "deleted", "without-pairing"],
                                 repeatable: ["student"])
        } catch {
            console.err("sisyncctl: \(error)\n\(Self.usage)")
            return 64
        }
        let words = args.positional
        if args.flag("help") || words.isEmpty || words.first == "help" {
            if let first = words.first, let help = Self.commandHelp[first] { console.out(help) } else { console.out(Self.usage) }
            return words.isEmpty && !args.flag("help") ? 64 : 0
        }
        if let text = args.value("wait"), ConfigDuration(parsing: text) == nil {
            console.err("sisyncctl: --wait takes a duration such as 60s, 5m or 1h, got `\(text)`\n")
            return 64
        }
        let wait = waitSeconds(args)
        do {
            // Writes wait for a run in progress (R9, docs/rules.md); `sync` waits inside the run.
            let runLock = Self.writes(words) ? try takeRunLock(args, command: words.prefix(2).joined(separator: " "), wait: wait) : nil
            return try withExtendedLifetime(runLock) { try dispatch(args, words, wait: wait) }
        } catch {
            console.err("sisyncctl: \(error)\n")
            return ExitCode.of(error)
        }
    }

    /// The commands that write to the database, and so take the run lock first. `sync`
    /// takes it itself (a dry run takes none).
    static func writes(_ words: [String]) -> Bool {
        let sub = words.count > 1 ? words[1] : ""
        switch words.first ?? "" {
        case "run": return ["revert", "approve", "discard"].contains(sub)
        // passwd and login read standard input first, and take the lock after it.
        case "user": return !["list", "show", "passwd", "login", ""].contains(sub)
        case "access": return !["list", "instructions", ""].contains(sub)
        case "form": return !["list", ""].contains(sub)
        case "role": return !["list", "show", ""].contains(sub)
        case "store": return sub == "copy"
        default: return false
        }
    }

    /// Waits for a run in progress (the daemon's, another administrator's), saying whom it
    /// waits for, and holds the run lock while this command writes.
    func takeRunLock(_ args: Arguments, command: String, wait: Double) throws -> RunLock? {
        let location = try rulesConfiguration(args).store
        var waited = false
        let lock = try RunLock.acquire(location: location, holder: "sisyncctl \(command) pid \(getpid()) by \(actor)", wait: wait, waiting: { holder in
            sayWaiting(for: holder, wait: wait)
            waited = true
        })
        if waited { console.err("sisyncctl: the run finished; going ahead\n") }
        return lock
    }

    /// `--wait` as seconds (checked before any command runs).
    func waitSeconds(_ args: Arguments) -> Double {
        args.value("wait").flatMap(ConfigDuration.init(parsing:))?.seconds ?? RunLock.defaultWait
    }

    private func sayWaiting(for holder: String, wait: Double) {
        console.err("sisyncctl: waiting for \(holder) to finish (up to \(ConfigDuration(seconds: wait)))…\n")
    }

    private func dispatch(_ args: Arguments, _ words: [String], wait: Double) throws -> Int32 {
        do {
            switch (words[0], words.count) {
            case ("sync", 1): return try sync(args, wait: wait)
            case ("status", 1) where args.value("tenants") != nil && args.value("tenant") == nil: return try tenantsStatus(args)
            case ("status", 1): return try status(args)
            case ("runs", 1): return try runs(args)
            case ("run", 3) where words[1] == "show": return try runShow(args, id: words[2])
            case ("run", 3) where words[1] == "revert": return try runRevert(args, id: words[2])
            case ("run", 3) where words[1] == "approve": return try runApprove(args, id: words[2])
            case ("run", 3) where words[1] == "discard": return try runDiscard(args, id: words[2])
            case ("staff", 2) where words[1] == "list": return try staffList(args)
            case ("staff", 3) where words[1] == "show": return try staffShow(args, id: words[2])
            case ("user", _): return try userCommand(args, Array(words.dropFirst()))
            case ("audit", 1): return try audit(args)
            case ("explain", 2): return try explain(args, username: words[1])
            case ("access", _): return try accessCommand(args, Array(words.dropFirst()))
            case ("form", _): return try formCommand(args, Array(words.dropFirst()))
            case ("role", _): return try permissionRoleCommand(args, Array(words.dropFirst()))
            case ("access-check", 3): return try accessCheck(args, username: words[1], form: words[2])
            case ("store", 2) where words[1] == "copy": return try storeCopy(args)
            default:
                console.err("sisyncctl: unknown command `\(words.joined(separator: " "))`\n\(Self.usage)")
                return 64
            }
        }
    }

    var actor: String { environment["SUDO_USER"] ?? environment["USER"] ?? "unknown" }

    /// The configuration for commands that need its rules (school year, aliases) but may be
    /// given only `--db`: then the defaults apply.
    func rulesConfiguration(_ args: Arguments) throws -> Configuration {
        if args.value("config") == nil && args.value("tenant") == nil && environment["SISYNC_CONFIG"] == nil, let db = args.value("db") {
            var c = Configuration()
            try Self.checkDatabaseOption(db)
            c.database = db
            return c
        }
        return try configuration(args)
    }

    func configuration(_ args: Arguments) throws -> Configuration {
        let path = try tenantConfigPath(args) ?? args.value("config") ?? environment["SISYNC_CONFIG"] ?? "/etc/sisync/sisync.conf"
        var c = try Configuration.load(path: path)
        if let db = args.value("db") { try Self.checkDatabaseOption(db); c.database = db }
        return c
    }

    /// `--tenant NAME`: the tenant's own configuration file in `--tenants DIR` (default
    /// `/etc/sisync/tenants.d`), the one `sisyncd --tenants` reads.
    func tenantConfigPath(_ args: Arguments) throws -> String? {
        guard let name = args.value("tenant") else { return nil }
        guard args.value("config") == nil else {
            throw ConfigError.unreadable(path: "sisyncctl --tenant", reason: "--tenant names a tenant's configuration; leave out --config")
        }
        guard TenantDirectory.isValidName(name) else {
            throw ConfigError.unreadable(path: "sisyncctl --tenant \(name)", reason: "a tenant's name is its file's name without .conf: letters, digits, - and _")
        }
        let file = TenantDirectory(path: args.value("tenants") ?? TenantDirectory.defaultPath).file(of: name)
        guard FileManager.default.fileExists(atPath: file) else { throw ConfigError.missingFile(path: file) }
        return file
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
                    let claim = try DaemonLock.tenant(location: c.store, sessions: sessions)
                    if case .postgres = c.store {
                        let found = claim.holder().holder
                        if found != "unknown" { holder = found }
                    } else if try !claim.tryTakeOver() {
                        holder = claim.holder().holder
                    } else {
                        claim.release()   // a lock file tells only by being tried
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
            var t = TextTable(["tenant", "served by", "last run", "database"])
            for r in rows {
                let last = r.last.map { "\($0.runID.map(String.init) ?? "-") \($0.outcome.rawValue) \($0.startedAt)" } ?? "none yet"
                t.add([r.name, r.problem == nil ? r.holder : "-", r.problem ?? last, r.database])
            }
            return "\(rows.count) tenants in \(directory)\n" + t.rendered()
        })
        return 0
    }

    /// `--db URL` is held to the rules of `[sync] database` (no password in it, TLS that
    /// verifies).
    static func checkDatabaseOption(_ db: String) throws {
        if PostgresTarget.isURI(db) { try Configuration.checkPostgresURI(db, file: "sisyncctl --db", line: 0) }
    }

    /// The database for read-only commands: `--db` alone is enough.
    func openStore(_ args: Arguments) throws -> RosterStore {
        try RosterStore(location: rulesConfiguration(args).store, mustExist: true)
    }

    func emit(_ args: Arguments, json: () throws -> JSONValue, text: () throws -> String) rethrows {
        if args.flag("json") { console.out(try json().rendered() + "\n") } else { console.out(try text()) }
    }

    private func sync(_ args: Arguments, wait: Double) throws -> Int32 {
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
        if stopsOnSignals {
            let s = StopSignal()
            signals = SignalWatcher()
            signals?.onStop { s.stop() }
            stop = s
        }
        let result = withExtendedLifetime(signals) {
            SyncRun(configuration: c, options: options, log: log, stop: stop).performWithStore(waiting: { sayWaiting(for: $0, wait: wait) })
        }
        emit(args, json: { RunReport.json(result.summary, plan: result.plan) },
             text: { RunReport.text(result.summary, plan: result.plan, showPlan: options.dryRun) })
        return result.summary.exitCode
    }

    private func status(_ args: Arguments) throws -> Int32 {
        let store = try openStore(args)
        let last = try store.auditTrail.lastRun()
        let interval = (try? configuration(args).interval.seconds) ?? 900
        var next: String?
        if let last, let started = Timestamp.parse(last.startedAt) {
            next = Timestamp.format(started.addingTimeInterval(interval))
        }
        let bytes = (try? store.database.sizeInBytes()) ?? 0
        let counts = try store.mirror.recordCounts()
        let held = (try? configuration(args))?.deactivationsHeld(on: Date())
        let hold = try store.auditTrail.standingHold(at: Date())
        emit(args, json: {
            .object([
                ("last_run", last.map(JSONShapes.runSummary) ?? .null),
                ("next_run_at", .string(next)),
                ("deactivations_held_until", .string(held)),
                ("held_run", hold.map { .int($0.runID) } ?? .null),
                ("database", .object([("path", .string(store.path)), ("bytes", .int(Int64(bytes)))])),
                ("records", .object(counts.map { ($0.0.rawValue, .object([("active", .int($0.active)), ("total", .int($0.total))])) })),
            ])
        }, text: {
            var out = ""
            if let last { out += "last run: " + RunReport.text(last, plan: nil, showPlan: false) } else { out += "last run: none yet\n" }
            out += "next run: \(next ?? "at the daemon's next start") (approximately; interval \(ConfigDuration(seconds: interval)))\n"
            if let hold {
                out += "held run: \(hold.runID), blocked by the guard and waiting for review until \(hold.expiresAt): `sisyncctl run show \(hold.runID)`, then `sisyncctl run approve \(hold.runID)` or `sisyncctl run discard \(hold.runID)`\n"
            }
            if let held { out += "deactivations: on hold until \(held) ([sync] hold_deactivations): absent records are marked missing, not deactivated\n" }
            out += "database: \(store.path), \(Self.humanBytes(bytes))\n"
            var t = TextTable(["entity", "active", "total"])
            for (k, a, n) in counts { t.add([k.rawValue, String(a), String(n)]) }
            return out + t.rendered()
        })
        return 0
    }

    /// `run revert ID`: undoes the latest run that changed anything, as a new run.
    private func runRevert(_ args: Arguments, id text: String) throws -> Int32 {
        guard let id = Int64(text) else { console.err("sisyncctl: run revert takes a run id, got `\(text)`\n"); return 64 }
        let c = try configuration(args)
        let store = try RosterStore(location: c.store, mustExist: true)
        let summary = try store.revert(run: id, actor: actor, roles: c.roleSettings(on: Date()), now: Date())
        SyncRun.writeMetrics(summary, store: store, configuration: c, log: log)
        log.log(LogEvent(.runFinished, .notice, "run \(summary.runID ?? 0) by \(actor) reverted run \(id)",
                         fields: [("SISYNC_RUN_ID", String(summary.runID ?? 0))]))
        emit(args, json: { RunReport.json(summary, plan: nil) }, text: { "reverted run \(id): " + RunReport.text(summary, plan: nil, showPlan: false) })
        return 0
    }

    /// `run approve ID`: applies a held run's kept plan as a new run (the run lock is held).
    private func runApprove(_ args: Arguments, id text: String) throws -> Int32 {
        guard let id = Int64(text) else { console.err("sisyncctl: run approve takes a run id, got `\(text)`\n"); return 64 }
        let c = try configuration(args)
        let store = try RosterStore(location: c.store, mustExist: true)
        var options = SyncRun.Options()
        options.actor = actor
        options.trigger = .approve
        let result: SyncRun.Result
        do { result = try SyncRun(configuration: c, options: options, log: log).approve(run: id, store: store) } catch let e as HoldError {
            console.err("sisyncctl: \(e)\n")
            return 1
        }
        emit(args, json: { RunReport.json(result.summary, plan: nil) },
             text: { "approved held run \(id): " + RunReport.text(result.summary, plan: nil, showPlan: false) })
        return result.summary.exitCode
    }

    /// `run discard ID`: drops a held run's plan; nothing is applied.
    private func runDiscard(_ args: Arguments, id text: String) throws -> Int32 {
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

    private func runs(_ args: Arguments) throws -> Int32 {
        var limit = 20
        if let l = args.value("limit") {
            guard let n = Int(l), n > 0 else { console.err("sisyncctl: --limit takes a positive number\n"); return 64 }
            limit = n
        }
        let list = try openStore(args).auditTrail.runs(limit: limit)
        emit(args, json: { .array(list.map(JSONShapes.runSummary)) }, text: {
            var t = TextTable(["run", "started", "outcome", "by", "staff +/~/-/↺", "records", "error"])
            for r in list {
                let total = r.entities.values.reduce(0) { $0 + $1.total }
                t.add([String(r.runID ?? 0), r.startedAt, r.outcome.rawValue, r.actor,
                       "\(r.staff.added)/\(r.staff.updated)/\(r.staff.deactivated)/\(r.staff.reactivated)", String(total),
                       r.error.map { String($0.prefix(60)) } ?? ""])
            }
            return list.isEmpty ? "no runs yet\n" : t.rendered()
        })
        return 0
    }

    private func runShow(_ args: Arguments, id: String) throws -> Int32 {
        guard let n = Int64(id) else { console.err("sisyncctl: run id must be a number, got `\(id)`\n"); return 64 }
        let store = try openStore(args)
        guard let run = try store.auditTrail.run(id: n) else { throw StoreError.notFound(what: "run \(n)") }
        var changes = try store.auditTrail.changes(runID: n)
        var planned = false
        if run.hold != nil, changes.isEmpty, let kept = try store.auditTrail.heldPlan(run: n) {
            // Nothing of a held run was applied: its changes are those of the kept plan.
            planned = true
            try kept.plan().forEachChange { changes.append(StoredChange(runID: n, at: run.startedAt, actor: run.actor, change: $0)) }
        }
        emit(args, json: {
            guard case .object(var m) = JSONShapes.runSummary(run) else { return .null }
            m.append(("changes", .array(changes.map { JSONShapes.change($0.change, actor: $0.actor) })))
            return .object(m)
        }, text: {
            var out = RunReport.text(run, plan: nil, showPlan: false)
            out += "  by \(run.actor) (\(run.trigger)), \(run.startedAt) → \(run.finishedAt ?? "-")\n"
            out += planned ? "  changes the held plan would make (\(changes.count)):\n" : "  changes (\(changes.count)):\n"
            for c in changes { out += "    " + RunReport.changeLine(c.change) + "\n" }
            return out
        })
        return 0
    }

    private func staffList(_ args: Arguments) throws -> Int32 {
        if args.flag("inactive") && args.flag("all") { console.err("sisyncctl: use either --inactive or --all\n"); return 64 }
        let filter: StaffFilter = args.flag("all") ? .all : args.flag("inactive") ? .inactive : .active
        let list = try openStore(args).mirror.staff(filter: filter, search: args.value("search"))
        emit(args, json: { .array(list.map { .object(JSONShapes.staff($0)) }) }, text: {
            var t = TextTable(["staff_id", "name", "email", "title", "schools", "state"])
            for s in list {
                var state = s.active ? (s.missingSince.map { "missing since \($0)" } ?? "active") : "inactive since \(s.deactivatedAt ?? "?")"
                if !s.enabled { state += ", account disabled in the SIS" }
                t.add([s.staffID, "\(s.firstName) \(s.lastName)", s.email, s.title, s.schoolIDs.joined(separator: ";"), state])
            }
            return t.rendered() + "\(list.count) staff\n"
        })
        return 0
    }

    private func staffShow(_ args: Arguments, id: String) throws -> Int32 {
        let store = try openStore(args)
        guard let s = try store.mirror.staffMember(id: id) else { throw StoreError.notFound(what: "staff member \(id)") }
        let users = try store.accounts.linkedUsers(staffID: id)
        let history = try store.auditTrail.history(entity: .staff, id: id)
        emit(args, json: {
            .object(JSONShapes.staff(s) + [("users", .array(users.map { .string($0) })), ("history", .array(history.map(JSONShapes.storedChange)))])
        }, text: {
            var out = "\(s.staffID)  \(s.firstName) \(s.lastName)\(s.active ? "" : "  (INACTIVE since \(s.deactivatedAt ?? "?"))")\n"
            out += "  email:   \(s.email)\n  title:   \(s.title)\n  schools: \(s.schoolIDs.joined(separator: ", "))\n"
            if let m = s.missingSince { out += "  missing from the export since \(m)\n" }
            if !s.enabled { out += "  account disabled in the SIS (enabledUser = false); the record stays active\n" }
            out += "  linked users: \(users.isEmpty ? "none" : users.joined(separator: ", "))\n  history:\n"
            for h in history { out += "    \(h.at) \(h.runID.map { "run \($0)" } ?? "by hand") (\(h.actor)): " + RunReport.changeLine(h.change) + "\n" }
            return out
        })
        return 0
    }

    static func humanBytes(_ n: Int) -> String {
        if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / 1048576) }
        if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return "\(n) bytes"
    }
}
