import XCTest
@testable import SISync

/// The files that ship with sisync: the documented example configuration and the demo
/// school that `make run` syncs.
final class BundledFilesTests: XCTestCase {
    private var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func testDocumentedExampleConfigurationIsValid() throws {
        let c = try Configuration.load(path: root + "/config/sisync.conf")
        XCTAssertEqual(c.database, "/var/lib/sisync/sisync.db")
        XCTAssertEqual(c.entities.count, 7)
        XCTAssertEqual(c.auth, .bearer)
    }

    /// The shipped example keeps every optional key commented out: pointed at a file export
    /// (only `database` and `url` changed), `sisyncd --once --dry-run` accepts it as it is.
    func testShippedExampleConfigurationDryRunsAgainstAFileExport() throws {
        let w = Workspace()
        var text = try String(contentsOfFile: root + "/config/sisync.conf", encoding: .utf8)
        text = text.replacingOccurrences(of: "database = /var/lib/sisync/sisync.db", with: "database = \(w.database)")
        text = text.replacingOccurrences(of: "url = https://sis.example.org/export/", with: "url = \(root)/config/demo/")
        XCTAssertTrue(text.contains(w.database) && text.contains("/config/demo/"), "the example's database and url lines changed")
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let credentials = w.root + "/credentials"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try "example-token\n".write(toFile: credentials + "/sis-token", atomically: true, encoding: .utf8)
        chmod(credentials + "/sis-token", 0o600)
        let r = try runProcess("sisyncd", ["--config", w.configPath, "--once", "--dry-run"], environment: ["CREDENTIALS_DIRECTORY": credentials, "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(r.code, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("dry run: applied"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: w.database), "a dry run writes nothing")
    }

    func testDemoSchoolSyncsFromCSVAndJSONAlike() throws {
        let w = Workspace()
        var csv = try Configuration.load(path: root + "/config/demo.conf")
        csv.database = w.database
        let first = w.sync(csv)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        XCTAssertEqual(first.summary.staff.added, 60)
        XCTAssertEqual(first.summary.problems, [])
        XCTAssertEqual(try w.store().mirror.staff(filter: .inactive, search: nil).count, 2)
        XCTAssertTrue(try w.store().mirror.staff(filter: .all, search: "O'Brien").contains { $0.firstName == "Zoë" })

        // The same school as one JSON document: nothing to change.
        var json = csv
        json.format = .json
        json.url = root + "/config/demo/export.json"
        let second = w.sync(json)
        XCTAssertEqual(second.summary.outcome, .applied, second.summary.error ?? "")
        XCTAssertEqual(second.plan?.changes(), [], "CSV and JSON demo exports carry the same data")
    }

    /// The demo users (`config/demo/users.csv`) import cleanly and get the links and roles
    /// the README promises (R6, R7).
    func testR7DemoUsersImportAndGetTheirRoles() throws {
        let w = Workspace()
        var c = try Configuration.load(path: root + "/config/demo.conf")
        c.database = w.database
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let store = try w.store()
        _ = try store.accounts.importUsers(try UserImport.read(path: root + "/config/demo/users.csv"), file: "users.csv", actor: "test", now: Date())
        let run = w.sync(c)
        XCTAssertEqual(run.summary.linksMade, 4)
        func roles(_ u: String) throws -> [String] { try w.store().roles.of(u).calculated.map(\.label).sorted() }
        XCTAssertEqual(try roles("zobrien"), ["Admissions Evaluator", "Staff"], "the SIS email differs only in case")
        XCTAssertEqual(try roles("jnunez"), ["Staff"], "spaces and case")
        XCTAssertEqual(try roles("tbrown"), ["Admissions Evaluator", "Staff"])
        XCTAssertEqual(try roles("intern1"), [], "no staff record: may look, not record")
        XCTAssertEqual(try roles("fitzgerald"), ["Parent"])
        XCTAssertEqual(try roles("appl4001"), ["Applicant", "Parent"], "an applicant family with an enrolled child")
        XCTAssertEqual(try roles("sokafor"), ["Bus Rider (2026-2027)", "Student"])
        XCTAssertEqual(try roles("whitfield"), ["Annual Fund (2026-2027)"])
    }
}

/// The OneRoster demo bundle the README points to (config/demo-oneroster.conf).
final class BundledOneRosterDemoTests: XCTestCase {
    func testOneRosterDemoSyncs() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let w = Workspace()
        var c = try Configuration.load(path: root + "/config/demo-oneroster.conf")
        c.database = w.database
        let run = w.sync(c, at: Timestamp.parse("2026-11-23T08:00:00Z")!)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(run.summary.problems, [])
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT staff_id || ':' || title || ':' || school_ids || ':' || enabled || ':' || active FROM staff ORDER BY 1"), [
            "or-a1:Administrator:::1", "or-t1:Teacher:101::1", "or-t2:Teacher:101;102::1", "or-t3:Teacher:102::0", "or-x1:Aide:102:false:1",
        ])
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT student_id || ':' || enrollment_status FROM students ORDER BY 1"),
                       ["or-s1:Enrolled", "or-s2:Enrolled", "or-s3:Not enrolled"])
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT household_id || '/' || record_id || '/' || relationship FROM household_relationships ORDER BY 1"),
                       ["or-g1/or-s3/Guardian", "or-p1/or-s1/Parent", "or-p1/or-s2/Parent"])
    }
}
