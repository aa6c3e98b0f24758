import XCTest
@testable import SISync

/// Issue 17, section 5: `[source] schools` manages only some schools' records (R4 with a
/// scope), on real runs against a real store (both stores).
final class SchoolScopeTests: XCTestCase {
    private let all = "staff, students, households, household_relationships, applicants, donors, attributes"

    /// Two schools' staff (T1 teaches at both), students, their families, an applicant's
    /// family, a donor and attributes of each kind of record.
    private func writeDistrict(_ w: Workspace, studentSchool: [String: String] = [:]) {
        w.write("staff.csv", """
            staff_id,first_name,last_name,email,title,school_ids,status
            T1,Ana,Lima,ana@district.org,Teacher,101;102,active
            T2,Bo,Ray,bo@district.org,Teacher,101,active
            T3,Cy,Roe,cy@district.org,Teacher,102,active
            T4,Di,Vale,di@district.org,Teacher,103,active
            """)
        let school = { (id: String, fallback: String) in studentSchool[id] ?? fallback }
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,,\(school("ST1", "101")),5,Enrolled,2026-2027
            ST2,Lee,Ray,,\(school("ST2", "102")),6,Enrolled,2026-2027
            ST3,Max,Roe,,\(school("ST3", "103")),7,Enrolled,2026-2027
            """)
        w.write("households.csv", "household_id,name\nH1,Lima family\nH2,Ray family\nH3,Roe family\nH4,Applicant family\n")
        w.write("household_relationships.csv", """
            household_id,record_type,record_id,relationship
            H1,student,ST1,Parent
            H2,student,ST2,Parent
            H3,student,ST3,Parent
            H4,applicant,A1,Parent
            """)
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Nia,Vale,Accepted,T4\n")
        w.write("donors.csv", "donor_id,name,email\nD1,Friends of Riverside,friends@example.org\n")
        w.write("attributes.csv", """
            record_type,record_id,attribute,school_year
            student,ST1,Honor Roll,2026-2027
            student,ST3,Honor Roll,2026-2027
            household,H3,Volunteer,2026-2027
            donor,D1,Gold,2026-2027
            """)
    }

    private func active(_ w: Workspace, _ kind: EntityKind) throws -> Set<String> {
        let store = try w.store()
        var keys = Set<String>()
        try store.database.prepare("SELECT \(kind.keyColumns.joined(separator: " || '/' || ")) FROM \(kind.table) WHERE active").forEachRow {
            keys.insert($0.text(0))
        }
        return keys
    }

    func testOnlyTheScopedSchoolsRecordsAreAdded() throws {
        let w = Workspace()
        let log = MemoryLog()
        let c = w.configure(sync: "school_year = 2026-2027", source: "schools = 101, 102", entities: all)
        XCTAssertEqual(c.schoolScope, SchoolScope(schools: ["101", "102"]))
        writeDistrict(w)
        let run = w.sync(c, log: log)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try active(w, .staff), ["T1", "T2", "T3"])
        XCTAssertEqual(try active(w, .students), ["ST1", "ST2"])
        XCTAssertEqual(try active(w, .households), ["H1", "H2", "H4"], "the scoped students' families, and the applicant's")
        XCTAssertEqual(try active(w, .householdRelationships), ["H1/student/ST1", "H2/student/ST2", "H4/applicant/A1"])
        XCTAssertEqual(try active(w, .applicants), ["A1"], "applicants have no school")
        XCTAssertEqual(try active(w, .donors), ["D1"])
        XCTAssertEqual(try active(w, .attributes), ["student/ST1/Honor Roll/2026-2027", "donor/D1/Gold/2026-2027"])
        XCTAssertFalse(log.events.contains { $0.message.contains("[source] schools names") })
        // The same export is unchanged (R3); a typo in the list is named.
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged)
        let typo = w.configure(sync: "school_year = 2026-2027", source: "schools = 101, 102, 1O4", entities: all)
        let typoLog = MemoryLog()
        _ = w.sync(typo, log: typoLog)
        XCTAssertTrue(typoLog.events.contains { $0.message.contains("[source] schools names 1O4, which no staff member or student") },
                      typoLog.events.map(\.message).joined(separator: "\n"))
    }

    /// A student who moves to a school outside the scope leaves it: absent, so deactivated
    /// (her family and attribute with her); one who moves in is added.
    func testR4ARecordThatLeavesTheScopeIsDeactivated() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", source: "schools = 101, 102", entities: all)
        writeDistrict(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        writeDistrict(w, studentSchool: ["ST1": "103", "ST3": "102"])
        let moved = w.sync(c)
        XCTAssertEqual(moved.summary.outcome, .applied, moved.summary.error ?? "")
        XCTAssertEqual(try active(w, .students), ["ST2", "ST3"])
        XCTAssertEqual(try active(w, .households), ["H2", "H3", "H4"])
        XCTAssertEqual(try active(w, .attributes), ["student/ST3/Honor Roll/2026-2027", "household/H3/Volunteer/2026-2027", "donor/D1/Gold/2026-2027"])
        let st1 = try XCTUnwrap(w.store().mirror.state(for: .students).record(forKey: "ST1"))
        XCTAssertFalse(st1.active, "kept, inactive (R4)")
        // Narrowing the scope on the same export plans it again (not `unchanged`, R3).
        let narrow = w.configure(sync: "school_year = 2026-2027", source: "schools = 102", entities: all)
        let narrowed = w.sync(narrow)
        XCTAssertEqual(narrowed.summary.outcome, .applied, narrowed.summary.error ?? "")
        XCTAssertEqual(try active(w, .staff), ["T1", "T3"])
        // Removing the scope brings everyone back.
        let wide = w.configure(sync: "school_year = 2026-2027", entities: all, guard: "max_deactivate_percent = 100")
        XCTAssertEqual(w.sync(wide).summary.outcome, .applied)
        XCTAssertEqual(try active(w, .staff), ["T1", "T2", "T3", "T4"])
        XCTAssertEqual(try active(w, .students), ["ST1", "ST2", "ST3"])
    }

    /// A scope first set on a full mirror deactivates every other school's records: the
    /// guard holds that run for review, and an approval applies it.
    func testR5AScopeFirstSetOnAFullMirrorIsHeldForReview() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff")
        w.write("staff.csv", """
            staff_id,first_name,last_name,email,title,school_ids,status
            \((1...40).map { "S\($0),F,L,s\($0)@district.org,Teacher,\($0 <= 10 ? "101" : "102"),active" }.joined(separator: "\n"))
            """)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let scoped = w.configure(source: "schools = 101", entities: "staff")
        let held = w.sync(scoped)
        XCTAssertEqual(held.summary.outcome, .blocked)
        XCTAssertTrue(held.summary.error?.contains("30 of 40 active staff") == true, held.summary.error ?? "")
        let id = try XCTUnwrap(held.summary.runID)
        XCTAssertEqual(try w.store().mirror.state(for: .staff).activeCount(), 40, "nothing applied")
        let approved = w.ctl(["run", "approve", String(id)])
        XCTAssertEqual(approved.code, 0, approved.err)
        XCTAssertEqual(try active(w, .staff), Set((1...10).map { "S\($0)" }))
        XCTAssertEqual(w.sync(scoped).summary.outcome, .unchanged)
    }

    /// A student whose row is skipped for a bad value (R2) keeps her family and attributes
    /// under a scope too.
    func testR2ASkippedStudentRowKeepsWhatDependsOnIt() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", source: "schools = 101, 102", entities: all)
        writeDistrict(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let students = (try? String(contentsOfFile: w.exportDir + "/students.csv", encoding: .utf8)) ?? ""
        w.write("students.csv", students.replacingOccurrences(of: "ST1,Kim,Lima,,101", with: "ST1,Kim,Lima,not-an-email,101"))
        let run = w.sync(c)
        XCTAssertEqual(run.summary.problems.count, 1, run.summary.problems.joined())
        XCTAssertEqual(try active(w, .students), ["ST1", "ST2"])
        XCTAssertEqual(try active(w, .households), ["H1", "H2", "H4"])
        XCTAssertEqual(try active(w, .householdRelationships), ["H1/student/ST1", "H2/student/ST2", "H4/applicant/A1"])
        XCTAssertTrue(try active(w, .attributes).contains("student/ST1/Honor Roll/2026-2027"))
    }

    /// A OneRoster-style delta lists only what changed: a student it does not list keeps her
    /// scope from the mirror, and one it lists at another school leaves the scope.
    func testADeltaIsJudgedWithTheMirrorsStudents() throws {
        var students = EntityRows(kind: .students, source: "students.csv")
        students.isDelta = true
        try students.append(key: "ST2", values: ["Lee", "Ray", "", "103", "6", "Enrolled", "2026-2027"].map { Array($0.utf8)[...] }, inactive: false, location: 2)
        var relationships = EntityRows(kind: .householdRelationships, source: "household_relationships.csv")
        relationships.isDelta = true
        try relationships.append(key: RecordKey.join(["H1", "student", "ST1"]), values: [Array("Parent".utf8)[...]], inactive: false, location: 2)
        try relationships.append(key: RecordKey.join(["H2", "student", "ST2"]), values: [Array("Parent".utf8)[...]], inactive: false, location: 3)
        var households = EntityRows(kind: .households, source: "households.csv")
        households.isDelta = true
        try households.append(key: "H9", values: [Array("Renamed family".utf8)[...]], inactive: false, location: 2)
        let masks = SchoolScope(schools: ["101"]).rowsInScope([.students: students, .householdRelationships: relationships, .households: households]) { id in
            id == "ST1" ? "101" : nil
        }
        XCTAssertEqual(masks[.students], [false], "ST2 moved to 103")
        XCTAssertEqual(masks[.householdRelationships], [true, false], "ST1 is in scope in the mirror")
        XCTAssertEqual(masks[.households], [true], "a household the delta's relationships do not mention stays")
    }

    func testSchoolsKeyIsValidated() throws {
        for bad in ["schools =", "schools = ,", "schools = 101;102"] {
            XCTAssertThrowsError(try Configuration.parse(text: "[source]\nformat = csv\nurl = /x/\n\(bad)\n", path: "/etc/sisync/sisync.conf"), bad) { e in
                XCTAssertTrue("\(e)".contains("sisync.conf:4: [source] schools"), "\(e)")
            }
        }
        let scope = SchoolScope(schools: ["102", "101"])
        XCTAssertEqual(scope.basis, "schools=101,102")
        XCTAssertNotEqual(scope.qualify("abc"), SchoolScope(schools: ["101"]).qualify("abc"))
    }
}
