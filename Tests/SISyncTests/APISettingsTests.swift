import XCTest
@testable import SISync

/// Issue 30: `[api]` is read like every section (file, line, key on a bad value), and a
/// change to it does not void a held run.
final class APISettingsTests: XCTestCase {
    private func parse(_ text: String) throws -> Configuration {
        try Configuration.parse(text: text, path: "/etc/sisync/sisync.conf")
    }

    func testListenAddressesAreReadAndOnlyLoopbackOrUnixIsLocal() throws {
        let c = try parse("[source]\nurl = /x\n[api]\nlisten = 127.0.0.1:8420, [::1]:9000, unix:/run/sisync/api.sock, 10.0.0.5:443\n")
        XCTAssertEqual(c.api.listen, [.tcp(host: "127.0.0.1", port: 8420), .tcp(host: "::1", port: 9000), .unix(path: "/run/sisync/api.sock"),
                                      .tcp(host: "10.0.0.5", port: 443)])
        XCTAssertEqual(c.api.listen.map(\.isLocal), [true, true, true, false])
        XCTAssertEqual(c.api.listen.map(\.description), ["127.0.0.1:8420", "[::1]:9000", "unix:/run/sisync/api.sock", "10.0.0.5:443"])
        for bad in ["8420", "host:0", "host:70000", "unix:relative", "::1:80", "a b:80", "[::1]80"] {
            XCTAssertThrowsError(try parse("[source]\nurl = /x\n[api]\nlisten = \(bad)\n"), bad) { e in
                XCTAssertTrue("\(e)".hasPrefix("/etc/sisync/sisync.conf:4:"), "\(e)")
            }
        }
    }

    func testDefaultsAndValues() throws {
        XCTAssertEqual(try parse("[source]\nurl = /x\n").api, APISettings())
        let c = try parse("[source]\nurl = /x\n[api]\nwrite_wait = 2s\naccess_log = all\ninsecure_http = yes\ntrusted_proxies = 10.0.0.1, 192.168.0.0/24\nmax_failures_per_minute = 3\n")
        XCTAssertEqual(c.api.writeWait.seconds, 2)
        XCTAssertEqual(c.api.accessLog, .all)
        XCTAssertTrue(c.api.insecureHTTP)
        XCTAssertEqual(c.api.trustedProxies, ["10.0.0.1", "192.168.0.0/24"])
        XCTAssertEqual(c.api.maxFailuresPerMinute, 3)
        XCTAssertThrowsError(try parse("[source]\nurl = /x\n[api]\naccess_log = verbose\n"))
    }

    func testAnAPISettingDoesNotChangeTheSettingsARunIsHeldUnder() throws {
        let plain = try parse("[source]\nurl = /x\n")
        let withAPI = try parse("[source]\nurl = /x\n[api]\nlisten = unix:/run/sisync/api.sock\n")
        let otherGuard = try parse("[source]\nurl = /x\n[guard]\nmax_deactivate_count = 9\n")
        XCTAssertEqual(plain.settingsDigest, withAPI.settingsDigest)
        XCTAssertNotEqual(plain.settingsDigest, otherGuard.settingsDigest)
    }
}
