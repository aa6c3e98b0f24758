import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI
#if canImport(Glibc)
import Glibc
#endif

/// The `sisync-api` executable as systemd or an administrator runs it (issue 30): socket
/// activation, `--listen`, the plain-HTTP rule, sd_notify, the access log, the metrics file
/// and a stop within 5 seconds.
final class APIProcessTests: XCTestCase {
    private var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "sisync-api-" + UUID().uuidString.prefix(8)
        try! FileManager.default.createDirectory(atPath: dir + "/export", withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A configuration with the store in the test's folder and these `[api]` lines.
    @discardableResult
    private func configure(_ api: String) -> String {
        let path = dir + "/sisync.conf"
        try! "[sync]\ndatabase = \(dir)/sisync.db\nmetrics_file = \(dir)/sisync.prom\n[source]\nurl = \(dir)/export/\n[api]\n\(api)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func freePort() throws -> Int {
        let s = try ListenSocket.openTCP(host: "127.0.0.1", port: 0)
        guard case .ip(_, let port) = s.bound else { return 0 }
        return port
    }

    func testSocketActivationServesThePassedSocketNotifiesSystemdAndStopsWithinFiveSeconds() throws {
        let config = configure("access_log = all")
        let socket = try ListenSocket.openTCP(host: "127.0.0.1", port: 0)
        guard case .ip(_, let port) = socket.bound else { return XCTFail() }
        let notify = try NotifySocket(path: dir + "/notify")
        let api = try SpawnedAPI(["--config", config], passing: socket.fd, environment: ["NOTIFY_SOCKET": notify.path])
        XCTAssertTrue(notify.waitFor("READY=1"), "READY=1 once it serves: \(api.seen)")
        XCTAssertTrue(api.waitFor("listening on 127.0.0.1:\(port)"), api.seen)
        let r = try RawHTTPConnection.exchange(port: port, "GET /v1/nothing/jdoe?code=SECRET1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(r.status, 404, "no such route: the API's problem document")
        XCTAssertTrue(r.head.contains("application/problem+json"), r.head)
        XCTAssertTrue(api.waitFor("GET /v1/nothing/jdoe 404"), "access_log = all: \(api.seen)")
        XCTAssertFalse(api.seen.contains("SECRET1"), "never the query string")
        // A connection kept open does not hold the stop.
        let idle = try RawHTTPConnection(port: port)
        let started = Date()
        kill(api.pid, SIGTERM)
        XCTAssertTrue(api.waitForExit(timeout: 10))
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "SIGTERM stops within 5 s")
        XCTAssertEqual(api.status, 0)
        XCTAssertTrue(notify.waitFor("STOPPING=1"))
        XCTAssertTrue(idle.closes(within: 2))
        let metrics = try String(contentsOfFile: dir + "/sisync-api.prom", encoding: .utf8)
        XCTAssertTrue(metrics.contains("sisync_api_requests_total{route=\"unmatched\",status=\"404\"} 1"), metrics)
    }

    func testListenAddressesFromTheCommandLineReplaceTheConfiguration() throws {
        let port = try freePort()
        let config = configure("listen = 127.0.0.1:1\naccess_log = errors")
        let api = try SpawnedAPI(["--config", config, "--listen", "127.0.0.1:\(port)", "--listen", "unix:\(dir)/api.sock"])
        XCTAssertTrue(api.waitFor("started"), api.seen)
        XCTAssertEqual(try RawHTTPConnection.exchange(port: port, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 404)
        XCTAssertEqual(try RawHTTPConnection.exchange(unixPath: dir + "/api.sock", "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 404)
        XCTAssertTrue(api.waitFor("GET /b 404 in"), "errors: a 404 is logged: \(api.seen)")
        kill(api.pid, SIGINT)
        XCTAssertTrue(api.waitForExit(timeout: 10))
        XCTAssertEqual(api.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/api.sock"))
    }

    func testPlainHTTPOffLoopbackIsRefusedWith78WhereverTheAddressComesFrom() throws {
        let port = try freePort()
        // [api] listen: the file, the line and what to do.
        var config = configure("access_log = off\nlisten = 0.0.0.0:\(port)")
        var r = try runProcess("sisync-api", ["--config", config], timeout: 20)
        XCTAssertEqual(r.code, 78, r.stderr)
        XCTAssertTrue(r.stderr.contains("sisync.conf:8: [api] listen = 0.0.0.0:\(port)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("insecure_http = true") && r.stderr.contains("tls_certificate"), r.stderr)
        // --listen.
        config = configure("")
        r = try runProcess("sisync-api", ["--config", config, "--listen", "0.0.0.0:\(port)"], timeout: 20)
        XCTAssertEqual(r.code, 78, r.stderr)
        XCTAssertTrue(r.stderr.contains("--listen 0.0.0.0:\(port)"), r.stderr)
        // A socket systemd passes, judged by what it is bound to.
        let wide = try ListenSocket.openTCP(host: "0.0.0.0", port: 0)
        let passed = try SpawnedAPI(["--config", config], passing: wide.fd)
        XCTAssertTrue(passed.waitForExit(timeout: 20))
        XCTAssertEqual(passed.status, 78, passed.seen)
        XCTAssertTrue(passed.seen.contains("the socket systemd passed (0.0.0.0:"), passed.seen)
        // insecure_http = true lifts it.
        config = configure("insecure_http = true")
        let allowed = try SpawnedAPI(["--config", config, "--listen", "0.0.0.0:\(port)"])
        XCTAssertTrue(allowed.waitFor("started"), allowed.seen)
        kill(allowed.pid, SIGTERM)
        XCTAssertTrue(allowed.waitForExit(timeout: 10))
    }

    func testUsageVersionAndConfigurationErrors() throws {
        XCTAssertEqual(try runProcess("sisync-api", ["--bogus"]).code, 64)
        XCTAssertEqual(try runProcess("sisync-api", ["--listen", "nowhere"]).code, 64)
        let version = try runProcess("sisync-api", ["--version"])
        XCTAssertEqual(version.code, 0)
        XCTAssertEqual(version.stdout, "sisync-api \(SisyncVersion.current)\n")
        XCTAssertTrue(try runProcess("sisync-api", ["--help"]).stdout.contains("--tenants DIR"))
        XCTAssertEqual(try runProcess("sisync-api", ["--config", dir + "/missing.conf"]).code, 78)
        let proxies = try runProcess("sisync-api", ["--config", configure("trusted_proxies = 10.0.0.0/8, proxy.example")])
        XCTAssertEqual(proxies.code, 78)
        XCTAssertTrue(proxies.stderr.contains("sisync.conf:7: [api] trusted_proxies = `proxy.example`"), proxies.stderr)
        let halfTLS = try runProcess("sisync-api", ["--config", configure("tls_certificate = /etc/hostname")])
        XCTAssertEqual(halfTLS.code, 78)
        XCTAssertTrue(halfTLS.stderr.contains("tls_key"), halfTLS.stderr)
    }
}

/// `$NOTIFY_SOCKET` as systemd offers it: a datagram socket the test reads.
final class NotifySocket {
    let path: String
    private let fd: Int32
    private var received = ""

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }) == 0 else {
            throw RawHTTPConnection.failure("bind \(path)")
        }
    }

    deinit { close(fd) }

    func waitFor(_ text: String, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !received.contains(text) && Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { received += String(decoding: buffer[0..<n], as: UTF8.self) + "\n" }
        }
        return received.contains(text)
    }
}

/// A `sisync-api` child started with `posix_spawn`, so that a listening socket can be passed
/// as fd 3 with `LISTEN_FDS=1` and `LISTEN_PID` set to the child's own pid (a shell sets it
/// and then becomes sisync-api), as systemd does; its stderr is read as it comes.
final class SpawnedAPI: @unchecked Sendable {
    private(set) var pid: pid_t = 0
    private let output = NSCondition()
    private var text = ""
    private var exitStatus: Int32?

    init(_ arguments: [String], passing fd: Int32? = nil, environment: [String: String] = [:]) throws {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw RawHTTPConnection.failure("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        if let fd { posix_spawn_file_actions_adddup2(&actions, fd, 3) }
        let binary = productsDirectory.appendingPathComponent("sisync-api").path
        let argv = fd == nil ? [binary] + arguments
            : ["/bin/sh", "-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"", binary] + arguments
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        env.removeValue(forKey: "NOTIFY_SOCKET")
        if let n = environment["NOTIFY_SOCKET"] { env["NOTIFY_SOCKET"] = n }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        close(pipeFDs[1])
        guard rc == 0 else { close(pipeFDs[0]); throw NSError(domain: "posix_spawn", code: Int(rc)) }
        let reader = pipeFDs[0]
        let child = pid
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(reader, &buffer, buffer.count)
                output.lock()
                if n <= 0 {
                    var status: Int32 = 0
                    waitpid(child, &status, 0)
                    exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                    output.broadcast(); output.unlock()
                    close(reader)
                    return
                }
                text += String(decoding: buffer[0..<n], as: UTF8.self)
                output.broadcast()
                output.unlock()
            }
        }
    }

    deinit { if status == nil { kill(pid, SIGKILL) } }

    var seen: String { output.lock(); defer { output.unlock() }; return text }
    var status: Int32? { output.lock(); defer { output.unlock() }; return exitStatus }

    func waitFor(_ wanted: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        output.lock(); defer { output.unlock() }
        while !text.contains(wanted) && exitStatus == nil { if !output.wait(until: deadline) { break } }
        return text.contains(wanted)
    }

    func waitForExit(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        output.lock(); defer { output.unlock() }
        while exitStatus == nil { if !output.wait(until: deadline) { break } }
        return exitStatus != nil
    }
}
