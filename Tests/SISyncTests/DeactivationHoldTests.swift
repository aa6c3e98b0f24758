import XCTest
@testable import SISync

/// Issue 17, section 4: summer holds (`[sync] hold_deactivations`). Inside a window absent
/// records are marked missing, not deactivated; after it the first run deactivates those
/// still absent, under the guard; `status = inactive` deactivates at once throughout.
final class DeactivationHoldTests: XCTestCase {
    private func day(_ text: String) -> Date { Timestamp.parse(text + "T12:00:00Z")! }

    func testWindowsIncludingTheYearWrap() throws {
        let summer = try XCTUnwrap(DeactivationHold(parsing: "06-15..08-31"))
        XCTAssertNil(summer.lastDay(containing: day("2027-06-14")))
        XCTAssertEqual(summer.lastDay(containing: day("2027-06-15")), "2027-08-31")
        XCTAssertEqual(summer.lastDay(containing: day("2027-08-31")), "2027-08-31")
        XCTAssertNil(summer.lastDay(containing: day("2027-09-01")))
        let winter = try XCTUnwrap(DeactivationHold(parsing: " 12-20 .. 01-05 "))
        XCTAssertEqual(winter.lastDay(containing: day("2026-12-25")), "2027-01-05", "the window wraps the year end")
        XCTAssertEqual(winter.lastDay(containing: day("2027-01-05")), "2027-01-05")
        XCTAssertNil(winter.lastDay(containing: day("2027-01-06")))
        XCTAssertNil(winter.lastDay(containing: day("2026-12-19")))
        XCTAssertEqual(DeactivationHold.lastDay(of: [summer, winter], containing: day("2026-12-31")), "2027-01-05")
        for bad in ["13-01..02-01", "06-31..07-01", "6-15..08-31", "06-15", "06-15..08-31..09-01", ""] {
            XCTAssertNil(DeactivationHold(parsing: bad), bad)
        }
        let w = Workspace()
        XCTAssertEqual(w.configure(sync: "hold_deactivations = 06-15..08-31, 12-20..01-05").holdDeactivations, [summer, winter])
        XCTAssertThrowsError(try Configuration.parse(text: "[sync]\nhold_deactivations = 06-15..13-01\n[source]\nurl = /x/\n", path: "/etc/sisync/sisync.conf")) { e in
            XCTAssertTrue("\(e)".contains("sisync.conf:2: [sync] hold_deactivations"), "\(e)")
            XCTAssertTrue("\(e)".contains("MM-DD..MM-DD"), "\(e)")
        }
    }

    func testR4R5SummerHoldMarksMissingThenTheFirstRunAfterDeactivatesUnderTheGuard() throws {
        let w = Workspace()
        let c = w.configure(sync: "hold_deactivations = 06-15..08-31")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(w.sync(c, at: day("2027-06-01")).summary.outcome, .applied)
        // Roll-over: 40 staff vanish from the export, and S1 is marked inactive in the SIS.
        w.write("staff.csv", staffCSV(Array(manyStaff(60)), status: ["S1": "inactive"]))
        let held = w.sync(c, at: day("2027-06-20"))
        XCTAssertEqual(held.summary.outcome, .applied, held.summary.error ?? "")
        XCTAssertEqual(held.summary.staff.deactivated, 1, "an explicit inactive status deactivates at once")
        let store = try w.store()
        XCTAssertFalse(try XCTUnwrap(store.mirror.staffMember(id: "S1")).active)
        let s80 = try XCTUnwrap(store.mirror.staffMember(id: "S80"))
        XCTAssertTrue(s80.active)
        XCTAssertEqual(s80.missingSince, "2027-06-20T12:00:00Z")
        // Still inside: the same export, a month later, deactivates nothing and keeps the date.
        let july = w.sync(c, at: day("2027-07-20"))
        XCTAssertEqual(july.summary.staff.deactivated, 0)
        XCTAssertEqual(try XCTUnwrap(store.mirror.staffMember(id: "S80")).missingSince, "2027-06-20T12:00:00Z")
        XCTAssertEqual(Scheduler.statusLine(july.summary, next: day("2027-07-20"), heldUntil: c.deactivationsHeld(on: day("2027-07-20")),
                                                timeZone: TimeZone(identifier: "UTC")!).hasSuffix("; deactivations on hold until 2027-08-31"), true)
        // The first run after the window: 40 of 99 is a mass deactivation (R5), held.
        let after = w.sync(c, at: day("2027-09-01"))
        XCTAssertEqual(after.summary.outcome, .blocked)
        XCTAssertTrue(after.summary.error?.contains("40 of 99 active staff") == true, after.summary.error ?? "")
        let allowed = w.sync(c, allow: true, at: day("2027-09-01"))
        XCTAssertEqual(allowed.summary.staff.deactivated, 40)
        XCTAssertFalse(try XCTUnwrap(store.mirror.staffMember(id: "S80")).active)
        // One who comes back during a later hold is simply active again.
        XCTAssertNil(try XCTUnwrap(store.mirror.staffMember(id: "S80")).missingSince)
    }

    func testStatusSaysDeactivationsAreOnHold() throws {
        let w = Workspace()
        let c = w.configure(sync: "hold_deactivations = 01-01..12-31")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        _ = w.sync(c)
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
        let text = w.ctl(["status"])
        XCTAssertEqual(text.code, 0, text.err)
        XCTAssertTrue(text.out.contains("deactivations: on hold until \(year)-12-31"), text.out)
        let json = w.ctl(["--json", "status"])
        XCTAssertTrue(json.out.contains("\"deactivations_held_until\": \"\(year)-12-31\""), json.out)
        let plain = Workspace()
        _ = plain.configure()
        plain.write("staff.csv", staffCSV(manyStaff(3)))
        _ = plain.sync(plain.configure())
        XCTAssertFalse(plain.ctl(["status"]).out.contains("on hold"))
    }
}
