import XCTest
@testable import SISync

/// Issue 17, sections 2 and 3: the `[guard]` thresholds per entity and per school, and the
/// unlink and revoke guards, on real runs against a real store (both stores).
final class GuardTests: XCTestCase {
    private func students(_ rows: [(id: String, school: String, year: String)]) -> String {
        "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\n"
            + rows.map { "\($0.id),Kim,Lee,,\($0.school),5,Enrolled,\($0.year)\n" }.joined()
    }

    private func schoolRows(schools: Int, each: Int, year: String = "2026-2027") -> [(id: String, school: String, year: String)] {
        (0..<schools).flatMap { s in (1...each).map { (id: "ST\(101 + s)-\($0)", school: String(101 + s), year: year) } }
    }

    func testR5EachEntityHasItsOwnPairAndEverydayChangesPass() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, students", guard: "students.max_deactivate_percent = 50\nstudents.max_deactivate_count = 30")
        XCTAssertEqual(c.guardSettings.deactivateLimit(for: .students), GuardLimit(percent: 50, count: 30))
        XCTAssertEqual(c.guardSettings.deactivateLimit(for: .staff), GuardLimit(percent: 10, count: 5), "the defaults")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        w.write("students.csv", students(schoolRows(schools: 1, each: 100)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        // Everyday turnover: 3 staff leave.
        w.write("staff.csv", staffCSV(Array(manyStaff(100).prefix(97))))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        // 40 students leave: 40% is under the students' own 50%.
        w.write("students.csv", students(Array(schoolRows(schools: 1, each: 100).prefix(60))))
        let students40 = w.sync(c)
        XCTAssertEqual(students40.summary.outcome, .applied, students40.summary.error ?? "")
        XCTAssertEqual(students40.summary.entities["students"]?.deactivated, 40)
        // 20 staff leave: over the district-wide pair, which still judges staff.
        w.write("staff.csv", staffCSV(Array(manyStaff(100).prefix(77))))
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked)
        XCTAssertEqual(held.summary.exitCode, 65)
        XCTAssertTrue(held.summary.error?.contains("20 of 97 active staff (20.6%, limits: 10% and 5 records)") == true, held.summary.error ?? "")
    }

    func testR5PerSchoolHoldsWhenOneSchoolLosesItsStudentsUnderTheDistrictShare() throws {
        let rows = schoolRows(schools: 10, each: 30)
        let withoutSchool104 = rows.filter { $0.school != "104" }
        // Without per_school: 30 of 300 (10%) is not over the district's 10%.
        let plain = Workspace()
        let c0 = plain.configure(entities: "staff, students")
        plain.write("staff.csv", staffCSV(manyStaff(10)))
        plain.write("students.csv", students(rows))
        _ = plain.sync(c0)
        plain.write("students.csv", students(withoutSchool104))
        XCTAssertEqual(plain.sync(c0).summary.outcome, .applied)

        let w = Workspace()
        let c = w.configure(entities: "staff, students", guard: "per_school = true\nper_school_min = 10")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        w.write("students.csv", students(rows))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("students.csv", students(withoutSchool104))
        let log = MemoryLog()
        let held = w.sync(c, log: log)
        XCTAssertEqual(held.summary.outcome, .blocked)
        XCTAssertTrue(held.summary.error?.contains("school 104: 30 of 30 active students (100%) would be deactivated; threshold 10% and 10") == true,
                      held.summary.error ?? "")
        XCTAssertEqual(log.events.first { $0.type == .guardBlocked }?.priority, .critical)
        XCTAssertEqual(try w.store().mirror.state(for: .students).activeCount(), 300, "nothing applied")
        // Nine students of one school leave: not more than per_school_min.
        w.write("students.csv", students(rows.filter { $0.school != "105" || Int($0.id.split(separator: "-")[1])! > 9 }))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
    }

