import XCTest
@testable import SISync

/// Counts requests per path, for servers that answer differently the second time.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func next(_ key: String) -> Int { lock.withLock { counts[key, default: 0] += 1; return counts[key]! } }
    func count(_ key: String) -> Int { lock.withLock { counts[key, default: 0] } }
}

/// One test per network fault (issue 5), against a server on 127.0.0.1 (R1, R3).
final class HTTPFaultTests: XCTestCase {
    private let staff = Array(staffCSV(manyStaff(12)).utf8)

    private func configure(_ w: Workspace, _ server: TestHTTPServer, _ source: String = "", entities: String = "staff") -> Configuration {
        w.configure(source: source, entities: entities, url: server.baseURL + "/")
    }

    func testR1A500ThenA200WithinRetriesApplies() throws {
        let counter = Counter()
        let staff = self.staff
        let server = try TestHTTPServer { req in counter.next(req.path) == 1 ? .init(status: 500, body: []) : .init(status: 200, body: staff) }
        let w = Workspace()
        let log = MemoryLog()
        let r = w.sync(configure(w, server, "retries = 2"), log: log)
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
        XCTAssertEqual(counter.count("/staff.csv"), 2)
        XCTAssertTrue(log.events.contains { $0.message.contains("HTTP 500; attempt 2 of 3") }, "\(log.events.map(\.message))")
    }

