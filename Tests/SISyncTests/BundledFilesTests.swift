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

    func testDemoSchoolSyncsFromCSVAndJSONAlike() throws {
        let w = Workspace()
        var csv = try Configuration.load(path: root + "/config/demo.conf")
        csv.database = w.database
        let first = w.sync(csv)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        XCTAssertEqual(first.summary.staff.added, 60)
        XCTAssertEqual(first.summary.problems, [])
        XCTAssertEqual(try w.store().staff(filter: .inactive, search: nil).count, 2)
        XCTAssertTrue(try w.store().staff(filter: .all, search: "O'Brien").contains { $0.firstName == "Zoë" })

        // The same school as one JSON document: nothing to change.
        var json = csv
        json.format = .json
        json.url = root + "/config/demo/export.json"
        let second = w.sync(json)
        XCTAssertEqual(second.summary.outcome, .applied, second.summary.error ?? "")
        XCTAssertEqual(second.plan?.changes(), [], "CSV and JSON demo exports carry the same data")
    }
}
