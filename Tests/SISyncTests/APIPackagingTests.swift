import XCTest
@testable import SISync
@testable import SISyncAPI

/// sisync-api's manual page, units and linking stay in step with the code (issue 30).
final class APIPackagingTests: XCTestCase {
    private func read(_ path: String) throws -> String {
        try String(contentsOfFile: PackagingTests.root + "/" + path, encoding: .utf8)
    }

    func testTheManualPageHasEveryOptionExitCodeAndMessageIDAndFormatsCleanly() throws {
        var man = try read("man/sisync-api.8")
        for (escape, plain) in [("\\-", "-"), ("\\fB", ""), ("\\fI", ""), ("\\fR", "")] { man = man.replacingOccurrences(of: escape, with: plain) }
        for option in ["--config", "--listen", "--tenants", "--version", "--help"] {
            XCTAssertTrue(man.contains(option), option)
            XCTAssertTrue(APICommand.usage.contains(option), option)
        }
        for code in ["0", "64", "69", "78"] { XCTAssertTrue(man.contains(".B \(code)\n"), "exit \(code)") }
        for type in [LogEventType.apiRequest, .apiService, .configRejected] { XCTAssertTrue(man.contains(type.rawValue), type.name) }
        for key in ["access_log", "max_connections", "max_connections_per_client", "trusted_proxies", "insecure_http", "tls_certificate", "tls_key"] {
            XCTAssertTrue(man.contains(key), key)
        }
        let r = try runTool("/usr/bin/man", ["--warnings", "-E", "UTF-8", "-l", PackagingTests.root + "/man/sisync-api.8"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(r.err, "", "groff warnings")
    }

    /// The API runs as sisyncd's user in sisyncd's state directory (it opens the 0600 SQLite
    /// store), on the socket the issue names, and is packaged and removed with the others.
    func testTheUnitsShareTheDaemonsUserAndStateAndTheSocketListensOnLoopback() throws {
        func values(_ unit: String, _ key: String) throws -> [String] {
            try read("systemd/" + unit).split(separator: "\n").filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        XCTAssertEqual(try values("sisync-api.service", "User"), ["sisync"], "sisync.service's dynamic user is named after it: sisync")
        XCTAssertEqual(try values("sisync.service", "User"), [])
        for key in ["DynamicUser", "StateDirectory", "StateDirectoryMode", "LimitCORE", "NoNewPrivileges", "ProtectSystem"] {
            XCTAssertEqual(try values("sisync-api.service", key), try values("sisync.service", key), key)
        }
        XCTAssertEqual(try values("sisync-api.service", "Type"), ["notify"])
        XCTAssertEqual(try values("sisync-api.service", "PrivateNetwork"), [])
        XCTAssertEqual(try values("sisync-api.socket", "ListenStream"), ["127.0.0.1:8420"])
        let build = try read("packaging/build-deb.sh"), postrm = try read("packaging/debian/postrm"), prerm = try read("packaging/debian/prerm")
        XCTAssertTrue(build.contains("sisync-api.service sisync-api.socket") && build.contains("-e sisync/usr/bin/sisync-api") && build.contains("man/sisync-api.8"))
        XCTAssertTrue(postrm.contains("sisync-api.socket") && prerm.contains("sisync-api.socket"))
        XCTAssertTrue(try read("Makefile").contains("libmicrohttpd-dev"), "make deps installs libmicrohttpd-dev")
    }

    /// sisync-api links the engine and libmicrohttpd, never the letters' drawing libraries;
    /// sisyncd does not link libmicrohttpd.
    func testSisyncAPILoadsMicroHTTPDAndNoDrawingLibrary() throws {
        func libraries(_ name: String) throws -> [String] {
            let r = try runTool("/usr/bin/ldd", [productsDirectory.appendingPathComponent(name).path])
            XCTAssertEqual(r.code, 0, r.err)
            return r.out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map { $0.trimmingCharacters(in: .whitespaces) } }
        }
        let api = try libraries("sisync-api")
        XCTAssertTrue(api.contains { $0.hasPrefix("libmicrohttpd.so") }, "\(api)")
        XCTAssertEqual(api.filter { l in ["libpango", "libcairo", "libglib-", "libgobject-", "libharfbuzz"].contains { l.hasPrefix($0) } }, [])
        XCTAssertFalse(try libraries("sisyncd").contains { $0.hasPrefix("libmicrohttpd") })
    }
}