    /// An SIS that moves staff to a new email domain removes every auto link (R6): held,
    /// with the alias that keeps them.
    func testR5R6UnlinkGuardHoldsADomainChangeAndNamesTheAlias() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(30)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("/\(w.root)/users.csv", "username,email\n" + (1...30).map { "u\($0),user\($0)@district.org\n" }.joined())
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/users.csv"]).code, 0)
        XCTAssertEqual(w.sync(c).summary.linksMade, 30)
        w.write("staff.csv", staffCSV(manyStaff(30).map { ($0.0, $0.1, $0.2, $0.3.replacingOccurrences(of: "@district.org", with: "@k12.district.org")) }))
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked)
        let error = held.summary.error ?? ""
        XCTAssertTrue(error.contains("the run would remove 30 of 30 auto links (100%, limits: 10% and 20 links)"), error)
        XCTAssertTrue(error.contains("`[linking] email_domain_aliases = k12.district.org = district.org`"), error)
        XCTAssertEqual(try w.store().accounts.autoLinkCount(), 30, "nothing applied")
        // With the alias the users keep their links.
        let aliased = w.configure(linking: "email_domain_aliases = k12.district.org = district.org")
        let run = w.sync(aliased)
        XCTAssertNotEqual(run.summary.outcome, .blocked, run.summary.error ?? "")
        XCTAssertEqual(run.summary.linksRemoved, 0)
        XCTAssertEqual(try w.store().accounts.autoLinkCount(), 30)
    }

    /// R7 recomputes roles on every run; a run that would take the Student role from most
    /// students (the SIS rolled the school year over early) is held, and rolls back whole.
    func testR5R7RevokeGuardHoldsAMassRevocation() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        let rows = schoolRows(schools: 1, each: 60)
        w.write("staff.csv", staffCSV(manyStaff(3)))
        w.write("students.csv", students(rows))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("/\(w.root)/users.csv", "username,email,student_id\n" + rows.map { "\($0.id.lowercased()),\($0.id.lowercased())@students.org,\($0.id)\n" }.joined())
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/users.csv"]).code, 0)
        XCTAssertEqual(w.sync(c).summary.rolesGranted, 60)
        w.write("students.csv", students(schoolRows(schools: 1, each: 60, year: "2027-2028")))
        let before = try w.dump().filter { !$0.hasPrefix("runs:") && !$0.hasPrefix("held_plans:") }
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked)
        XCTAssertTrue(held.summary.error?.contains("the run would revoke 60 of 60 calculated roles (100%, limits: 20% and 50 roles)") == true, held.summary.error ?? "")
        XCTAssertEqual(held.summary.rolesRevoked, 60, "the held run's record says what it would have revoked")
        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") && !$0.hasPrefix("held_plans:") }, before, "records, roles and the change log rolled back")
        // A dry run says the same.
        XCTAssertEqual(w.sync(c, dryRun: true).summary.outcome, .blocked)
        let allowed = w.sync(c, allow: true)
        XCTAssertEqual(allowed.summary.outcome, .applied)
        XCTAssertEqual(allowed.summary.rolesRevoked, 60)
    }

    func testGuardKeysAreValidatedAndTheOldSpellingIsAnAlias() throws {
        let w = Workspace()
        let old = w.configure(sync: "max_deactivate_percent = 25\nmax_deactivate_count = 7")
        XCTAssertEqual(old.guardSettings.deactivate, GuardLimit(percent: 25, count: 7))
        let c = w.configure(guard: "max_deactivate_percent = 30%\nmax_unlink_percent = 5\nmax_unlink_count = 2\nmax_revoke_percent = 50\nmax_revoke_count = 9\nper_school = yes\nper_school_min = 4")
        XCTAssertEqual(c.guardSettings.deactivate.percent, 30)
        XCTAssertEqual(c.guardSettings.unlink, GuardLimit(percent: 5, count: 2))
        XCTAssertEqual(c.guardSettings.revoke, GuardLimit(percent: 50, count: 9))
        XCTAssertTrue(c.guardSettings.perSchool)
        XCTAssertEqual(c.guardSettings.perSchoolMin, 4)
        for (text, expected) in [
            ("[sync]\nmax_deactivate_count = 5\n[guard]\nmax_deactivate_count = 6\n", "sisync.conf:4: [guard] max_deactivate_count"),
            ("[guard]\nper_school = maybe\n", "per_school"),
            ("[guard]\nmax_revoke_percent = 120\n", "a percentage from 0 to 100"),
            ("[guard]\nteachers.max_deactivate_count = 3\n", "teachers.max_deactivate_count"),
        ] {
            XCTAssertThrowsError(try Configuration.parse(text: text + "[source]\nurl = /x/\n", path: "/etc/sisync/sisync.conf")) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
                XCTAssertNotNil(e as? ConfigError, "exit 78")
            }
        }
    }

    func testDomainChangeIsOnlyADifferentDomain() {
        XCTAssertEqual(DomainChange.between(userKey: "jane@district.org", staffKey: "jane@k12.district.org"),
                       DomainChange(staffDomain: "k12.district.org", userDomain: "district.org"))
        XCTAssertNil(DomainChange.between(userKey: "jane@district.org", staffKey: "jdoe@k12.district.org"))
        XCTAssertNil(DomainChange.between(userKey: "jane@district.org", staffKey: "jane@district.org"))
        XCTAssertNil(DomainChange.between(userKey: "jane", staffKey: "jane@district.org"))
    }
}
