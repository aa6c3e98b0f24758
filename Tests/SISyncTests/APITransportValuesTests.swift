import XCTest
@testable import SISync
@testable import SISyncAPI

/// The pure parts of the transport: what a request's bytes mean before any handler sees them.
final class APITransportValuesTests: XCTestCase {
    func testQueryStringsDecodePlusAndPercentAndKeepBrokenEscapes() {
        let pairs = QueryString.parse("username=j+doe&form=IEP%20plan&&student=%E2%9C%93&x&bad=%G1%4&empty=")
        XCTAssertEqual(pairs.map { "\($0.name)=\($0.value)" }, ["username=j doe", "form=IEP plan", "student=✓", "x=", "bad=%G1%4", "empty="])
        XCTAssertEqual(QueryString.parse("a=%FF").first?.value, "\u{FFFD}", "bytes that are not UTF-8 become U+FFFD")
        let split = QueryString.split(target: "/v1/users/a%2Fb?x=1#frag")
        XCTAssertEqual(split.path, "/v1/users/a%2Fb")
        XCTAssertEqual(String(split.query), "x=1")
    }

    func testForwardedForIsReadFromTheRightPastTrustedProxiesOnly() throws {
        let proxies = try TrustedProxies(parsing: ["10.0.0.0/8", "::1", "192.0.2.7"])
        let peer = IPAddress("10.1.1.1")!
        XCTAssertEqual(proxies.client(peer: peer, forwardedFor: ["203.0.113.5, 198.51.100.2, 10.9.9.9"]).description, "198.51.100.2",
                       "a client cannot push its own address past the last untrusted hop")
        XCTAssertEqual(proxies.client(peer: peer, forwardedFor: ["203.0.113.5", "192.0.2.7:8080"]).description, "203.0.113.5", "headers join in order; ports drop")
        XCTAssertEqual(proxies.client(peer: peer, forwardedFor: ["[2001:db8::5]:443"]).description, "2001:db8::5")
        XCTAssertEqual(proxies.client(peer: peer, forwardedFor: ["<script>, 10.2.2.2"]).description, "10.2.2.2",
                       "garbage ends the walk at the last trusted hop, never becomes the client")
        XCTAssertEqual(proxies.client(peer: peer, forwardedFor: []).description, "10.1.1.1")
        XCTAssertEqual(proxies.client(peer: IPAddress("198.51.100.9")!, forwardedFor: ["203.0.113.5"]).description, "198.51.100.9",
                       "an untrusted peer's header is ignored")
        XCTAssertEqual(IPAddress("::ffff:10.0.0.1"), IPAddress("10.0.0.1"), "a mapped IPv4 address is the address")
        XCTAssertThrowsError(try TrustedProxies(parsing: ["10.0.0.0/33"]))
        XCTAssertThrowsError(try TrustedProxies(parsing: ["proxy.example"]))
        XCTAssertTrue(IPBlock("fd00::/8")!.contains(IPAddress("fd12::1")!))
        XCTAssertFalse(IPBlock("10.0.0.0/8")!.contains(IPAddress("11.0.0.1")!))
    }

    func testAmbiguousFramingIsRefused() throws {
        func judge(_ h: [(String, String)]) -> Result<RequestFraming, RequestFraming.Problem> {
            Result { () throws(RequestFraming.Problem) in try RequestFraming.judge(h.map { (name: $0.0, value: $0.1) }) }
        }
        XCTAssertEqual(judge([]), .success(.noBody))
        XCTAssertEqual(judge([("content-length", " 12 ")]), .success(.length(12)))
        XCTAssertEqual(judge([("transfer-encoding", "Chunked")]), .success(.chunked))
        XCTAssertEqual(judge([("content-length", "5"), ("transfer-encoding", "chunked")]), .failure(.lengthAndTransferEncoding))
        XCTAssertEqual(judge([("content-length", "5"), ("content-length", "5")]), .failure(.repeatedLength))
        XCTAssertEqual(judge([("content-length", "5, 5")]), .failure(.repeatedLength))
        XCTAssertEqual(judge([("content-length", "-1")]), .failure(.badLength("-1")))
        XCTAssertEqual(judge([("content-length", "99999999999999999999")]), .failure(.badLength("99999999999999999999")))
        XCTAssertEqual(judge([("transfer-encoding", "gzip, chunked")]), .failure(.unsupportedTransferEncoding("gzip, chunked")))
    }

