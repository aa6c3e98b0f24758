import XCTest
@testable import SISync

/// Exports fetched over real HTTP from a server on 127.0.0.1.
final class HTTPSourceTests: XCTestCase {
    func testCSVOverHTTPWithBearerTokenFromAFile() throws {
        let staff = Array(staffCSV(manyStaff(12)).utf8)
        let server = try TestHTTPServer { req in
            guard req.headers["authorization"] == "Bearer s3cret-token" else { return .init(status: 401, body: []) }
            return req.path == "/export/staff.csv" ? .init(status: 200, body: staff) : .init(status: 404, body: Array("nope".utf8))
        }
        let w = Workspace()
        w.write(w.root + "/creds/sis-token", "s3cret-token\n")
        let c = w.configure(source: "auth = bearer\ntoken_file = \(w.root)/creds/sis-token", url: server.baseURL + "/export/")
        let r = w.sync(c)
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
        XCTAssertEqual(r.summary.staff.added, 12)
        XCTAssertEqual(server.requests.first?.headers["user-agent"], "sisync/\(SisyncVersion.current)")
        // The download was a temporary file beside the database, removed afterwards.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: w.root + "/db").filter { $0.contains("download") }
        XCTAssertEqual(leftovers, [])
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged, "R3 over HTTP")
    }

    func testHTTPErrorsFailTheRunWith69AndNeverReadAsEmpty() throws {
        let server = try TestHTTPServer { req in
            req.path.hasSuffix("staff.csv") ? .init(status: 200, body: Array(staffCSV(manyStaff(10)).utf8)) : .init(status: 404, body: [])
        }
        let w = Workspace()
        let c = w.configure(entities: "staff, students", url: server.baseURL + "/")
        let r = w.sync(c)
        XCTAssertEqual(r.summary.outcome, .failed)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("/students.csv: the server answered HTTP 404") == true, r.summary.error ?? "")
        XCTAssertTrue(try w.store().mirror.staff(filter: .all, search: nil).isEmpty)
    }

    func testUnauthorizedSaysToCheckTheCredentialWithoutLeakingIt() throws {
        let server = try TestHTTPServer { _ in .init(status: 403, body: []) }
        let w = Workspace()
        w.write(w.root + "/tok", "top-secret-value")
        let c = w.configure(source: "auth = bearer\ntoken_file = \(w.root)/tok", url: server.baseURL + "/")
        let log = MemoryLog()
        let r = w.sync(c, log: log)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("check the credential") == true)
        XCTAssertFalse(log.events.contains { $0.message.contains("top-secret-value") })
        XCTAssertFalse(r.summary.error?.contains("top-secret-value") == true)
    }

    func testMissingTokenFileIsAConfigurationError() throws {
        let w = Workspace()
        let c = w.configure(source: "auth = bearer\ntoken_file = no-such-token", url: "http://127.0.0.1:9/")
        XCTAssertEqual(w.sync(c).summary.exitCode, 78)
    }

    func testRelativeTokenFileIsLookedUpInTheCredentialsDirectory() {
        XCTAssertEqual(ExportFetcher.credentialPath("sis-token", environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/sisync.service"]),
                       "/run/credentials/sisync.service/sis-token")
        XCTAssertEqual(ExportFetcher.credentialPath("/etc/sisync/sis-token", environment: [:]), "/etc/sisync/sis-token")
        // Outside the service (an administrator's shell): /etc/credstore, where LoadCredential= reads it.
        XCTAssertEqual(ExportFetcher.credentialPath("sis-token", environment: [:]), "/etc/credstore/sis-token")
        XCTAssertEqual(ExportFetcher.credentialPath("sis-token", environment: ["CREDENTIALS_DIRECTORY": ""]), "/etc/credstore/sis-token")
    }

    /// Issue 26 item 13: the unit starts whatever the auth (systemd skips a credential whose
    /// file is missing), so a secret the service did not receive says where it goes and
    /// whether the unit loads that name, for the source's secrets and the database's.
    func testASecretTheServiceDidNotReceiveSaysWhereToPutIt() throws {
        let w = Workspace()
        let c = w.configure()
        let service = w.root + "/run-credentials"
        try FileManager.default.createDirectory(atPath: service, withIntermediateDirectories: true)
        let credentials = SourceCredentials(configuration: c, environment: ["CREDENTIALS_DIRECTORY": service], log: nil)
        XCTAssertThrowsError(try credentials.secret("sis-password", key: "password_file")) { e in
            XCTAssertTrue("\(e)".contains("Put it in /etc/credstore/sis-password (root, mode 0600)"), "\(e)")
            XCTAssertTrue("\(e)".contains("sisync.service loads it from there"), "\(e)")
        }
        XCTAssertThrowsError(try credentials.secret("lincoln-token", key: "token_file")) { e in
            XCTAssertTrue("\(e)".contains("the unit needs LoadCredential=lincoln-token in a drop-in"), "\(e)")
        }
        let store = StoreLocation(database: "postgresql:///sis", passwordFile: "pg-password")
        guard case .postgres(let settings) = store else { return XCTFail("\(store)") }
        XCTAssertThrowsError(try settings.password(environment: ["CREDENTIALS_DIRECTORY": service])) { e in
            XCTAssertTrue("\(e)".contains("database_password_file") && "\(e)".contains("Put it in /etc/credstore/pg-password"), "\(e)")
        }
        // The unit loads every name the message says it does.
        let unit = try String(contentsOfFile: PackagingTests.root + "/systemd/sisync.service", encoding: .utf8)
        for name in SourceCredentials.unitCredentials { XCTAssertTrue(unit.contains("\nLoadCredential=\(name)\n"), name) }
    }

    /// A relative secret file name is read from $CREDENTIALS_DIRECTORY, or
    /// from the credential store when that is unset; a missing one says where it looked.
    func testRelativeSecretIsReadFromTheCredentialStoreOutsideTheService() throws {
        let w = Workspace()
        let c = w.configure()
        let store = w.root + "/credstore", service = w.root + "/run-credentials"
        for d in [store, service] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try "from-credstore\n".write(toFile: store + "/sis-token", atomically: true, encoding: .utf8)
        try "from-service\n".write(toFile: service + "/sis-token", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SourceCredentials(configuration: c, environment: [:], log: nil, credentialStore: store).secret("sis-token", key: "token_file"), "from-credstore")
        XCTAssertEqual(try SourceCredentials(configuration: c, environment: ["CREDENTIALS_DIRECTORY": service], log: nil, credentialStore: store)
                        .secret("sis-token", key: "token_file"), "from-service")
        XCTAssertThrowsError(try SourceCredentials(configuration: c, environment: [:], log: nil, credentialStore: store).secret("other", key: "password_file")) { e in
            XCTAssertTrue("\(e)".contains(store + "/other") && "\(e)".contains("$CREDENTIALS_DIRECTORY"), "\(e)")
        }
    }

    func testConnectionRefusedIs69() throws {
        let w = Workspace()
        let c = w.configure(source: "retries = 1", url: "http://127.0.0.1:9/")
        let r = w.sync(c)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("127.0.0.1:9/staff.csv") == true, r.summary.error ?? "")
        XCTAssertTrue(r.summary.error?.contains("(after 2 attempts)") == true, "a refused connection is retried: \(r.summary.error ?? "")")
    }

    func testMaxBytesIsEnforcedWhileDownloading() throws {
        let server = try TestHTTPServer { _ in .init(status: 200, body: Array(staffCSV(manyStaff(2000)).utf8)) }
        let w = Workspace()
        let c = w.configure(source: "max_bytes = 4K", url: server.baseURL + "/")
        let r = w.sync(c)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("max_bytes") == true, r.summary.error ?? "")
    }
}
