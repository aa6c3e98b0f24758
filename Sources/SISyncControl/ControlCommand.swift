import Foundation
import SISync
import SISyncLetters

/// `sisyncctl`, the administrator's tool. Lives in a library so tests can run every command
/// in-process, and in its own (SISyncControl), so that sisyncd, which links only the engine,
/// does not load the letters' pango and cairo; the executable only forwards its arguments.
public struct ControlCommand {
    public private(set) var console: Console
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

    /// The width help and tables fit: `$COLUMNS`, else the terminal's, else 80.
    var columns: Int { TerminalWidth.columns(environment: environment, terminalColumns: console.outputColumns) }

    /// Runs the command and returns the exit code.
    public func run(_ argv: [String]) -> Int32 {
        guard argv.prefix(while: { $0 != "--" }).contains("--json") else { return perform(argv) }
        let failures = JSONFailureConsole(console)
        var command = self
        command.console = failures
        let code = command.perform(argv)
        failures.finish(exit: code)
        return code
    }

    private func perform(_ argv: [String]) -> Int32 {
        let request: CommandRequest
        do { request = try CommandLineParser.parse(argv) } catch {
            console.err("\(error)")
            return 64
        }
        switch request {
        case .version:
            console.out("sisyncctl \(SisyncVersion.current)\n")
            return 0
        case .help(let topic, let asked):
            do { console.out(try CommandHelp.text(topic: topic, width: max(columns, 40))) } catch {
                console.err("\(error)")
                return 64
            }
            return asked ? 0 : 64
        case .command(let command, let args, let words):
            return run(command, args, words: words)
        }
    }

    private func run(_ command: any ControlSubcommand.Type, _ args: Arguments, words: [String]) -> Int32 {
        if let text = args.value("wait"), ConfigDuration(parsing: text) == nil {
            console.err("sisyncctl: --wait takes a duration such as 60s, 5m or 1h, got `\(text)`\n")
            return 64
        }
        do { _ = try ListLimit.parse(args.value("limit")) } catch {
            console.err("sisyncctl: \(error)\n")
            return 64
        }
        // Text for people fits the terminal, and long listings go through the pager there.
        return TextTable.$width.withValue(columns) {
            let pager = command.pages && !args.flag("json")
                ? Pager.chosen(environment: environment, outputIsTerminal: console.outputColumns != nil, disabled: args.flag("no-pager")) : nil
            guard let pager else { return execute(command, args, words: words) }
            let output = PagedOutput(terminal: console)
            var paged = self
            paged.console = output
            let code = paged.execute(command, args, words: words)
            pager.show(output.text, otherwise: console)
            return code
        }
    }

    private func execute(_ command: any ControlSubcommand.Type, _ args: Arguments, words: [String]) -> Int32 {
        do {
            // Writes wait for a run in progress (R9, docs/rules.md); `sync`, `user passwd`
            // and `user login` take the lock themselves.
            let runLock = command.storeAccess == .writes ? try takeRunLock(args, command: command.name, wait: waitSeconds(args)) : nil
            return try withExtendedLifetime(runLock) { try command.init(call: CommandCall(control: self, args: args, words: words)).run() }
        } catch {
            // One table for every command and run (ExitCode, docs/architecture.md).
            console.err("sisyncctl: \(error)\n")
            return ExitCode.of(error)
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

    func sayWaiting(for holder: String, wait: Double) {
        console.err("sisyncctl: waiting for \(holder) to finish (up to \(ConfigDuration(seconds: wait)))…\n")
    }

    var actor: String { CommandActor.name(environment: environment) }

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

    /// `--db URL` is held to the rules of `[sync] database` (no password in it, TLS that
    /// verifies).
    static func checkDatabaseOption(_ db: String) throws {
        if PostgresTarget.isURI(db) { try Configuration.checkPostgresURI(db, file: "sisyncctl --db", line: 0) }
    }

    /// The database for read-only commands: `--db` alone is enough.
    func openStore(_ args: Arguments) throws -> RosterStore {
        try RosterStore(configuration: rulesConfiguration(args), mustExist: true)
    }

    func emit(_ args: Arguments, json: () throws -> JSONValue, text: () throws -> String) rethrows {
        if args.flag("json") { console.out(try json().rendered() + "\n") } else { console.out(try text()) }
    }

    /// A history entry of `staff show` and `user show`: when (local time), which run or
    /// by hand, who, and the change.
    static func historyLine(_ h: StoredChange) -> String {
        "\(LocalTime.text(stored: h.at)) \(h.runID.map { "run \($0)" } ?? "by hand") (\(h.actor)): " + RunReport.changeLine(h.change) + "\n"
    }

    static func humanBytes(_ n: Int) -> String {
        if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / 1048576) }
        if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return "\(n) bytes"
    }
}