    func test503WithRetryAfterIsHonoured() throws {
        let counter = Counter()
        let staff = self.staff
        let server = try TestHTTPServer { req in
            counter.next(req.path) == 1 ? .init(status: 503, headers: ["Retry-After": "1"], body: []) : .init(status: 200, body: staff)
        }
        let w = Workspace()
        let started = Date()
        let r = w.sync(configure(w, server, "retries = 1"))
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.95, "waited the Retry-After second")
    }

    func test429IsRetriedAndOther4xxAreNot() throws {
        let counter = Counter()
        let staff = self.staff
        let server = try TestHTTPServer { req in
            if req.path == "/students.csv" { _ = counter.next(req.path); return .init(status: 400, body: []) }
            return counter.next(req.path) == 1 ? .init(status: 429, headers: ["Retry-After": "0"], body: []) : .init(status: 200, body: staff)
        }
        let w = Workspace()
        let ok = w.sync(configure(w, server, "retries = 3"))
        XCTAssertEqual(ok.summary.outcome, .applied, ok.summary.error ?? "")
        XCTAssertEqual(counter.count("/staff.csv"), 2)
        let bad = w.sync(configure(w, server, "retries = 3", entities: "staff, students"))
        XCTAssertEqual(bad.summary.exitCode, 69)
        XCTAssertEqual(counter.count("/students.csv"), 1, "a 400 is not retried")
    }

    func testR1ExhaustedRetriesFailTheRunAndNothingIsDeactivated() throws {
        let counter = Counter()
        let staff = self.staff
        let server = try TestHTTPServer { req in
            req.path == "/students.csv" && counter.next(req.path) > 0 ? .init(status: 502, headers: ["Retry-After": "0"], body: []) : .init(status: 200, body: staff)
        }
        let w = Workspace()
        XCTAssertEqual(w.sync(configure(w, server, "retries = 0")).summary.outcome, .applied)
        let r = w.sync(configure(w, server, "retries = 2", entities: "staff, students"))
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("HTTP 502 (after 3 attempts)") == true, r.summary.error ?? "")
        XCTAssertEqual(counter.count("/students.csv"), 3)
        XCTAssertEqual(try w.store().mirror.staff(filter: .active, search: nil).count, 12, "R1: nothing applied")
    }

    func testAServerThatNeverAnswersTimesOut() throws {
        let server = try TestHTTPServer { _ in
            Thread.sleep(forTimeInterval: 4)
            return .init(status: 200, body: [])
        }
        let w = Workspace()
        let started = Date()
        let r = w.sync(configure(w, server, "timeout = 1s\nretries = 0"))
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3.5)
        XCTAssertTrue(r.summary.error?.contains("curl error 28") == true, r.summary.error ?? "")
    }

    func testATricklingServerIsAbortedBelow1KiBPerSecond() throws {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 20_000)
        let server = try TestHTTPServer { _ in .init(status: 200, body: body, trickle: (bytes: 20, pause: 0.2)) }
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        var fetcher = ExportFetcher(configuration: configure(w, server, "retries = 0"), directory: try RunDirectory(in: w.root + "/db"))
        fetcher.lowSpeedSeconds = 1
        let started = Date()
        XCTAssertThrowsError(try fetcher.fetch()) { e in
            guard case .transfer(_, 28, _)? = e as? FetchError else { return XCTFail("\(e)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testATruncatedBodyFailsAndIsNeverParsed() throws {
        let staff = self.staff
        let server = try TestHTTPServer { _ in .init(status: 200, body: Array(staff.prefix(100)), declaredLength: staff.count) }
        let w = Workspace()
        let r = w.sync(configure(w, server, "retries = 1"))
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("curl error 18") == true, r.summary.error ?? "")
        XCTAssertTrue(r.summary.error?.contains("after 2 attempts") == true, r.summary.error ?? "")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: w.root + "/db").filter { $0.hasPrefix(".sisync") }, [])
    }

    func testRedirectChainIsFollowedAndALoopIsNot() throws {
        let staff = self.staff
        let server = try TestHTTPServer { req in
            switch req.path {
            case "/staff.csv": return .init(status: 302, headers: ["Location": "/hop1"], body: [])
            case "/hop1": return .init(status: 301, headers: ["Location": "/hop2"], body: [])
            case "/hop2": return .init(status: 307, headers: ["Location": "/real/staff.csv"], body: [])
            case "/real/staff.csv": return .init(status: 200, body: staff)
            default: return .init(status: 302, headers: ["Location": req.path], body: [])  // a loop
            }
        }
        let w = Workspace()
        XCTAssertEqual(w.sync(configure(w, server, "retries = 0")).summary.outcome, .applied)
        var loop = w.configure(source: "retries = 0", url: server.baseURL + "/loop/")
        loop.entities = [.staff]
        let r = w.sync(loop)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("curl error 47") == true, "too many redirects: \(r.summary.error ?? "")")
    }

    func testGzipBodiesAreDecoded() throws {
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gz.arguments = ["-c"]
        let input = Pipe(), output = Pipe()
        gz.standardInput = input
        gz.standardOutput = output
        try gz.run()
        input.fileHandleForWriting.write(Data(staff))
        try input.fileHandleForWriting.close()
        let compressed = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        gz.waitUntilExit()
        let server = try TestHTTPServer { req in
            guard req.headers["accept-encoding"]?.contains("gzip") == true else { return .init(status: 406, body: []) }
            return .init(status: 200, headers: ["Content-Encoding": "gzip"], body: compressed)
        }
        let w = Workspace()
        let r = w.sync(configure(w, server, "retries = 0"))
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
        XCTAssertEqual(r.summary.staff.added, 12)
    }

    func testR3ETag304OnEveryEntityIsUnchangedWithoutDownloading() throws {
        let counter = Counter()
        let version = Counter()
        let staff = self.staff
        let students = Array("student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,A,B,,1,1,Enrolled,2026-2027\n".utf8)
        let server = try TestHTTPServer { req in
            _ = counter.next(req.path)
            let tag = "\"v\(version.count("v"))-\(req.path)\""
            if req.headers["if-none-match"] == tag { _ = counter.next("304"); return .init(status: 304, body: []) }
            return .init(status: 200, headers: ["ETag": tag, "Last-Modified": "Mon, 02 Nov 2026 06:00:00 GMT"],
                         body: req.path == "/staff.csv" ? staff : students)
        }
        let w = Workspace()
        let c = configure(w, server, "retries = 0", entities: "staff, students")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let again = w.sync(c)
        XCTAssertEqual(again.summary.outcome, .unchanged)
        XCTAssertEqual(counter.count("304"), 2, "both entities answered 304")
        XCTAssertEqual(server.requests.last?.headers["if-modified-since"], "Mon, 02 Nov 2026 06:00:00 GMT")
        // --force downloads everything (no validators sent).
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        XCTAssertNil(server.requests.last?.headers["if-none-match"])
        // The server's tags change; a dry run sees them but saves nothing, so the next
        // real run still sends the old ones.
        _ = version.next("v")
        XCTAssertEqual(w.sync(c, dryRun: true).summary.outcome, .unchanged)
        _ = w.sync(c)
        XCTAssertEqual(server.requests.last?.headers["if-none-match"], "\"v0-/students.csv\"")
        // That run saved the new tags: the next one is all 304 again.
        let before = counter.count("304")
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged)
        XCTAssertEqual(counter.count("304"), before + 2)
    }

    /// R3's validators are saved under the SHA-256 of the source's URL, never the URL: a
    /// token in a source URL's query does not reach the database (which `store copy`,
    /// backups and a standby carry further than the configuration), and the next run still
    /// asks conditionally. A row an earlier version saved under the URL itself is dropped
    /// by the next run that applies.
    func testR3ValidatorsAreSavedUnderTheURLsDigestNotTheURLAndItsToken() throws {
        let staff = self.staff
        let server = try TestHTTPServer { req in
            if req.headers["if-none-match"] == "\"v1\"" { return .init(status: 304, body: []) }
            return .init(status: 200, headers: ["ETag": "\"v1\""], body: staff)
        }
        let w = Workspace()
        let url = server.baseURL + "/staff.csv?token=s3cret-token"
        let c = w.configure(source: "retries = 0\nstaff_url = \(url)", entities: "staff", url: server.baseURL + "/")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        func saved() throws -> [String] { try w.dump().filter { $0.hasPrefix("source_state: ") } }
        XCTAssertEqual(try saved().map { $0.split(separator: "|").first.map(String.init) }, ["source_state: " + SourceStateKey.of(url)])
        XCTAssertFalse(try w.dump().joined(separator: "\n").contains("s3cret"), "the token is nowhere in the database")

        let again = w.sync(c)
        XCTAssertEqual(again.summary.outcome, .unchanged, again.summary.error ?? "")
        XCTAssertEqual(server.requests.last?.headers["if-none-match"], "\"v1\"", "found under the digest and sent")

        try w.rawDatabase().run("INSERT INTO source_state (url, etag, last_modified, sha256, run_id) VALUES (\(url), 'old', NULL, 'f00', 1)")
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        let left = try saved()
        XCTAssertEqual(left.count, 1, "the row under the URL itself is gone: \(left)")
        XCTAssertFalse(try w.dump().joined(separator: "\n").contains("s3cret"))
    }

    /// With `[source] schools` every file is parsed: no validators are sent, so a 304 for a
    /// file the scope's first run must read cannot fail it.
    func testR3ASchoolScopeFirstSetOnAnETagSourceDownloadsEverything() throws {
        let students = Array("student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,A,B,,101,1,Enrolled,2026-2027\nST2,C,D,,102,1,Enrolled,2026-2027\n".utf8)
        let staff = self.staff
        let server = try TestHTTPServer { req in
            let tag = "\"v1-\(req.path)\""
            if req.headers["if-none-match"] == tag { return .init(status: 304, body: []) }
            return .init(status: 200, headers: ["ETag": tag], body: req.path == "/staff.csv" ? staff : students)
        }
        let w = Workspace()
        let c = configure(w, server, "retries = 0", entities: "staff, students")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged)
        let scoped = configure(w, server, "retries = 0\nschools = 101", entities: "staff, students")
        let first = w.sync(scoped, allow: true)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        XCTAssertEqual(first.summary.entities["students"]?.deactivated, 1)
        XCTAssertNil(server.requests.last?.headers["if-none-match"])
        XCTAssertEqual(w.sync(scoped).summary.outcome, .unchanged, "the same export under the same scope (R3)")
    }

    func testAnHTMLLoginPageFailsWithWhatCameBack() throws {
        let page = Array("<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>".utf8)
        let server = try TestHTTPServer { _ in .init(status: 200, headers: ["Content-Type": "text/html; charset=utf-8"], body: page) }
        let w = Workspace()
        let r = w.sync(configure(w, server, "retries = 0"))
        XCTAssertEqual(r.summary.exitCode, 69)
        let e = r.summary.error ?? ""
        XCTAssertTrue(e.contains("/staff.csv: got text/html; charset=utf-8, 61 bytes, starting `<!DOCTYPE html> <html><b`; is the token valid?"), e)
        var json = w.configure(format: "json", url: server.baseURL + "/export.json")
        json.entities = [.staff]
        XCTAssertTrue(w.sync(json).summary.error?.contains("got text/html") == true)
    }

    func testBasicAuthSendsUserAndPasswordFromAFile() throws {
        let server = try TestHTTPServer { [staff] req in
            req.headers["authorization"] == "Basic " + Data("sisync:pa55word".utf8).base64EncodedString() ? .init(status: 200, body: staff) : .init(status: 401, body: [])
        }
        let w = Workspace()
        w.write(w.root + "/password", "pa55word\n")
        chmod(w.root + "/password", 0o600)
        let r = w.sync(configure(w, server, "retries = 0\nauth = basic\nusername = sisync\npassword_file = \(w.root)/password"))
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
    }

    func testOAuthTokenIsFetchedOnceReusedAndRefreshedOnceOn401() throws {
        let counter = Counter()
        let staff = self.staff
        let server = try TestHTTPServer { req in
            if req.path == "/token" {
                let n = counter.next("/token")
                return .init(status: 200, headers: ["Content-Type": "application/json"],
                             body: Array("{\"access_token\":\"tok\(n)\",\"token_type\":\"Bearer\",\"expires_in\":3600}".utf8))
            }
            let n = counter.next("resource")
            // The first token is revoked after three uses.
            if req.headers["authorization"] == "Bearer tok1" && n <= 3 { return .init(status: 200, body: staff) }
            if req.headers["authorization"] == "Bearer tok2" { return .init(status: 200, body: staff) }
            return .init(status: 401, body: [])
        }
        let w = Workspace()
        w.write(w.root + "/client-secret", "shh-client-secret")
        chmod(w.root + "/client-secret", 0o600)
        let c = configure(w, server, "retries = 0\nauth = oauth2\ntoken_url = \(server.baseURL)/token\nclient_id = sisync\nclient_secret_file = \(w.root)/client-secret\nscope = roster.read")
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        XCTAssertEqual(counter.count("/token"), 1, "one token for three runs")
        let refreshed = w.sync(c, force: true)
        XCTAssertEqual(refreshed.summary.outcome, .applied, refreshed.summary.error ?? "")
        XCTAssertEqual(counter.count("/token"), 2, "a 401 fetches a new token once")
        XCTAssertFalse(server.requests.contains { $0.path != "/token" && $0.headers["authorization"]?.contains("shh") == true })
    }

    func testSecretsNeverAppearInAnythingAFailingRunPrints() throws {
        let server = try TestHTTPServer { _ in .init(status: 401, body: Array("denied".utf8)) }
        let w = Workspace()
        w.write(w.root + "/tok", "tok-ABC-very-secret")
        w.configure(source: "retries = 0\nauth = bearer\ntoken_file = \(w.root)/tok", url: server.baseURL + "/")
        let daemon = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(daemon.code, 69)
        XCTAssertTrue(daemon.stderr.contains("check the credential"), daemon.stderr)
        let ctl = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "sync"])
        let show = try runProcess("sisyncctl", ["--config", w.configPath, "--json", "run", "show", "2"])
        for output in [daemon.stdout, daemon.stderr, ctl.stdout, ctl.stderr, show.stdout, show.stderr] {
            XCTAssertFalse(output.contains("tok-ABC-very-secret"), output)
        }
        XCTAssertEqual(server.requests.first?.headers["authorization"], "Bearer tok-ABC-very-secret", "sent, never printed")
        let dump = try w.dump().joined(separator: "\n")
        XCTAssertFalse(dump.contains("tok-ABC-very-secret"))
    }

    func testSecretFileReadableByOthersIsWarnedAbout() throws {
        let server = try TestHTTPServer { [staff] _ in .init(status: 200, body: staff) }
        let w = Workspace()
        w.write(w.root + "/tok", "tok")
        chmod(w.root + "/tok", 0o644)
        let log = MemoryLog()
        _ = w.sync(configure(w, server, "retries = 0\nauth = bearer\ntoken_file = \(w.root)/tok"), log: log)
        XCTAssertTrue(log.events.contains { $0.priority == .warning && $0.message.contains("readable by every user") })
    }

    func testCredentialsAreNeverSentToAnotherHostAfterARedirect() throws {
        let other = try TestHTTPServer { [staff] _ in .init(status: 200, body: staff) }
        // "localhost" is another host name than "127.0.0.1", though the same machine.
        let first = try TestHTTPServer { _ in .init(status: 302, headers: ["Location": "http://localhost:\(other.port)/staff.csv"], body: []) }
        let w = Workspace()
        w.write(w.root + "/tok", "tok-for-the-sis-only")
        chmod(w.root + "/tok", 0o600)
        let r = w.sync(configure(w, first, "retries = 0\nauth = bearer\ntoken_file = \(w.root)/tok"))
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
        XCTAssertEqual(first.requests.first?.headers["authorization"], "Bearer tok-for-the-sis-only")
        XCTAssertEqual(other.requests.count, 1)
        XCTAssertNil(other.requests.first?.headers["authorization"], "the token stays with the SIS's host")
    }

    func testRetryDelaysGrowExponentiallyWithFullJitterAndACap() {
        let policy = RetryPolicy(retries: 10)
        XCTAssertEqual(policy.delay(afterAttempt: 1, retryAfter: nil, random: { $0.upperBound }), 1)
        XCTAssertEqual(policy.delay(afterAttempt: 3, retryAfter: nil, random: { $0.upperBound }), 4)
        XCTAssertEqual(policy.delay(afterAttempt: 9, retryAfter: nil, random: { $0.upperBound }), 60, "capped at 60 s")
        XCTAssertEqual(policy.delay(afterAttempt: 3, retryAfter: nil, random: { $0.lowerBound }), 0, "full jitter")
        XCTAssertEqual(policy.delay(afterAttempt: 1, retryAfter: "7"), 7)
        XCTAssertEqual(policy.delay(afterAttempt: 1, retryAfter: "3600"), 60)
        let now = Timestamp.parse("2026-11-02T06:00:00Z")!
        XCTAssertEqual(policy.delay(afterAttempt: 1, retryAfter: "Mon, 02 Nov 2026 06:00:05 GMT", now: now), 5)
        XCTAssertTrue(RetryPolicy.isRetryable(status: 503))
        XCTAssertTrue(RetryPolicy.isRetryable(status: 429))
        XCTAssertFalse(RetryPolicy.isRetryable(status: 404))
    }
}

