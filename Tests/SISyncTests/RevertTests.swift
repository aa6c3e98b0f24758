import XCTest
@testable import SISync

/// `sisyncctl run revert ID`: the latest changing run is undone as a new run.
final class RevertTests: XCTestCase {
    private struct Snapshot: Equatable {
        var staff: [String]
        var links: [String]
        var roles: [String]
        var approved: [String]
    }

    private func snapshot(_ w: Workspace) throws -> Snapshot {
        let db = try w.rawDatabase()
        func rows(_ sql: String) throws -> [String] {
            var out: [String] = []
            try db.prepare(sql).forEachRow { r in out.append((0..<r.columnCount).map { r.text($0) }.joined(separator: "|")) }
            return out
        }
        return Snapshot(staff: try rows("SELECT staff_id, first_name, last_name, email, active FROM staff ORDER BY staff_id"),
                        links: try rows("SELECT username, staff_id, kind FROM links ORDER BY username"),
                        roles: try rows("SELECT username, role, source FROM user_roles ORDER BY username, role"),
                        approved: try rows("SELECT username, approved FROM users ORDER BY username"))
    }

    func testR8RevertRestoresFieldsStatusesLinksAndRolesOfTheLatestRunOnly() throws {
        let w = Workspace()
        let c = w.configure(sync: "on_staff_deactivated = unapprove")
        w.write("staff.csv", staffCSV(manyStaff(20)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for i in 1...12 { XCTAssertEqual(w.ctl(["user", "add", "--username", "u\(i)", "--email", "user\(i)@district.org", "--approved"]).code, 0) }
        XCTAssertEqual(w.ctl(["user", "role", "add", "u1", "Finance"]).code, 0)
        let linking = w.sync(c)
        XCTAssertEqual(linking.summary.linksMade, 12)
        let before = try snapshot(w)
        // A bad export, pushed through the guard by mistake: half the staff gone, a rename, a new hire.
        var bad = Array(manyStaff(20).prefix(10))
        bad[1].2 = "Renamed"
        bad.append(("S99", "New", "Hire", "new@district.org"))
        w.write("staff.csv", staffCSV(bad))
        let mistake = w.sync(c, allow: true)
        XCTAssertEqual(mistake.summary.staff.deactivated, 10)
        XCTAssertFalse(try XCTUnwrap(w.store().accounts.user("u11")).approved)
        XCTAssertEqual(try w.store().roles.of("u11").calculated, [])
        let mistakeID = try XCTUnwrap(mistake.summary.runID)

        let older = w.ctl(["run", "revert", String(try XCTUnwrap(linking.summary.runID))])
        XCTAssertEqual(older.code, 1)
        XCTAssertTrue(older.err.contains("is not the latest run that changed anything (run \(mistakeID) is)"), older.err)

        let reverted = w.ctl(["--json", "run", "revert", String(mistakeID)], user: "principal")
        XCTAssertEqual(reverted.code, 0, reverted.err)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(reverted.out.utf8)) as? [String: Any])
        XCTAssertEqual(json["reverts"] as? Int, Int(mistakeID))
        var after = try snapshot(w)
        XCTAssertEqual(after.staff.last, "S99|New|Hire|new@district.org|0", "a record the run added becomes inactive, never deleted")
        after.staff.removeLast()
        XCTAssertEqual(after, before, "fields, statuses, approvals, links and roles as before the run")
        let revertRun = try XCTUnwrap(w.store().auditTrail.runs(limit: 1).first)
        XCTAssertEqual(revertRun.reverts, mistakeID)
        XCTAssertEqual(revertRun.actor, "principal")
        XCTAssertEqual(revertRun.staff.reactivated, 10)
        let changes = try w.store().auditTrail.changes(runID: revertRun.runID!).map(\.change)
        XCTAssertTrue(changes.contains(Change(entity: "staff", id: "S2", field: "last_name", old: "Renamed", new: "Last2", kind: .updated)))

        // A run cannot be reverted twice; the revert itself is now the latest.
        XCTAssertEqual(w.ctl(["run", "revert", String(mistakeID)]).code, 1)
        // R3 does not hide the difference: the next run compares the same export again, and the
        // guard stops it this time.
        let next = w.sync(c)
        XCTAssertEqual(next.summary.outcome, .blocked)
        XCTAssertEqual(w.ctl(["run", "revert", "999"]).code, 1)
    }
}
