import XCTest
@testable import SISync
@testable import SISyncControl

/// Parent-portal access codes (issue 6).
final class AccessTests: XCTestCase {
    func testTenThousandCodesAreUniqueAndUseOnlyTheAlphabet() {
        var seen = Set<String>()
        let alphabet = Set(AccessCode.alphabet)
        for _ in 0..<10_000 {
            let code = AccessCode.generate()
            XCTAssertEqual(code.count, 8)
            XCTAssertTrue(code.allSatisfy(alphabet.contains), code)
            seen.insert(code)
        }
        XCTAssertEqual(seen.count, 10_000)
        XCTAssertFalse(alphabet.contains("I") || alphabet.contains("L") || alphabet.contains("O") || alphabet.contains("U"))
        XCTAssertEqual(AccessCode.display("7KQ4M9TX"), "7KQ4-M9TX")
        XCTAssertEqual(AccessCode.normalize(" 7kq4-m9tx "), "7KQ4M9TX")
        XCTAssertEqual(AccessCode.normalize("1ILO-0abc"), "11100ABC", "I and L read as 1, O as 0")
        XCTAssertNil(AccessCode.normalize("7KQ4-M9T"), "too short")
        XCTAssertNil(AccessCode.normalize("7KQ4-M9TU"), "U is not in the alphabet")
    }

