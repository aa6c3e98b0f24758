import Foundation
import XCTest
@testable import SISync

/// OneRoster 1.1 and 1.2 CSV bundles (README, "Connecting to OneRoster"): mapping, delta files, messy files.
final class OneRosterTests: XCTestCase {
    static let people = "staff, students, households, household_relationships"
    private let day = Timestamp.parse("2026-11-23T08:00:00Z")!

    /// A 1.1 bulk bundle written the way real exports are: a BOM, CRLF, mixed-case headers
    /// and roles, dates with a time, lists in quotes.
    static func writeBundle11(_ w: Workspace, dir: String = "bundle", users: String? = nil, mode: String = "bulk",
                              enrollments: String? = nil) {
        let crlf: (String) -> String = { $0.replacingOccurrences(of: "\n", with: "\r\n") }
        w.write("\(dir)/manifest.csv", crlf("""
            propertyName,value
            manifest.version,1.0
            oneroster.version,1.1
            file.academicSessions,\(mode == "delta" ? "absent" : "bulk")
            file.classes,\(mode == "delta" ? "absent" : "bulk")
            file.courses,absent
            file.enrollments,\(enrollments == nil && mode == "delta" ? "absent" : mode)
            file.orgs,\(mode == "delta" ? "absent" : "bulk")
            file.users,\(mode)

            """))
        w.write("\(dir)/users.csv", "\u{FEFF}" + crlf(users ?? """
            SourcedId,Status,DateLastModified,EnabledUser,OrgSourcedIds,Role,Username,UserIds,GivenName,FamilyName,MiddleName,Identifier,Email,Sms,Phone,AgentSourcedIds,Grades,Password
            t1,active,2017-05-06 08:01:05,true,sch1,Teacher,ann,,Ann,Lee,,,ann.lee@district.org,,,,,
            t2,,2017-05-06,FALSE,"sch1,dist",administrator,bob,,Bob,Ray,,,bob.ray@district.org,,,,,
            a1,active,,1,sch2,AIDE,cy,,Cy,Ng,,,cy.ng@district.org,,,,,
            s1,active,,true,sch1,student,s1,,Sam,Lee,,,,,,p1,05,
            s2,active,,true,sch1,Student,s2,,Tia,Fox,,,,,,,05,
            s3,tobedeleted,,true,sch1,student,s3,,Uma,Fox,,,,,,,06,
            p1,active,,true,sch1,parent,p1,,Pat,Lee,,,pat@home.org,,,,,
            g1,active,,true,sch1,Guardian,g1,,Gus,Fox,,,gus@home.org,,,s2,,
            r1,active,,true,sch1,relative,r1,,Rae,Lee,,,,,,t1,,
            x1,active,,true,sch1,proctor,x1,,Xi,Po,,,,,,,,

            """))
        if mode == "delta" {
            if let enrollments { w.write("\(dir)/enrollments.csv", crlf(enrollments)) }
            return
        }
        w.write("\(dir)/orgs.csv", crlf("""
            sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
            dist,active,,Unified District,district,,
            sch1,active,,North School,school,,dist
            sch2,active,,South School,School,,dist

            """))
        w.write("\(dir)/academicSessions.csv", crlf("""
            sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
            y27,active,,Fall 2026,term,2026-08-20,2027-01-15,,2027
            y26,active,,Fall 2025,term,2025-08-20T00:00:00Z,2026-01-15,,2026

            """))
        w.write("\(dir)/classes.csv", crlf("""
            sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods
            c27,active,,Math 5,05,crs,M5,scheduled,,sch1,y27,,,
            c26,active,,Math 4,04,crs,M4,scheduled,,sch1,"y26",,,

            """))
        w.write("\(dir)/enrollments.csv", crlf(enrollments ?? """
            sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
            e1,active,,c27,sch1,s1,student,false,2026-08-20,
            e2,active,,c26,sch1,s2,student,false,,
            e3,active,,c27,sch1,t1,teacher,true,,
            e4,active,,c27,sch1,s3,student,false,,

            """))
    }

    func configure(_ w: Workspace, url: String? = nil, format: String = "oneroster-csv", source: String = "") -> Configuration {
        w.configure(sync: "school_year = 2026-2027\nmax_deactivate_percent = 50", source: source, entities: Self.people, format: format,
                    url: url ?? w.exportDir + "/bundle")
    }

