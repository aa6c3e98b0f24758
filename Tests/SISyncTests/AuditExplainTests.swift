import XCTest
@testable import SISync

/// `sisyncctl audit` and `sisyncctl explain`, on whole runs.
final class AuditExplainTests: XCTestCase {
    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testR6AuditReportsTheCrossLinkOfTheSeedsAndSyncNeverRepairsIt() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("2001", "John", "Doe", "john.doe@district.org"),
                                       ("3001", "Al", "Twin", "twin@district.org"), ("3002", "Bo", "Twin", "TWIN@district.org"),
                                       ("4001", "Old", "Timer", "old@district.org")]))
        _ = w.sync(c)
        for args in [["user", "add", "--username", "jdoe", "--email", "john.doe@district.org"],
                     ["user", "link", "jdoe", "1042", "--reason", "intern recording for Ms Smith"],
                     ["user", "add", "--username", "twin", "--email", "twin@district.org"],
                     ["user", "add", "--username", "old", "--email", "old@district.org"],
                     ["user", "add", "--username", "bursar", "--email", "bursar@district.org"],
                     ["user", "ledger", "add", "bursar", "General Fund"], ["user", "school", "add", "bursar", "101"],
                     ["user", "add", "--username", "cfo", "--email", "cfo@district.org"],
                     ["user", "ledger", "add", "cfo", "General Fund"], ["user", "role", "add", "cfo", "Finance"]] {
            let r = w.ctl(args)
            XCTAssertEqual(r.code, 0, "\(args) \(r.err)")
        }
        _ = w.sync(c)
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("2001", "John", "Doe", "john.doe@district.org"),
                                       ("3001", "Al", "Twin", "twin@district.org"), ("3002", "Bo", "Twin", "TWIN@district.org"),
                                       ("4001", "Old", "Timer", "old@district.org")], status: ["4001": "inactive"]))
        _ = w.sync(c)
        let text = w.ctl(["audit"])
        XCTAssertEqual(text.code, 0, text.err)
        XCTAssertTrue(text.out.contains("two active staff share twin@district.org: 3001, 3002"), text.out)
        XCTAssertTrue(text.out.contains("jdoe <john.doe@district.org> is linked to staff 1042 <jane.smith@district.org>; reason: intern recording for Ms Smith"), text.out)
        XCTAssertTrue(text.out.contains("old → staff 4001, inactive since"), text.out)
        let report = try json(w.ctl(["--json", "audit"]).out)
        let cross = try XCTUnwrap(report["cross_links"] as? [[String: Any]])
        XCTAssertEqual(cross.count, 1)
        XCTAssertEqual(cross.first?["username"] as? String, "jdoe")
        XCTAssertEqual(cross.first?["staff_email"] as? String, "jane.smith@district.org")
        XCTAssertEqual(cross.first?["reason"] as? String, "intern recording for Ms Smith")
        XCTAssertEqual((report["ambiguous_emails"] as? [[String: Any]])?.first?["staff_ids"] as? [String], ["3001", "3002"])
        XCTAssertEqual((report["linked_to_inactive"] as? [[String: Any]])?.first?["username"] as? String, "old")
        XCTAssertEqual(report["ledgers_without_finance"] as? [String], ["bursar"], "cfo has Finance")
        XCTAssertEqual(report["schools_without_staff_link"] as? [String], ["bursar"])
        // Intentional, with a reason: it stays, run after run.
        _ = w.sync(c, force: true)
        XCTAssertEqual(try w.store().accounts.user("jdoe")?.link, Link(staffID: "1042", kind: .manual, reason: "intern recording for Ms Smith"))
        // The explanation says what the link means.
        let e = try json(w.ctl(["--json", "explain", "jdoe"]).out)
        let why = try XCTUnwrap((e["link"] as? [String: Any])?["why"] as? String)
        XCTAssertTrue(why.contains("linked by hand to staff member 1042 (Jane Smith) by admin on"), why)
        XCTAssertTrue(why.contains("entries made by this user appear under Jane Smith's name"), why)
        // Once unlinked, the next run links John to his own record and the audit is clean of it.
        XCTAssertEqual(w.ctl(["user", "unlink", "jdoe"]).code, 0)
        _ = w.sync(c)
        XCTAssertEqual(try w.store().accounts.user("jdoe")?.link?.staffID, "2001")
        XCTAssertEqual((try json(w.ctl(["--json", "audit"]).out)["cross_links"] as? [Any])?.count, 0)
    }

    func testR7ExplainGivesReasonsForRolesAndForTheOnesMissing() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        w.write("staff.csv", staffCSV([("1042", "J", "Doe", "jdoe@district.org"), ("1043", "J", "Doe", "JDoe@district.org"),
                                       ("S1", "Ana", "Lima", "ana@district.org")]))
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,,101,5,Enrolled,2026-2027
            ST2,Lee,Ray,,101,5,Withdrawn,2026-2027
            ST3,Max,Roe,,101,6,Enrolled,2025-2026
            """)
        w.write("households.csv", "household_id,name\nH1,Lima family\nH3,Aunt Rosa\n")
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\nH3,student,ST1,Aunt\nH1,applicant,A2,Parent\n")
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Nia,Vale,Accepted,S1\nA2,Oto,Lima,Copied,\n")
        w.write("donors.csv", "donor_id,name,email\n")
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\n")
        _ = w.sync(c)
        for args in [["user", "add", "--username", "jdoe", "--email", "jdoe@district.org"],
                     ["user", "add", "--username", "ana", "--email", "ana@district.org"],
                     ["user", "add", "--username", "kim", "--email", "kim@home.org"], ["user", "attach", "kim", "--student", "ST1"],
                     ["user", "add", "--username", "lee", "--email", "lee@home.org"], ["user", "attach", "lee", "--student", "ST2"],
                     ["user", "attach", "lee", "--student", "ST3"],
                     ["user", "add", "--username", "mom", "--email", "mom@home.org"], ["user", "attach", "mom", "--household", "H1"],
                     ["user", "add", "--username", "rosa", "--email", "rosa@home.org"], ["user", "attach", "rosa", "--household", "H3"],
                     ["user", "role", "add", "mom", "PTA Chair"]] {
            let r = w.ctl(args)
            XCTAssertEqual(r.code, 0, "\(args) \(r.err)")
        }
        func why(_ user: String, _ role: String, missing: Bool = false) throws -> String {
            let e = try json(w.ctl(["--json", "explain", user]).out)
            let list = try XCTUnwrap(e[missing ? "not_granted" : "roles"] as? [[String: Any]])
            return try XCTUnwrap(list.first { $0["name"] as? String == role }?["why"] as? String, "\(user) \(role): \(list)")
        }
        // Before the run: the data supports roles the user does not hold yet.
        XCTAssertTrue(try why("kim", "Student", missing: true).contains("the next run grants it"))
        _ = w.sync(c)
        XCTAssertEqual(try why("jdoe", "Staff", missing: true),
                       "not linked: two active staff share jdoe@district.org: 1042, 1043; fix the emails in the SIS or link the user by hand")
        XCTAssertEqual(try why("ana", "Staff"), "linked to active staff member S1 (Ana Lima)")
        XCTAssertEqual(try why("ana", "Admissions Evaluator"), "linked staff member S1 evaluates applicant A1 (Nia Vale)")
        XCTAssertEqual(try why("kim", "Student"), "attached to student ST1 (Kim Lima), enrolled for 2026-2027")
        XCTAssertEqual(try why("kim", "Honor Roll"), "student ST1 has the attribute Honor Roll for 2026-2027")
        XCTAssertEqual(try why("kim", "Parent", missing: true), "not attached to a household and not paired with a student by access code")
        let lee = try why("lee", "Student", missing: true)
        XCTAssertTrue(lee.contains("student ST2 (Lee Ray) is Withdrawn for 2026-2027"), lee)
        XCTAssertTrue(lee.contains("student ST3 (Max Roe) is enrolled for 2025-2026, not the current school year 2026-2027"), lee)
        XCTAssertEqual(try why("mom", "Parent"), "household H1 is Parent of student ST1 (Kim Lima), enrolled for 2026-2027")
        XCTAssertEqual(try why("mom", "Applicant", missing: true), "household H1 is Parent of applicant A2 (Oto Lima), whose status is Copied (now a student)")
        XCTAssertTrue(try why("mom", "PTA Chair").hasPrefix("given by hand by admin on"))
        XCTAssertEqual(try why("rosa", "Parent", missing: true),
                       "household H3 is Aunt of student ST1 (Kim Lima); Aunt is not one of parent_relationships (parent, guardian)")
        let text = w.ctl(["explain", "kim"])
        XCTAssertEqual(text.code, 0)
        XCTAssertTrue(text.out.contains("Student [calculated]: attached to student ST1"), text.out)
        XCTAssertEqual(w.ctl(["explain", "nobody"]).code, 1)
        // Detached by hand: the role is held until the next run, and explain says so.
        XCTAssertEqual(w.ctl(["user", "detach", "kim", "--student", "ST1"]).code, 0)
        let held = try why("kim", "Student")
        XCTAssertTrue(held.hasPrefix("granted by an earlier run, but the data no longer supports it: not attached to a student record"), held)
        XCTAssertTrue(held.hasSuffix("the next run revokes it"), held)
        _ = w.sync(c)
        XCTAssertEqual(try why("kim", "Student", missing: true), "not attached to a student record")
    }
}
