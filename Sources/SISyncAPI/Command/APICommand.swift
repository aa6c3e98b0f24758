import Foundation
import SISync
#if canImport(Glibc)
import Glibc
#endif

/// `sisync-api`: reads the configuration, listens (the sockets systemd passes, `--listen`
/// or `[api] listen`), serves `APIHandlerFactory`'s handler until SIGTERM or SIGINT, and
/// tells systemd where it is (READY, STATUS, STOPPING). Exit codes as sisyncd's: 64 usage,
/// 69 cannot listen, 78 configuration, others from opening the store.
package struct APICommand {
    package let console: Console
    package let log: EventLog
    package let environment: [String: String]
    /// Tests shorten the timeouts; the service keeps issue 30's.
    package var limits: HTTPServerLimits

    package init(console: Console, log: EventLog, environment: [String: String] = ProcessInfo.processInfo.environment,
                 limits: HTTPServerLimits = HTTPServerLimits()) {
        self.console = console
        self.log = log
        self.environment = environment
        self.limits = limits
    }

    package static let usage = """
        usage: sisync-api [--config PATH] [--listen ADDRESS]... [--tenants DIR]

          --config PATH     configuration file (default /etc/sisync/sisync.conf): [api], and the
                            store of [sync]
          --listen ADDRESS  listen here instead of [api] listen (repeatable): 127.0.0.1:8420,
                            [::1]:8420 or unix:/run/sisync/api.sock; sockets systemd passes
                            (sisync-api.socket) take precedence over both
          --tenants DIR     serve every tenant of DIR (DIR/NAME.conf) under /t/NAME/…
          --version         print the version
          --help            this text

        Signals: SIGTERM/SIGINT stop (requests in progress get a moment to finish).
        Exit: 0 stopped, 64 usage, 69 cannot listen, 78 configuration error.

        """

    package func run(_ argv: [String]) -> Int32 {
        let args: Arguments
        do {
            args = try Arguments(argv, valued: ["config", "listen", "tenants"], flags: ["help", "version"], repeatable: ["listen"])
        } catch {
            console.err("sisync-api: \(error)\n\(Self.usage)")
            return 64
        }
        if args.flag("help") { console.out(Self.usage); return 0 }
        if args.flag("version") { console.out("sisync-api \(SisyncVersion.current)\n"); return 0 }
        guard args.positional.isEmpty else {
            console.err("sisync-api: unexpected argument `\(args.positional[0])`\n\(Self.usage)")
            return 64
        }
        var commandLine: [APIListenAddress] = []
        for text in args.values("listen") {
            guard let a = APIListenAddress(parsing: text) else {
                console.err("sisync-api: --listen \(text): expected an address such as 127.0.0.1:8420, [::1]:8420 or unix:/run/sisync/api.sock\n")
                return 64
            }
            commandLine.append(a)
        }
        let path = args.value("config") ?? "/etc/sisync/sisync.conf"
        let configuration: Configuration
        let trusted: TrustedProxies
        let tls: TLSCredentials?
        do {
            configuration = try Configuration.load(path: path)
            trusted = try Self.trustedProxies(configuration)
            tls = try Self.tlsCredentials(configuration)
        } catch {
            return refuse("\(error); fix the configuration, then start sisync-api again (exit 78: systemd does not restart it until then)", code: 78, path: path)
        }
        var limits = self.limits
        limits.maxConnections = configuration.api.maxConnections
        limits.maxConnectionsPerClient = configuration.api.maxConnectionsPerClient

        // The sockets: systemd's, else --listen, else [api] listen.
        var sockets: [(socket: ListenSocket, origin: PlainHTTPRule.Origin)] = []
        do {
            let inherited = try ListenSocket.fromSystemd(environment: environment)
            if !inherited.isEmpty {
                sockets = inherited.map { ($0, .systemd) }
            } else {
                let line = Self.line(of: "listen", in: path)
                let chosen = commandLine.isEmpty ? configuration.api.listen.map { ($0, PlainHTTPRule.Origin.configuration(file: path, line: line)) }
                    : commandLine.map { ($0, PlainHTTPRule.Origin.commandLine) }
                for (address, origin) in chosen { sockets.append((try ListenSocket.open(address), origin)) }
            }
        } catch {
            return refuse("sisync-api cannot start: \(error)", code: 69, path: path)
        }
        if let refusal = PlainHTTPRule.refusal(sockets.map { ($0.socket.bound, $0.origin) }, tls: tls != nil,
                                               insecureHTTP: configuration.api.insecureHTTP, configPath: path) {
            return refuse(refusal + " (exit 78)", code: 78, path: path)
        }
        let handler: any HTTPHandler
        let metrics = APIMetrics()
        do { handler = try APIHandlerFactory.make(configuration: configuration, tenants: args.value("tenants"), log: log, metrics: metrics) } catch {
            return refuse("sisync-api cannot start: \(error)", code: SyncRun.classify(error).exitCode, path: path)
        }
        return serve(handler, metrics: metrics, sockets: sockets.map(\.socket), tls: tls, trusted: trusted, limits: limits, configuration: configuration, path: path)
    }

    /// Runs the server under a `ServiceGroup`, which watches SIGTERM/SIGINT before the
    /// server starts (a signal in between stops it, not kills it) and ends the process
    /// within 5 s (more when `stopGrace` asks for it).
    private func serve(_ handler: any HTTPHandler, metrics: APIMetrics, sockets: [ListenSocket], tls: TLSCredentials?, trusted: TrustedProxies,
                       limits: HTTPServerLimits, configuration: Configuration, path: String) -> Int32 {
        let access = AccessLog(configuration.api.accessLog, log: log)
        let addresses = sockets.map { "\($0.bound)" + (tls != nil && !$0.bound.isUnix ? " (TLS)" : "") }.joined(separator: ", ")
        let server = HTTPServer(sockets: sockets, tls: tls, limits: limits, trustedProxies: trusted, handler: handler) { exchange in
            metrics.record(exchange)
            access.record(exchange)
        }
        let metricsPath = APIMetrics.path(beside: configuration.metricsFile)
        let writeMetrics: @Sendable () -> Void = { [log] in
            guard let metricsPath else { return }
            do { try MetricsFile.write(metrics.text(refusedConnections: server.refusedConnections, openConnections: server.openConnections), to: metricsPath) } catch {
                log.log(LogEvent(.apiService, .warning, "sisync-api: \(error)"))
            }
        }
        let notifier = ServiceNotifier(environment: environment, log: log)
        let fields = [("SISYNC_CONFIG", path)]
        let budget = max(5, limits.stopGrace + 1.5)
        // The service gives up on its requests a little before the group gives up on it, so
        // that it still writes the metrics.
        let http = HTTPService(server: server, handler: handler, addresses: addresses, log: log, notifier: notifier, fields: fields,
                               stopWait: budget - 0.75, writeMetrics: writeMetrics)
        return ServiceGroup(process: "sisync-api", services: [http], log: log, notifier: notifier, event: .apiService, fields: fields, stopBudget: budget).run()
    }

    /// Logged as critical (the journal under systemd, else stderr) and returned as the exit code.
    private func refuse(_ message: String, code: Int32, path: String) -> Int32 {
        log.log(LogEvent(code == 78 ? .configRejected : .apiService, .critical, message, fields: [("SISYNC_CONFIG", path)]))
        return code
    }

    static func trustedProxies(_ c: Configuration) throws(ConfigError) -> TrustedProxies {
        do { return try TrustedProxies(parsing: c.api.trustedProxies) } catch {
            throw .badValue(file: c.path, line: line(of: "trusted_proxies", in: c.path), section: "api", key: "trusted_proxies",
                            value: error.entry, expected: "IP addresses or CIDR blocks such as 10.0.0.5, 10.0.0.0/8 or fd00::/8")
        }
    }

    static func tlsCredentials(_ c: Configuration) throws -> TLSCredentials? {
        switch (c.api.tlsCertificate, c.api.tlsKey) {
        case (nil, nil): return nil
        case (let cert?, let key?): return try TLSCredentials.read(certificate: cert, key: key)
        case (nil, _): throw ConfigError.missingKey(file: c.path, section: "api", key: "tls_certificate (tls_key is set; give both or neither)")
        case (_, nil): throw ConfigError.missingKey(file: c.path, section: "api", key: "tls_key (tls_certificate is set; give both or neither)")
        }
    }

    /// The line of an `[api]` key in the file (0 when it is not written there: a default).
    static func line(of key: String, in path: String) -> Int {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let doc = try? INIDocument(path: path, text: text) else { return 0 }
        return doc.entries.first { $0.section == "api" && $0.key == key }?.line ?? 0
    }
}