    static func table(_ w: Workspace, _ sql: String) throws -> [String] {
        let db = try w.rawDatabase()
        var out: [String] = []
        try db.prepare(sql).forEachRow { row in
            out.append((0..<row.columnCount).map { row.text($0) }.joined(separator: "|"))
        }
        return out
    }

    func testOneRoster11BulkMapsStaffStudentsAndFamilies() throws {
        let w = Workspace()
        Self.writeBundle11(w)
        let log = MemoryLog()
        let run = w.sync(configure(w), at: day, log: log)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try Self.table(w, "SELECT staff_id, first_name, last_name, email, title, school_ids, enabled, active FROM staff ORDER BY staff_id"), [
            "a1|Cy|Ng|cy.ng@district.org|Aide|sch2||1",
            "t1|Ann|Lee|ann.lee@district.org|Teacher|sch1||1",
            "t2|Bob|Ray|bob.ray@district.org|Administrator|sch1|false|1",
        ], "roles compare in any case; a district org is not a school; enabledUser = false keeps the record active")
        XCTAssertEqual(try Self.table(w, "SELECT student_id, school_id, grade, enrollment_status, school_year, active FROM students ORDER BY student_id"), [
            "s1|sch1|05|Enrolled|2026-2027|1",
            "s2|sch1|05|Not enrolled|2026-2027|1",
            "s3|sch1|06|Not enrolled|2026-2027|0",
        ], "s2 is enrolled only in last year's session; s3 is tobedeleted")
        XCTAssertEqual(try Self.table(w, "SELECT household_id, name, active FROM households ORDER BY household_id"),
                       ["g1|Gus Fox|1", "p1|Pat Lee|1", "r1|Rae Lee|1"])
        XCTAssertEqual(try Self.table(w, "SELECT household_id, record_type, record_id, relationship, active FROM household_relationships ORDER BY household_id"), [
            "g1|student|s2|Guardian|1",   // named by the guardian's agentSourcedIds
            "p1|student|s1|Parent|1",     // named by the student's agentSourcedIds
        ])
        let notices = log.events.filter { $0.type == .rosterNotice }.map(\.message)
        XCTAssertTrue(notices.contains { $0.contains("not a student") && $0.contains("r1 → t1") }, "\(notices)")
        XCTAssertTrue(notices.contains { $0.contains("roles sisync does not map") && $0.contains("x1 (proctor)") }, "\(notices)")
        let staffJSON = w.ctl(["staff", "show", "t2", "--json"])
        XCTAssertTrue(staffJSON.out.contains("\"enabled\": false") || staffJSON.out.contains("\"enabled\":false"), staffJSON.out)