/// HTTPS with a CA the test creates: trusted through `ca_file`, refused without it; a
/// redirect from https to http is refused.
final class TLSSourceTests: XCTestCase {
    private func openssl(_ args: [String], in dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw NSError(domain: "openssl", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: args.joined(separator: " ")]) }
    }

    func testSelfSignedCAIsTrustedThroughCAFileOnlyAndHTTPSNeverRedirectsToHTTP() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw XCTSkip("openssl is not installed") }
        let w = Workspace()
        let dir = w.root + "/tls"
        try FileManager.default.createDirectory(atPath: dir + "/www", withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=sisync test CA"], in: dir)
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"], in: dir)
        try Data("subjectAltName=IP:127.0.0.1\n".utf8).write(to: URL(fileURLWithPath: dir + "/ext.cnf"))
        try openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
                     "-days", "1", "-extfile", "ext.cnf"], in: dir)
        let plain = try TestHTTPServer { _ in .init(status: 200, body: Array(staffCSV(manyStaff(3)).utf8)) }
        // `openssl s_server -HTTP` sends each file as a complete HTTP response.
        try Data(("HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\n\r\n" + staffCSV(manyStaff(7))).utf8).write(to: URL(fileURLWithPath: dir + "/www/staff.csv"))
        try Data("HTTP/1.0 302 Found\r\nLocation: \(plain.baseURL)/staff.csv\r\n\r\n".utf8).write(to: URL(fileURLWithPath: dir + "/www/downgrade.csv"))
        let port = Int.random(in: 30_000...60_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", dir + "/server.pem", "-key", dir + "/server.key", "-HTTP", "-quiet"]
        server.currentDirectoryURL = URL(fileURLWithPath: dir + "/www")
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        // Wait until it accepts connections (bounded).
        let ready = Date().addingTimeInterval(10)
        var up = false
        while !up && Date() < ready {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            up = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
            close(s)
            if !up { usleep(50_000) }
        }
        XCTAssertTrue(up, "openssl s_server did not start")
        let url = "https://127.0.0.1:\(port)/"
        let trusted = w.sync(w.configure(source: "retries = 0\nca_file = \(dir)/ca.pem", url: url))
        XCTAssertEqual(trusted.summary.outcome, .applied, trusted.summary.error ?? "")
        XCTAssertEqual(trusted.summary.staff.added, 7)
        let refused = w.sync(w.configure(source: "retries = 0", url: url), force: true)
        XCTAssertEqual(refused.summary.exitCode, 69)
        XCTAssertTrue(refused.summary.error?.contains("curl error 60") == true, "certificate refused: \(refused.summary.error ?? "")")
        var downgrade = w.configure(source: "retries = 0\nca_file = \(dir)/ca.pem\nstaff_url = \(url)downgrade.csv", url: url)
        downgrade.entities = [.staff]
        let r = w.sync(downgrade, force: true)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("curl error 1") == true, "https to http refused: \(r.summary.error ?? "")")
        XCTAssertTrue(plain.requests.isEmpty, "the http server was never asked")
    }
}
