import Foundation
import XCTest

/// A throw-away PostgreSQL server for the tests: `initdb` into a temporary directory, on
/// 127.0.0.1 and a free port, run as the `postgres` user when the tests run as root
/// (PostgreSQL refuses to run as root). Password logins over TCP (scram-sha-256), so
/// the tests see real authentication. One server per test process, stopped at exit.
final class TestPostgresServer: @unchecked Sendable {
    static let user = "sisync"
    static let password = "test-password-8c1f"

    let directory: String
    let port: Int
    private let binaries: String
    private let asPostgres: Bool

    /// The shared server, started on first use. Fails the test (never skips it: CI must run
    /// the PostgreSQL tests) when it cannot start.
    static func shared() throws -> TestPostgresServer {
        try lock.withLock {
            if let s = started { return s }
            let s = try TestPostgresServer()
            started = s
            atexit { TestPostgresServer.started?.stop() }
            return s
        }
    }
    nonisolated(unsafe) private static var started: TestPostgresServer?
    private static let lock = NSLock()

    /// A server of the test's own, to stop and start (the shared one serves other tests).
    static func privateServer() throws -> TestPostgresServer { try TestPostgresServer() }

    private init() throws {
        guard let bin = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last.map({ "/usr/lib/postgresql/\($0)/bin" }),
              FileManager.default.isExecutableFile(atPath: bin + "/initdb") else {
            throw TestPostgresError("PostgreSQL server binaries are not installed (make deps installs the postgresql package)")
        }
        binaries = bin
        asPostgres = getuid() == 0
        var template = Array((NSTemporaryDirectory() + "sisync-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TestPostgresError("mkdtemp failed") }
        directory = String(cString: made)
        port = try Self.freePort()
        if asPostgres { try Self.run("/bin/chown", ["postgres", directory]) }
        let pwfile = directory + "/pw"
        try Self.password.write(toFile: pwfile, atomically: true, encoding: .utf8)
        if asPostgres { try Self.run("/bin/chown", ["postgres", pwfile]) }
        try command("initdb", ["-D", directory + "/data", "-U", Self.user, "--pwfile", pwfile, "-E", "UTF8", "--locale=C.UTF-8",
                               "--auth-local=trust", "--auth-host=scram-sha-256"])
        try start()
    }

    func start() throws {
        try command("pg_ctl", ["-D", directory + "/data", "-l", directory + "/log", "-w", "-t", "60", "-o",
                               "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60", "start"])
    }

    /// Stops the server at once (`-m immediate`), keeping its data for `start`.
    func halt() throws {
        try command("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
    }

    /// A URI for `database` (created on first use), without the password.
    func uri(database: String = "postgres", parameters: String = "") -> String {
        "postgresql://\(Self.user)@127.0.0.1:\(port)/\(database)\(parameters.isEmpty ? "" : "?" + parameters)"
    }

    func stop() {
        try? command("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func command(_ name: String, _ args: [String]) throws {
        if asPostgres {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", binaries + "/" + name] + args)
        } else {
            try Self.run(binaries + "/" + name, args)
        }
    }

    /// Spawned with posix_spawn and reaped with waitpid. Foundation's `Process` notices an
    /// exit through a descriptor the child inherits, and the server that `pg_ctl start`
    /// leaves running inherits it too, so `Process` would wait forever. Output goes to a file.
    private static func run(_ path: String, _ args: [String]) throws {
        let outPath = NSTemporaryDirectory() + "sisync-pg-cmd-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw TestPostgresError("cannot start \(path): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(120)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline { kill(pid, SIGKILL); _ = waitpid(pid, &status, 0); throw TestPostgresError("\(path) did not finish within 120 s") }
            usleep(20_000)
        }
        let exited = (status & 0x7F) == 0, code = (status >> 8) & 0xFF
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            throw TestPostgresError("\(path) \(args.joined(separator: " ")) failed (status \(status)): \(text)")
        }
    }

    /// A port nobody listens on: bind port 0 on 127.0.0.1 and read it back.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw TestPostgresError("cannot find a free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

struct TestPostgresError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