        // R7 from OneRoster data: the parent of an enrolled student is a Parent; the guardian
        // of a student not enrolled this year is not.
        for args in [["user", "add", "--username", "pat", "--email", "pat@home.org"], ["user", "attach", "pat", "--household", "p1"],
                     ["user", "add", "--username", "gus", "--email", "gus@home.org"], ["user", "attach", "gus", "--household", "g1"],
                     ["user", "add", "--username", "ann", "--email", "ann.lee@district.org"]] {
            XCTAssertEqual(w.ctl(args).code, 0, args.joined(separator: " "))
        }
        let again = w.sync(configure(w), at: day)
        XCTAssertEqual(again.summary.outcome, .unchanged, again.summary.error ?? "")
        XCTAssertEqual(try w.store().roles.of("pat").calculated.map(\.role), ["Parent"])
        XCTAssertEqual(try w.store().roles.of("gus").calculated.map(\.role), [])
        XCTAssertEqual(try w.store().roles.of("ann").calculated.map(\.role), ["Staff"])
    }

    /// R4 with delta files: only listed records change; absence never deactivates, only
    /// `tobedeleted` does.
    func testR4DeltaOmittingMostUsersDeactivatesNobody() throws {
        let w = Workspace()
        Self.writeBundle11(w)
        XCTAssertEqual(w.sync(configure(w), at: day).summary.outcome, .applied)
        w.remove("bundle")
        Self.writeBundle11(w, users: """
            sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
            t1,active,2026-11-22,true,sch1,teacher,ann,,Ann,Lee-Smith,,,ann.lee@district.org,,,,,

            """, mode: "delta")
        let run = w.sync(configure(w), at: day)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(run.summary.staff, RecordCounts(added: 0, updated: 1, deactivated: 0, reactivated: 0))
        XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM staff WHERE active = 1"), ["3"])
        XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM students WHERE active = 1"), ["2"])
        XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM households WHERE active = 1"), ["3"])
        XCTAssertEqual(try Self.table(w, "SELECT enrollment_status FROM students WHERE student_id = 's1'"), ["Enrolled"],
                       "a delta without enrollments keeps what the mirror holds")

        // tobedeleted in a delta deactivates; the other records stay.
        w.remove("bundle")
        Self.writeBundle11(w, users: """
            sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
            a1,tobedeleted,2026-11-23,true,sch2,aide,cy,,Cy,Ng,,,cy.ng@district.org,,,,,
            p1,tobedeleted,2026-11-23,true,sch1,parent,p1,,Pat,Lee,,,pat@home.org,,,s1,,

            """, mode: "delta")
        let second = w.sync(configure(w), at: day)
        XCTAssertEqual(second.summary.outcome, .applied, second.summary.error ?? "")
        XCTAssertEqual(try Self.table(w, "SELECT staff_id FROM staff WHERE active = 0"), ["a1"])
        XCTAssertEqual(try Self.table(w, "SELECT household_id FROM households WHERE active = 0"), ["p1"])
        XCTAssertEqual(try Self.table(w, "SELECT household_id || '/' || record_id FROM household_relationships WHERE active = 0"), ["p1/s1"])
        XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM staff WHERE active = 1"), ["2"])
    }

    /// A delta may enrol a student whose user row did not change.
    func testDeltaEnrollmentEnrolsAStoredStudent() throws {
        let w = Workspace()
        Self.writeBundle11(w)
        XCTAssertEqual(w.sync(configure(w), at: day).summary.outcome, .applied)
        w.remove("bundle")
        Self.writeBundle11(w, users: "sourcedId,status,role,givenName,familyName\n", mode: "delta", enrollments: """
            sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
            e9,active,2026-11-23,c27,sch2,s2,student,false,2026-11-20,

            """)
        let run = w.sync(configure(w), at: day)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try Self.table(w, "SELECT student_id, school_id, enrollment_status FROM students WHERE student_id = 's2'"), ["s2|sch2|Enrolled"])
        XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM students WHERE active = 1"), ["2"])
    }

    /// OneRoster 1.2: no role column in users.csv; roles.csv gives primary and secondary
    /// roles. Messy headers: a typo, trailing empty columns with rows that stop short,
    /// dates like 1/05/2023.
    /// A 1.2 bundle in `b12/`: roles from roles.csv (primary and secondary, one ended, one
    /// deleted), a user without a role.
    static func writeBundle12(_ w: Workspace) {
        w.write("b12/manifest.csv", "propertyName,value\noneroster.version,1.2\nfile.users,bulk\nfile.roles,bulk\nfile.orgs,absent\nfile.enrollments,bulk\nfile.classes,bulk\nfile.academicSessions,bulk\nfile.userProfiles,\n")
        w.write("b12/users.csv", """
            sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,prefferedGivenName,prefferedMiddleName,prefferedFamilyName,primaryOrgSourcedId,pronouns
            u1,active,1/05/2023,TRUE,pr,,Pia,Roe,,,pia.roe@district.org,,,,,,,,,,sch1,
            u2,active,1/05/2023,TRUE,st,,Ola,Roe,,,,,,u3,07,,,,,,sch1,
            u3,active,1/05/2023,TRUE,gd,,Gia,Roe,,,gia@home.org,,,,,,,,,,sch1,
            u4,active,1/05/2023,TRUE,old,,Old,Timer,,,old@district.org,,,,,,,,,,sch1,
            u5,active,1/05/2023,TRUE,none,,No,Role,,,,,,,,,,,,,sch1,

            """)
        w.write("b12/roles.csv", """
            sourcedId,status,dataLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,,
            r1,active,2025-01-01,u1,secondary,teacher,2024-03-06,,sch2
            r2,active,2025-01-01,u1,primary,principal,2024-03-06,,sch1
            r3,active,2025-01-01,u2,primary,student,,,sch1
            r4,active,2025-01-01,u3,primary,guardian,,,sch1
            r5,active,2025-01-01,u4,primary,teacher,2020-01-01,6/30/2024,sch1
            r6,tobedeleted,2025-01-01,u3,secondary,counselor,,,sch1

            """)
        w.write("b12/academicSessions.csv", "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\ny,active,,SY,schoolYear,2026-07-01,2027-06-30,,2027\n")
        w.write("b12/classes.csv", "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\nc,active,,Art,,,,,,sch1,y,,,\n")
        w.write("b12/enrollments.csv", "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\ne,active,,c,sch1,u2,student,,,\n")
    }

    func testOneRoster12RolesFromRolesCSV() throws {
        let w = Workspace()
        Self.writeBundle12(w)
        let log = MemoryLog()
        let run = w.sync(configure(w, url: w.exportDir + "/b12"), at: day, log: log)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try Self.table(w, "SELECT staff_id, title, school_ids FROM staff ORDER BY staff_id"), ["u1|Principal|sch1;sch2"],
                       "the primary role gives the title; a role that ended is ignored")
        XCTAssertEqual(try Self.table(w, "SELECT student_id, enrollment_status FROM students"), ["u2|Enrolled"])
        XCTAssertEqual(try Self.table(w, "SELECT household_id || '/' || record_id || '/' || relationship FROM household_relationships"), ["u3/u2/Guardian"])
        let notices = log.events.filter { $0.type == .rosterNotice }.map(\.message).joined(separator: "\n")
        XCTAssertTrue(notices.contains("roles that ended before today"), notices)
        XCTAssertTrue(notices.contains("users without a role") && notices.contains("u5"), notices)
    }

    /// R2 for OneRoster: a bad user row is skipped and reported, and its records are left
    /// unchanged (not deactivated) even in a bulk file.
    func testR2BadUserRowIsSkippedAndItsRecordKept() throws {
        let w = Workspace()
        Self.writeBundle11(w)
        XCTAssertEqual(w.sync(configure(w), at: day).summary.outcome, .applied)
        w.remove("bundle")
        var users = """
            sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
            t1,active,,true,sch1,teacher,ann,,Ann,Lee,,,not-an-email,,,,,
            t2,active,,true,sch1,administrator,bob,,Bob,Ray,,,bob.ray@district.org,,,,,
            a1,active,,true,sch2,aide,cy,,Cy,Ng,,,cy.ng@district.org,,,,,

            """
        users += (0..<200).map { "n\($0),active,,true,sch1,teacher,n\($0),,N,\($0),,,,,,,,\n" }.joined()
        Self.writeBundle11(w, users: users)
        let run = w.sync(configure(w), at: day)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertTrue(run.summary.problems.contains { $0.contains("invalid email `not-an-email`") && $0.contains("t1") }, "\(run.summary.problems)")
        XCTAssertEqual(try Self.table(w, "SELECT email, active FROM staff WHERE staff_id = 't1'"), ["ann.lee@district.org|1"])
    }

    /// R2 in OneRoster: a skipped row of a user the mirror holds leaves the records
    /// unchanged; one the mirror does not hold says the user was not added; an id or an
    /// agent id holding a control character is left out, never an internal error (exit 70).
    func testR2SkippedUsersSayNotAddedOrUnchangedAndControlCharactersAreLeftOut() throws {
        let w = Workspace()
        Self.writeBundle11(w)
        XCTAssertEqual(w.sync(configure(w), at: day).summary.outcome, .applied)
        w.remove("bundle")
        let users = """
            sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
            t1,active,,true,sch1,teacher,ann,,Ann,Lee,,,ann.lee@district.org,,,,,
            t2,retired,,true,sch1,administrator,bob,,Bob,Ray,,,bob.ray@district.org,,,,,
            a1,active,,true,sch2,aide,cy,,Cy,Ng,,,cy.ng@district.org,,,,,
            n1,active,,maybe,sch1,teacher,n1,,New,One,,,n1@district.org,,,,,
            "t\u{1F}9",active,,true,sch1,teacher,t9,,Ty,Nine,,,t9@district.org,,,,,
            s1,active,,true,sch1,student,s1,,Sam,Lee,,,,,,p1,05,
            p1,active,,true,sch1,parent,p1,,Pat,Lee,,,pat@home.org,,,"s1,s\u{1F}2",,

            """ + (0..<600).map { "m\($0),active,,true,sch1,teacher,m\($0),,M,\($0),,,,,,,,\n" }.joined()
        Self.writeBundle11(w, users: users)
        let run = w.sync(configure(w), at: day)
        XCTAssertEqual(run.summary.exitCode, 0, run.summary.error ?? "")
        let problems = run.summary.problems
        XCTAssertEqual(problems.count, 3, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("column status") && $0.contains("(record t2 left unchanged)") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("column enabledUser") && $0.contains("(record n1 not added") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("column sourcedId") && $0.contains("control character") }, "\(problems)")
        XCTAssertFalse(problems.contains { $0.contains("(row skipped) (row skipped)") }, "\(problems)")
        XCTAssertEqual(try Self.table(w, "SELECT active FROM staff WHERE staff_id = 't2'"), ["1"])
        XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM staff WHERE staff_id IN ('n1', 't\u{1F}9')"), ["0"])
        XCTAssertEqual(try Self.table(w, "SELECT record_id FROM household_relationships WHERE household_id = 'p1' AND active = 1"), ["s1"], "\(problems) \((try? Self.table(w, "SELECT * FROM household_relationships")) ?? [])")
    }

    func testMissingManifestAndMissingFilesFailTheRun() throws {
        let w = Workspace()
        Self.writeBundle11(w)
        try FileManager.default.removeItem(atPath: w.exportDir + "/bundle/manifest.csv")
        let run = w.sync(configure(w), at: day)
        XCTAssertEqual(run.summary.outcome, .failed)
        XCTAssertEqual(run.summary.failure?.exitCode, 65)
        XCTAssertTrue(run.summary.error?.contains("manifest.csv is missing") == true, run.summary.error ?? "")

        Self.writeBundle11(w)
        try FileManager.default.removeItem(atPath: w.exportDir + "/bundle/enrollments.csv")
        let second = w.sync(configure(w), at: day)
        XCTAssertEqual(second.summary.outcome, .failed)
        XCTAssertTrue(second.summary.error?.contains("marks enrollments.csv as bulk") == true, second.summary.error ?? "")
        if FileManager.default.fileExists(atPath: w.database) {
            XCTAssertEqual(try Self.table(w, "SELECT count(*) FROM staff"), ["0"], "nothing is applied from a broken bundle (R1)")
        }
    }

    func testOneRosterDatesAndSchoolYears() {
        XCTAssertEqual(OneRosterDay.parse("2017-05-06 08:01:05")?.description, "2017-05-06")
        XCTAssertEqual(OneRosterDay.parse("2023-05-01T18:25:43.511Z")?.description, "2023-05-01")
        XCTAssertEqual(OneRosterDay.parse("1/05/2023")?.description, "2023-01-05")
        XCTAssertNil(OneRosterDay.parse("2023-13-01"))
        XCTAssertNil(OneRosterDay.parse("yesterday"))
        XCTAssertEqual(OneRosterCSVBundle.schoolYear("2027"), 2027)
        XCTAssertEqual(OneRosterCSVBundle.schoolYear("2026-2027"), 2027)
        XCTAssertEqual(OneRosterCSVBundle.schoolYear("2099-00"), 2100)
        XCTAssertEqual(LinkHeader(#"<https://x/users?offset=2>; rel="next", <https://x/users?offset=0>; rel="first""#).next, "https://x/users?offset=2")
        XCTAssertNil(LinkHeader(#"<https://x/users?offset=0>; rel="first""#).next)
    }

    func testConfigurationForOneRoster() throws {
        let w = Workspace()
        let c = w.configure(sync: "", entities: "staff, students", format: "oneroster-csv", url: w.exportDir)
        XCTAssertEqual(c.entities, [.staff, .students])
        w.write("/" + w.configPath, "[sync]\ndatabase = \(w.database)\n[source]\nformat = oneroster-rest\nurl = https://sis/ims/oneroster/v1p1\n")
        XCTAssertEqual(try Configuration.load(path: w.configPath).entities, OneRosterTranslation.kinds)
        w.write("/" + w.configPath, "[sync]\ndatabase = \(w.database)\n[source]\nformat = oneroster-csv\nurl = x\nentities = staff, donors\n")
        XCTAssertThrowsError(try Configuration.load(path: w.configPath)) { e in
            XCTAssertTrue("\(e)".contains("donors"), "\(e)")
        }
    }
}

/// Public OneRoster fixtures written by others (../shared/samples/oneroster, GPL data kept
/// outside this repository): each must be read without a crash, with clear messages for
/// what is skipped. Skipped when the samples are not beside the checkout.
final class OneRosterSampleTests: XCTestCase {
    static var samples: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/samples/oneroster").standardized.path
    }

    func testPublicSamplesAreReadWithClearMessages() throws {
        let names = ["Test_full_data_set", "Test_minimal_data_set", "v1p2_full_dataset", "oneroster_test_data", "VRd118"]
        guard FileManager.default.fileExists(atPath: Self.samples + "/" + names[0]) else {
            throw XCTSkip("no OneRoster samples at \(Self.samples)")
        }
        for name in names {
            let w = Workspace()
            let c = w.configure(sync: "school_year = 2022-2023\nmax_invalid_rows = 50%", entities: OneRosterTests.people,
                                format: "oneroster-csv", url: Self.samples + "/" + name)
            let log = MemoryLog()
            let run = w.sync(c, at: Timestamp.parse("2022-11-01T08:00:00Z")!, log: log)
            let lines = log.events.map { "\($0.type.name): \($0.message)" }
            XCTAssertEqual(run.summary.outcome, .applied, "\(name): \(run.summary.error ?? "")")
            if name == "Test_full_data_set" {
                // Its students' agentSourcedIds point at teachers: said once, with examples.
                XCTAssertEqual(log.events.filter { $0.type == .rosterNotice && $0.message.contains("not a parent") }.count, 1, lines.joined(separator: "\n"))
                XCTAssertEqual(try OneRosterTests.table(w, "SELECT count(*) FROM staff"), ["2"])
            }
        }
    }
}

/// The same bundle as a directory, a local .zip and a downloaded .zip gives the same records.
final class OneRosterZipTests: XCTestCase {
    func testZipAndDirectoryGiveTheSameRecords() throws {
        let w = Workspace()
        OneRosterTests.writeBundle11(w)
        var zip = TestZipWriter()
        for name in try FileManager.default.contentsOfDirectory(atPath: w.exportDir + "/bundle") {
            zip.add("export-2026/" + name, try String(contentsOfFile: w.exportDir + "/bundle/" + name, encoding: .utf8), deflate: name != "orgs.csv")
        }
        w.writeBytes("bundle.zip", zip.bytes())
        let day = Timestamp.parse("2026-11-23T08:00:00Z")!
        func records(_ url: String) throws -> [String] {
            let v = Workspace()
            let c = v.configure(sync: "school_year = 2026-2027", entities: OneRosterTests.people, format: "oneroster-csv", url: url)
            let run = v.sync(c, at: day)
            XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: v.root + "/db").filter { $0.hasPrefix(".sisync") }
            XCTAssertEqual(leftovers, [], "unpacked and downloaded files are removed")
            return try ["staff", "students", "households", "household_relationships"].flatMap { t in
                try OneRosterTests.table(v, "SELECT * FROM \(t) ORDER BY 1, 2, 3").map { t + ":" + $0.split(separator: "|").dropLast(5).joined(separator: "|") }
            }
        }
        let fromDirectory = try records(w.exportDir + "/bundle")
        XCTAssertEqual(fromDirectory.count, 11)
        XCTAssertEqual(try records(w.exportDir + "/bundle.zip"), fromDirectory)
        XCTAssertEqual(try records("file://" + w.exportDir + "/bundle.zip"), fromDirectory)
        let bytes = zip.bytes()
        let server = try TestHTTPServer { _ in .init(status: 200, headers: ["Content-Type": "application/zip"], body: bytes) }
        XCTAssertEqual(try records(server.baseURL + "/exports/bundle.zip"), fromDirectory)
    }
}
