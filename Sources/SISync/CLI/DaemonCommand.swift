import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `sisyncd`: parses its arguments, then runs once (`SingleRun`) or starts its services
/// under a `ServiceGroup`: the sync loop (`SyncService`) and the webhook delivery
/// (`WebhookService`), or the tenants' supervisor (`TenantSupervisor`, which delivers each
/// tenant's webhooks itself). The schedule, the signals and the stop are theirs (`Service/`).
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
            let supervisor = TenantSupervisor(options: options, log: log, notifier: notifier)
            return ServiceGroup(process: "sisyncd", services: [supervisor], log: log, notifier: notifier).run()
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
        if args.flag("once") || args.flag("dry-run") {
            var options = SyncRun.Options()
            options.allowMassDeactivation = args.flag("allow-mass-deactivation")
            options.dryRun = args.flag("dry-run")
            return SingleRun(configuration: configuration, options: options, log: log, console: console).run()
        }
        let notifier = ServiceNotifier(log: log)
        let sync = SyncService(configuration: configuration, configPath: path, log: log, notifier: notifier)
        // Always there: it idles without [webhook.NAME] (a reload may add one) and on a standby.
        let webhooks = WebhookService(configuration: configuration, configPath: path, log: log)
        sync.onActiveChange = { [webhooks] in webhooks.setActive($0) }
        return ServiceGroup(process: "sisyncd", services: [sync, webhooks], log: log, notifier: notifier).run()
    }
}