    func testLoggedPathsLoseTheQueryAndEscapeControlCharacters() {
        XCTAssertEqual(LoggedPath.text("/v1/users/jdoe?password=x"), "/v1/users/jdoe")
        XCTAssertEqual(LoggedPath.text("/a\nFAKE ENTRY\u{1b}[31m\\"), "/a\\x0aFAKE ENTRY\\x1b[31m\\\\")
        XCTAssertEqual(LoggedPath.text("/" + String(repeating: "a", count: 2000)).utf8.count, LoggedPath.limit + "…".utf8.count)
    }

    func testTheAccessLogKeepsWhatItsSettingSaysAndNoQueryOrBody() throws {
        let ok = HTTPServer.Exchange(client: .address("192.0.2.1"), method: "GET", target: "/v1/users/jdoe?code=ABCD1234", status: 200,
                                     route: "/v1/users/{username}", clientName: "gradebook", duration: 0.0042)
        var failed = ok
        failed.status = 503
        XCTAssertNil(AccessLog.event(for: ok, setting: .errors))
        XCTAssertNil(AccessLog.event(for: failed, setting: .off))
        let e = try XCTUnwrap(AccessLog.event(for: ok, setting: .all))
        XCTAssertEqual(e.type, .apiRequest)
        XCTAssertEqual(e.message, "GET /v1/users/jdoe 200 in 4.2 ms from 192.0.2.1 (gradebook)")
        let fields = Dictionary(uniqueKeysWithValues: e.fields)
        XCTAssertEqual(fields["SISYNC_HTTP_ROUTE"], "/v1/users/{username}")
        XCTAssertEqual(fields["SISYNC_HTTP_PATH"], "/v1/users/jdoe")
        XCTAssertEqual(fields["SISYNC_API_CLIENT"], "192.0.2.1")
        XCTAssertEqual(fields["SISYNC_HTTP_STATUS"], "200")
        XCTAssertFalse(e.message.contains("ABCD1234") || e.fields.contains { $0.1.contains("ABCD1234") })
        XCTAssertEqual(AccessLog.event(for: failed, setting: .errors)?.priority, .warning)
    }

    func testMetricsCountRoutesAndStatusesAndFillTheHistogram() {
        let m = APIMetrics()
        let e = HTTPServer.Exchange(client: .unixSocket, method: "GET", target: "/v1/health", status: 200, route: "/v1/health", clientName: nil, duration: 0.003)
        m.record(e)
        m.record(e)
        var slow = e
        slow.status = 503
        slow.duration = 2
        m.record(slow)
        let text = m.text(refusedConnections: 4, openConnections: 1)
        XCTAssertTrue(text.contains("sisync_api_requests_total{route=\"/v1/health\",status=\"200\"} 2\n"), text)
        XCTAssertTrue(text.contains("sisync_api_requests_total{route=\"/v1/health\",status=\"503\"} 1\n"))
        XCTAssertTrue(text.contains("sisync_api_request_duration_seconds_bucket{le=\"0.005\"} 2\n"))
        XCTAssertTrue(text.contains("sisync_api_request_duration_seconds_bucket{le=\"2.5\"} 3\n"))
        XCTAssertTrue(text.contains("sisync_api_request_duration_seconds_count 3\n"))
        XCTAssertTrue(text.contains("sisync_api_connections_refused_total 4\n"))
        XCTAssertEqual(APIMetrics.path(beside: "/var/lib/prometheus/node-exporter/sisync.prom"), "/var/lib/prometheus/node-exporter/sisync-api.prom")
        XCTAssertNil(APIMetrics.path(beside: nil))
    }

    func testPlainHTTPIsAllowedOnlyOnLoopbackAndUnixSockets() throws {
        let local: [(ListenSocket.BoundAddress, PlainHTTPRule.Origin)] = [(.ip(IPAddress("127.0.0.1")!, port: 8420), .systemd),
                                                                          (.ip(IPAddress("::1")!, port: 8420), .commandLine), (.unix(path: "/run/a"), .systemd)]
        XCTAssertNil(PlainHTTPRule.refusal(local, tls: false, insecureHTTP: false, configPath: "c"))
        let wide: [(ListenSocket.BoundAddress, PlainHTTPRule.Origin)] = [(.ip(IPAddress("::")!, port: 8420), .configuration(file: "/etc/sisync/sisync.conf", line: 40))]
        let refusal = try XCTUnwrap(PlainHTTPRule.refusal(wide, tls: false, insecureHTTP: false, configPath: "/etc/sisync/sisync.conf"))
        XCTAssertTrue(refusal.hasPrefix("/etc/sisync/sisync.conf:40: [api] listen = [::]:8420"), refusal)
        XCTAssertNil(PlainHTTPRule.refusal(wide, tls: true, insecureHTTP: false, configPath: "c"))
        XCTAssertNil(PlainHTTPRule.refusal(wide, tls: false, insecureHTTP: true, configPath: "c"))
    }
}