    /// Two families, three students at two schools; the demo's shape in miniature.
    private func school(_ w: Workspace) -> Configuration {
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,,101,5,Enrolled,2026-2027
            ST2,Lou,Lima,,102,9,Enrolled,2026-2027
            ST3,Max,Roe,,101,6,Enrolled,2026-2027
            """)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for u in ["mom", "dad", "eve"] {
            let r = w.ctl(["user", "add", "--username", u, "--email", "\(u)@home.org", "--name", u.capitalized, "--approved"])
            XCTAssertEqual(r.code, 0, r.err)
        }
        return c
    }

    private func code(_ w: Workspace, _ student: String) throws -> String {
        let r = w.ctl(["--json", "access", "enable", student])
        XCTAssertEqual(r.code, 0, r.err)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        return try XCTUnwrap(json["code"] as? String)
    }

    func testR7PairingGrantsParentAtOnceAndResetKeepsPairingsMadeWithTheOldCode() throws {
        let w = Workspace()
        let c = school(w)
        let first = try code(w, "ST1")
        XCTAssertEqual(try code(w, "ST1"), first, "enable shows the existing code")
        XCTAssertTrue(first.range(of: #"^[0-9A-Z]{4}-[0-9A-Z]{4}$"#, options: .regularExpression) != nil, first)
        let paired = w.ctl(["access", "pair", "--user", "mom", "--code", first.lowercased().replacingOccurrences(of: "-", with: " ")], user: "office")
        XCTAssertEqual(paired.code, 0, paired.err)
        XCTAssertTrue(paired.out.contains("granted Parent"), paired.out)
        XCTAssertEqual(try w.store().roles.of("mom").calculated.map(\.role), ["Parent"], "at once, before any run")
        let explained = w.ctl(["explain", "mom"])
        XCTAssertTrue(explained.out.contains("Parent [calculated]: paired with student ST1 (Kim Lima) by access code on"), explained.out)
        XCTAssertTrue(w.ctl(["user", "show", "mom"]).out.contains("paired through the parent portal with: ST1"))
        // The next run agrees with the refresh.
        let run = w.sync(c)
        XCTAssertEqual(run.summary.rolesGranted + run.summary.rolesRevoked, 0)
        let list = w.ctl(["--json", "access", "list", "ST1"])
        let items = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]])
        XCTAssertEqual(items.first?["username"] as? String, "mom")
        XCTAssertEqual(items.first?["name"] as? String, "Mom")
        XCTAssertEqual(items.first?["email"] as? String, "mom@home.org")
        XCTAssertNotNil(items.first?["paired_at"] as? String)
        // Reset: the old code no longer pairs; the pairing made with it stays.
        let reset = w.ctl(["--json", "access", "reset", "ST1"])
        XCTAssertEqual(reset.code, 0)
        XCTAssertFalse(reset.out.contains(first))
        let old = w.ctl(["access", "pair", "--user", "dad", "--code", first])
        XCTAssertEqual(old.code, 1)
        XCTAssertTrue(old.err.contains("does not pair"), old.err)
        XCTAssertEqual(try w.store().accessCodes.pairings(student: "ST1").map(\.username), ["mom"])
        XCTAssertEqual(try w.store().roles.of("mom").calculated.map(\.role), ["Parent"])
        // The code itself is never in the change log or the log.
        let dump = try w.dump().filter { !$0.hasPrefix("access_codes:") }.joined(separator: "\n")
        XCTAssertFalse(dump.contains(first.replacingOccurrences(of: "-", with: "")))
    }

    func testRevokeOfAParentWithTwoChildrenAtTwoSchoolsResetsBothCodes() throws {
        let w = Workspace()
        let c = school(w)
        let kim = try code(w, "ST1"), lou = try code(w, "ST2")
        XCTAssertEqual(w.ctl(["access", "pair", "--user", "mom", "--code", kim]).code, 0)
        XCTAssertEqual(w.ctl(["access", "pair", "--user", "mom", "--code", lou]).code, 0)
        XCTAssertEqual(w.ctl(["access", "pair", "--user", "dad", "--code", kim]).code, 0)
        let r = w.ctl(["access", "revoke", "--user", "mom", "--student", "ST1", "--student", "ST2"])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertNotEqual(try code(w, "ST1"), kim)
        XCTAssertNotEqual(try code(w, "ST2"), lou)
        XCTAssertEqual(try w.store().accessCodes.pairings(student: "ST1").map(\.username), ["dad"], "only mom's pairings end")
        XCTAssertEqual(try w.store().accessCodes.pairings(student: "ST2"), [])
        XCTAssertEqual(try w.store().roles.of("mom").calculated, [], "Parent goes with the pairings")
        XCTAssertEqual(w.sync(c).summary.rolesRevoked, 0, "the next run agrees")
    }

    func testFailedPairingAttemptsAreThrottledPerUser() throws {
        let w = Workspace()
        _ = school(w)
        let valid = try code(w, "ST3")
        let store = try w.store()
        let t0 = Date()
        for i in 0..<5 {
            XCTAssertThrowsError(try store.accessCodes.pair(username: "eve", typedCode: "ZZZZ-ZZZ\(i)", actor: "eve", now: t0.addingTimeInterval(Double(i)))) { e in
                XCTAssertEqual(e as? AccessError, .badCode)
            }
        }
        XCTAssertThrowsError(try store.accessCodes.pair(username: "eve", typedCode: valid, actor: "eve", now: t0.addingTimeInterval(60))) { e in
            guard case .throttled? = e as? AccessError else { return XCTFail("\(e)") }
        }
        // Another user is not throttled by eve's attempts.
        XCTAssertEqual(try store.accessCodes.pair(username: "dad", typedCode: valid, actor: "dad", now: t0.addingTimeInterval(60)), "ST3")
        // Fifteen minutes after the attempts, eve may try again.
        XCTAssertEqual(try store.accessCodes.pair(username: "eve", typedCode: valid, actor: "eve", now: t0.addingTimeInterval(15 * 60 + 10)), "ST3")
    }

    func testPairingNeedsAnApprovedUserAndAnActiveStudent() throws {
        let w = Workspace()
        let c = school(w)
        let max = try code(w, "ST3")
        XCTAssertEqual(w.ctl(["user", "unapprove", "eve"]).code, 0)
        let unapproved = w.ctl(["access", "pair", "--user", "eve", "--code", max])
        XCTAssertEqual(unapproved.code, 1)
        XCTAssertTrue(unapproved.err.contains("not approved"), unapproved.err)
        w.write("students.csv", "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Kim,Lima,,101,5,Enrolled,2026-2027\nST2,Lou,Lima,,102,9,Enrolled,2026-2027\n")
        _ = w.sync(c)
        // Issue 26 item 10: an inactive student's code reads as a wrong code (it used to say
        // "not active", which told a guesser the code was real).
        let gone = w.ctl(["access", "pair", "--user", "dad", "--code", max])
        XCTAssertEqual(gone.code, 1)
        XCTAssertTrue(gone.err.contains("does not pair"), gone.err)
        XCTAssertEqual(try w.store().accessCodes.pairings(student: "ST3"), [])
    }

    /// Issue 26 item 10: a valid code of an inactive student gets exactly a wrong code's
    /// answer (exit code, stdout, stderr, text and JSON), never the student's id, and
    /// counts as a failed attempt toward the throttle.
    func testAnInactiveStudentsCodeIsAnsweredAndCountedLikeAWrongCode() throws {
        let w = Workspace()
        let c = school(w)
        let max = try code(w, "ST3")
        w.write("students.csv", "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Kim,Lima,,101,5,Enrolled,2026-2027\nST2,Lou,Lima,,102,9,Enrolled,2026-2027\n")
        _ = w.sync(c)
        XCTAssertFalse(try w.store().mirror.studentState("ST3").active)
        for json in [false, true] {
            let prefix = json ? ["--json"] : []
            let inactive = w.ctl(prefix + ["access", "pair", "--user", "dad", "--code", max])
            let wrong = w.ctl(prefix + ["access", "pair", "--user", "mom", "--code", "ZZZZ-ZZZZ"])
            XCTAssertEqual(inactive.code, wrong.code)
            XCTAssertEqual(inactive.out, wrong.out)
            XCTAssertEqual(inactive.err, wrong.err, "json: \(json)")
            XCTAssertFalse(inactive.out.contains("ST3") || inactive.err.contains("ST3"), "the student's id is never told")
        }
        let store = try w.store()
        XCTAssertThrowsError(try store.accessCodes.pair(username: "eve", typedCode: max, actor: "eve", now: Date())) { e in
            XCTAssertEqual(e as? AccessError, .badCode)
        }
        // dad tried twice above; three more tries with the inactive code make five failures.
        let t0 = Date()
        for i in 0..<3 {
            XCTAssertThrowsError(try store.accessCodes.pair(username: "dad", typedCode: max, actor: "dad", now: t0.addingTimeInterval(Double(i)))) { e in
                XCTAssertEqual(e as? AccessError, .badCode)
            }
        }
        let active = try code(w, "ST1")
        XCTAssertThrowsError(try store.accessCodes.pair(username: "dad", typedCode: active, actor: "dad", now: t0.addingTimeInterval(10))) { e in
            guard case .throttled? = e as? AccessError else { return XCTFail("five inactive-code attempts throttle like wrong codes: \(e)") }
        }
    }

    func testEnableAllInstructionsAndExport() throws {
        let w = Workspace()
        _ = school(w)
        let all = w.ctl(["access", "enable", "--all", "--school", "101"])
        XCTAssertEqual(all.code, 0, all.err)
        XCTAssertTrue(all.out.contains("created access codes for 2 students"), all.out)
        XCTAssertNotNil(try w.store().accessCodes.accessCode(student: "ST3"))
        XCTAssertNil(try w.store().accessCodes.accessCode(student: "ST2"), "another school")
        let text = w.ctl(["access", "instructions", "ST1"])
        XCTAssertTrue(text.out.contains("school 101\n") && text.out.contains("Parent portal access for Kim Lima (student ST1, grade 5)"), text.out)
        XCTAssertTrue(text.out.contains(AccessCode.display(try XCTUnwrap(w.store().accessCodes.accessCode(student: "ST1")))))
        let export = w.ctl(["access", "export"])
        XCTAssertTrue(export.out.hasPrefix("student_id,name,school_id,code\nST1,Kim Lima,101,"), export.out)
        XCTAssertEqual(export.out.split(separator: "\n").count, 3)
        XCTAssertEqual(w.ctl(["access", "instructions", "ST2"]).code, 1, "no code yet")
    }

    /// Issue 28: a mail merge from `access export` reaches only families of students who are
    /// still there: a withdrawn student and one gone from the export keep their codes but
    /// are left out, unless `--all` asks for every code.
    func testAccessExportListsActiveEnrolledStudentsAndAllListsEveryCode() throws {
        let w = Workspace()
        let c = school(w)
        XCTAssertEqual(w.ctl(["access", "enable", "--all"]).code, 0)
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,,101,5,Enrolled,2026-2027
            ST2,Lou,Lima,,102,9,Withdrawn,2026-2027
            """)
        XCTAssertEqual(w.sync(c, allow: true).summary.outcome, .applied)
        XCTAssertFalse(try w.store().mirror.studentState("ST3").active, "ST3 left the export")
        func ids(_ r: (code: Int32, out: String, err: String)) -> [String] {
            XCTAssertEqual(r.code, 0, r.err)
            return r.out.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != "," }) }
        }
        XCTAssertEqual(ids(w.ctl(["access", "export"])), ["ST1"], "only the active, enrolled student")
        XCTAssertEqual(ids(w.ctl(["access", "export", "--all"])), ["ST1", "ST2", "ST3"], "--all: every code")
    }

    /// Issue 26 item 11: names from the SIS reach `access export` as RFC 4180 cells (a line
    /// break stays inside its cell) and formula-looking names are neutralised with a leading
    /// `'` (OWASP); read back with the export reader, every cell is what was meant.
    func testExportQuotesLineBreaksAndNeutralisesFormulasFromTheSIS() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, students")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,"=HYPERLINK(""http://x"")",Roe,,101,5,Enrolled,2026-2027
            ST2,"Ann\r\nMarie",Lima,,101,5,Enrolled,2026-2027
            ST3,@SUM(A1),"Doe, Jr.",,101,6,Enrolled,2026-2027
            ST4,+1,-Cmd,,101,6,Enrolled,2026-2027
            ST5,Kim,"Lee
            Park",,101,6,Enrolled,2026-2027
            """)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(try w.store().mirror.studentState("ST1").name, "=HYPERLINK(\"http://x\") Roe", "the SIS's text is kept as it is")
        XCTAssertEqual(w.ctl(["access", "enable", "--all"]).code, 0)
        let export = w.ctl(["access", "export"])
        XCTAssertEqual(export.code, 0, export.err)
        XCTAssertTrue(export.out.contains("\nST1,\"'=HYPERLINK(\"\"http://x\"\") Roe\",101,"), export.out)
        var reader = CSVReader(file: "codes.csv")
        var records: [[String]] = []
        let bytes = Array(export.out.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            try reader.feed(buffer) { r in records.append((0..<r.count).map(r.string)) }
        }
        try reader.finish { r in records.append((0..<r.count).map(r.string)) }
        XCTAssertEqual(records.first, ["student_id", "name", "school_id", "code"])
        XCTAssertEqual(records.count, 6, "one record per student, line breaks inside names included")
        XCTAssertTrue(records.allSatisfy { $0.count == 4 }, "\(records)")
        let rows = records.dropFirst().filter { $0.count == 4 }
        let names = Dictionary(rows.map { ($0[0], $0[1]) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(names["ST1"], "'=HYPERLINK(\"http://x\") Roe")
        XCTAssertEqual(names["ST2"], "Ann\r\nMarie Lima")
        XCTAssertEqual(names["ST3"], "'@SUM(A1) Doe, Jr.")
        XCTAssertEqual(names["ST4"], "'+1 -Cmd")
        XCTAssertEqual(names["ST5"], "Kim Lee\nPark")
        for r in rows {
            XCTAssertEqual(AccessCode.normalize(r[3]), try w.store().accessCodes.accessCode(student: r[0]), "the code cell is the code")
            XCTAssertEqual(r[2], "101")
        }
    }

    /// The cell rules on their own: every OWASP formula start, RFC 4180 specials, and
    /// text that needs neither.
    func testCSVWriterCells() {
        for start in ["=", "+", "-", "@", "\t", "\r"] {
            XCTAssertEqual(CSVWriter.cell(start + "1"), "\"'" + start + "1\"", "starts with \(start.debugDescription)")
        }
        XCTAssertEqual(CSVWriter.cell("\r\n"), "\"'\r\n\"", "CR first, even as one Character with LF")
        XCTAssertEqual(CSVWriter.cell("a\r\nb"), "\"a\r\nb\"")
        XCTAssertEqual(CSVWriter.cell("a\nb"), "\"a\nb\"")
        XCTAssertEqual(CSVWriter.cell("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSVWriter.cell("Doe, Jr."), "\"Doe, Jr.\"")
        // Excel in a `;` locale, and LibreOffice's import with `;` or tab ticked, split there:
        // unquoted, `Roe;=HYPERLINK(…)` would be a second cell, a formula (OWASP: mind the
        // field separator, not only the first character).
        XCTAssertEqual(CSVWriter.cell("Roe;=1+1"), "\"Roe;=1+1\"")
        XCTAssertEqual(CSVWriter.cell("Roe\t@SUM(1)"), "\"Roe\t@SUM(1)\"")
        XCTAssertEqual(CSVWriter.cell("7KQ4-M9TX"), "7KQ4-M9TX", "a dash inside is no formula")
        XCTAssertEqual(CSVWriter.cell(""), "")
        var csv = CSVWriter(header: ["a", "b"])
        csv.add(["=1", "x"])
        XCTAssertEqual(csv.text, "a,b\n\"'=1\",x\n")
    }
}
