import XCTest
@testable import SISync

/// Issue 13: bytes from the SIS never crash a run or end it with an internal error (exit 70);
/// they fail it as bad data (R2, exit 65) or skip the row, and the database stays whole.
final class BadInputTests: XCTestCase {
    private func jsonDocument(staff: String) -> String {
        #"{"format": "sisync-export", "version": 1, "staff": [\#(staff)]}"#
    }

    /// R2: 200,000 `[` inside an unknown member used to overflow the stack in
    /// `JSONScanner.skip(after:)`; now it is a structural error at the member's path.
    func testR2DeeplyNestedJSONIsAStructuralErrorNamingThePath() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let doc = jsonDocument(staff: #"{"staff_id": "S1", "first_name": "A", "last_name": "B"}, {"staff_id": "S2", "first_name": "C", "last_name": "D", "notes": \#(deep)}"#)
        XCTAssertThrowsError(try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(doc.utf8), name: "export.json")) { e in
            guard case .malformedJSON(let file, let path, _, let message)? = e as? ExportError else { return XCTFail("\(e)") }
            XCTAssertEqual(file, "export.json")
            XCTAssertEqual(path, "staff[1].notes")
            XCTAssertTrue(message.contains("nested more than \(JSONScanner.maxDepth) levels"), message)
        }
        // An unknown top-level member nested just as deep fails the same way.
        let top = #"{"format": "sisync-export", "version": 1, "extra": \#(deep), "staff": []}"#
        XCTAssertThrowsError(try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(top.utf8), name: "export.json")) { e in
            guard case .malformedJSON(_, "extra", _, _)? = e as? ExportError else { return XCTFail("\(e)") }
        }
    }

    /// Nesting within the bound is skipped as before, objects and arrays mixed.
    func testNestingWithinTheBoundIsSkipped() throws {
        let levels = JSONScanner.maxDepth - 1
        var nested = ""
        for i in 0..<levels { nested += i % 2 == 0 ? "[" : #"{"k": "# }
        nested += "1"
        for i in (0..<levels).reversed() { nested += i % 2 == 0 ? "]" : "}" }
        let doc = jsonDocument(staff: #"{"staff_id": "S1", "first_name": "A", "last_name": "B", "notes": \#(nested), "email": "a@d.org"}"#)
        let rows = try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(doc.utf8), name: "export.json")[.staff]!
        XCTAssertEqual(rows.keys, ["S1"])
        XCTAssertEqual(rows.values(0)[2], "a@d.org")
    }

    /// The whole run: exit 65 with the path in the error, nothing applied, database whole.
    func testR1DeeplyNestedJSONRunExits65AndKeepsTheMirror() throws {
        let w = Workspace()
        let good = jsonDocument(staff: #"{"staff_id": "S1", "first_name": "A", "last_name": "B"}"#)
        w.write("export.json", good)
        let c = w.configure(format: "json", url: w.exportDir + "/export.json")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let before = try w.dump().filter { !$0.hasPrefix("runs:") }
        let deep = String(repeating: "[", count: 200_000)
        w.write("export.json", jsonDocument(staff: #"{"staff_id": "S1", "first_name": "A", "last_name": "B", "x": \#(deep)"#))
        let result = w.sync(c)
        XCTAssertEqual(result.summary.exitCode, 65, result.summary.error ?? "")
        XCTAssertTrue(result.summary.error?.contains("staff[0].x") ?? false, result.summary.error ?? "")
        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") }, before)
        try assertIntegrity(w)
    }

    /// R2: a control character inside a `;` list value (a carriage return from CR-only line
    /// endings) used to end the run with exit 70 (`malformed JSON` in the role statements).
    /// Now the row is skipped and reported, and the rest of the run applies.
    func testR2ControlCharacterInAListSkipsTheRowAndTheRunApplies() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, applicants")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org")]))
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Nia,Vale,Applied,S1\nA2,Oto,Wade,Applied,\"S2\rS9\"\n")
        XCTAssertEqual(w.sync(c).summary.exitCode, 0)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ben", "--email", "ben@district.org"]).code, 0)
        let result = w.sync(c, force: true)
        XCTAssertEqual(result.summary.exitCode, 0, result.summary.error ?? "")
        XCTAssertEqual(result.summary.problems.count, 1)
        XCTAssertTrue(result.summary.problems[0].contains("evaluator_staff_ids") && result.summary.problems[0].contains("control character"), result.summary.problems[0])
        XCTAssertEqual(try w.store().roles.of("ana").calculated.map(\.label).sorted(), ["Admissions Evaluator", "Staff"])
        XCTAssertEqual(try w.store().roles.of("ben").calculated.map(\.label), ["Staff"])
        try assertIntegrity(w)
    }

    /// R7: list values are split in Swift by bytes (EvaluatorNames; incremental runs split in SQL) without being turned into JSON, so ids holding `"`
    /// or `\` (which broke the old `json_each` text) name their evaluators like any other.
    func testR7EvaluatorIdsWithQuotesAndBackslashesAreSplitExactly() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: "staff, applicants")
        w.write("staff.csv", "staff_id,first_name,last_name,email\n\"S\\1\",Ana,Lima,ana@district.org\n\"S\"\"2\",Ben,Okafor,ben@district.org\nS3,Cy,Ng,cy@district.org\n")
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Nia,Vale,Applied,\"S\\1; S\"\"2\"\n")
        XCTAssertEqual(w.sync(c).summary.exitCode, 0)
        for (u, e) in [("ana", "ana@district.org"), ("ben", "ben@district.org"), ("cy", "cy@district.org")] {
            XCTAssertEqual(w.ctl(["user", "add", "--username", u, "--email", e]).code, 0)
        }
        let result = w.sync(c)
        XCTAssertEqual(result.summary.exitCode, 0, result.summary.error ?? "")
        XCTAssertEqual(try w.store().roles.of("ana").calculated.map(\.label).sorted(), ["Admissions Evaluator", "Staff"])
        XCTAssertEqual(try w.store().roles.of("ben").calculated.map(\.label).sorted(), ["Admissions Evaluator", "Staff"])
        XCTAssertEqual(try w.store().roles.of("cy").calculated.map(\.label), ["Staff"])
        // The scoped recompute (only the changed applicant) splits the same way.
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Nia,Vale,Applied,\"S\"\"2;S3\"\n")
        XCTAssertEqual(w.sync(c).summary.exitCode, 0)
        XCTAssertEqual(try w.store().roles.of("ana").calculated.map(\.label), ["Staff"])
        XCTAssertEqual(try w.store().roles.of("cy").calculated.map(\.label).sorted(), ["Admissions Evaluator", "Staff"])
        let explained = w.ctl(["explain", "cy"])
        XCTAssertTrue(explained.out.contains("A1"), explained.out)
    }

    /// R2: a JSON list element holding `;` would be split into two values later; it is a bad row.
    func testR2JSONListValueHoldingASemicolonIsABadRow() throws {
        let doc = jsonDocument(staff: #"{"staff_id": "S1", "first_name": "A", "last_name": "B", "school_ids": ["101;102"]}, {"staff_id": "S2", "first_name": "C", "last_name": "D", "school_ids": ["101", "102"]}"#)
        let rows = try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(doc.utf8), name: "export.json")[.staff]!
        XCTAssertEqual(rows.keys, ["S2"])
        XCTAssertEqual(rows.value(0, 4), "101;102")
        XCTAssertEqual(rows.problems.count, 1)
        XCTAssertTrue(rows.problems[0].message.contains("`;`"), rows.problems[0].message)
        XCTAssertEqual(rows.problems[0].column, "school_ids")
        XCTAssertEqual(rows.problems[0].id, "S1", "the id is read, so the record is protected")
        // In a run: the skipped row's record stays as it was, never deactivated (R2).
        let w = Workspace()
        w.write("export.json", jsonDocument(staff: #"{"staff_id": "S1", "first_name": "A", "last_name": "B", "school_ids": ["101"]}, {"staff_id": "S2", "first_name": "C", "last_name": "D"}"#))
        let c = w.configure(format: "json", url: w.exportDir + "/export.json")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("export.json", doc)
        let r = w.sync(c)
        XCTAssertEqual(r.summary.exitCode, 0, r.summary.error ?? "")
        XCTAssertEqual(r.summary.staff.deactivated, 0)
        XCTAssertTrue(r.summary.problems.first?.contains("(record S1 left unchanged)") ?? false, "\(r.summary.problems)")
        XCTAssertTrue(try w.store().mirror.staffMember(id: "S1")?.active ?? false)
        // A value of the wrong type is protected the same way.
        w.write("export.json", jsonDocument(staff: #"{"staff_id": "S1", "first_name": {"x": 1}, "last_name": "B"}, {"staff_id": "S2", "first_name": "C", "last_name": "D"}"#))
        XCTAssertEqual(w.sync(c).summary.staff.deactivated, 0)
        XCTAssertTrue(try w.store().mirror.staffMember(id: "S1")?.active ?? false)
    }

    /// R8: an updated field is logged with its old and new value: per staff member
    /// (`SISYNC_STAFF_ID`), and for other entities in the same bounded way; the one-line
    /// summary counts every entity.
    func testR8FieldUpdatesAreLoggedWithOldAndNewValues() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, households")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org")]))
        w.write("households.csv", "household_id,name\nH1,Lima family\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana.lima@district.org"), ("S2", "Ben", "Okafor", "ben@district.org")]))
        w.write("households.csv", "household_id,name\nH1,Lima-Souza family\nH2,Okafor family\n")
        let log = MemoryLog()
        XCTAssertEqual(w.sync(c, log: log).summary.outcome, .applied)
        let staff = log.events.filter { $0.type == .staffUpdated }
        XCTAssertEqual(staff.count, 1)
        XCTAssertEqual(staff.first?.message, "staff S1 email changed: `ana@district.org` → `ana.lima@district.org`")
        let fields = Dictionary(staff.first?.fields ?? [], uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(fields["SISYNC_STAFF_ID"], "S1")
        XCTAssertEqual(fields["SISYNC_FIELD"], "email")
        XCTAssertEqual(fields["SISYNC_OLD_VALUE"], "ana@district.org")
        XCTAssertEqual(fields["SISYNC_NEW_VALUE"], "ana.lima@district.org")
        XCTAssertNotNil(fields["SISYNC_RUN_ID"])
        XCTAssertEqual(staff.first?.priority, .info)
        let other = log.events.filter { $0.type == .recordUpdated }
        XCTAssertEqual(other.map(\.message), ["households H1 name changed: `Lima family` → `Lima-Souza family`"])
        let finished = try XCTUnwrap(log.events.first { $0.type == .runFinished })
        XCTAssertTrue(finished.message.contains("staff +0 ~1 -0 ↺0; households +1 ~1 -0 ↺0; links"), finished.message)
    }

    /// A teacher's changed email reaches the journal (info) even in a run that changes
    /// many other records; other entities' entries go to debug past 100 records, with one
    /// summary. Past 1,000 staff records, staff entries go to debug as well.
    func testR8StaffUpdatesStayAtInfoInALargeRunOtherEntitiesGoToDebug() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, households")
        w.write("staff.csv", staffCSV(manyStaff(150)))
        w.write("households.csv", "household_id,name\n" + (1...150).map { "H\($0),Family \($0)\n" }.joined())
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("staff.csv", staffCSV(manyStaff(150).map { ($0.0, $0.1 + "x", $0.2, $0.3) }))
        w.write("households.csv", "household_id,name\n" + (1...150).map { "H\($0),The \($0)s\n" }.joined())
        let log = MemoryLog()
        XCTAssertEqual(w.sync(c, log: log).summary.outcome, .applied)
        let staff = log.events.filter { $0.type == .staffUpdated }
        XCTAssertEqual(staff.count, 150)
        XCTAssertTrue(staff.allSatisfy { $0.priority == .info }, "journald keeps info, not debug")
        let households = log.events.filter { $0.type == .recordUpdated }
        XCTAssertEqual(households.count, 150)
        XCTAssertTrue(households.allSatisfy { $0.priority == .debug })
        XCTAssertEqual(log.events.filter { $0.type == .recordsChanged }.count, 1)
        XCTAssertEqual(SyncRun.clip("a\rb\u{1B}[2Jc"), "a\\rb\\u{1B}[2Jc")
        XCTAssertEqual(SyncRun.bounded(String(repeating: "é", count: 5000)), String(repeating: "é", count: 2046) + "...")
    }

    /// R2: a skipped row of a record the mirror does not hold says the record was not added
    /// (a person is missing); for a stored record it says the record was left unchanged.
    func testR2SkippedNewRowSaysNotAddedAndSkippedStoredRowSaysUnchanged() throws {
        let w = Workspace()
        let c = w.configure(sync: "max_invalid_rows = 5")
        w.write("staff.csv", "staff_id,first_name,last_name,email\nS1,Ana,Lima,ana@district.org\nS2,,Okafor,ben@district.org\n")
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied)
        XCTAssertEqual(first.summary.problems.count, 1)
        XCTAssertTrue(first.summary.problems[0].contains("(record S2 not added"), first.summary.problems[0])
        w.write("staff.csv", "staff_id,first_name,last_name,email\nS1,,Lima,ana@district.org\nS2,Ben,Okafor,ben@district.org\nS3,Cy,Ng,bad-email\n")
        let log = MemoryLog()
        let second = w.sync(c, log: log)
        XCTAssertEqual(second.summary.outcome, .applied)
        XCTAssertEqual(second.summary.problems.count, 2)
        XCTAssertTrue(second.summary.problems[0].contains("(record S1 left unchanged)"), second.summary.problems[0])
        XCTAssertTrue(second.summary.problems[1].contains("(record S3 not added"), second.summary.problems[1])
        XCTAssertEqual(log.events.filter { $0.type == .rowSkipped }.map(\.message).filter { $0.contains("not added") }.count, 1)
        let shown = w.ctl(["run", "show", "2"])
        XCTAssertTrue(shown.out.contains("record S3 not added"), shown.out)
    }

    /// R2, found by the mutation runs: a unit separator (0x1F) inside a composite key's part
    /// (`stu\u{1F}dent`) split the key into four parts and ended the run with exit 70
    /// (`column index out of range`). An id holding a control character is a bad row.
    func testR2ControlCharacterInAnIdIsABadRowNotAnInternalError() throws {
        let w = Workspace()
        let c = w.configure(sync: "max_invalid_rows = 5", entities: "staff, households, household_relationships")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        w.write("households.csv", "household_id,name\nH1,Lima family\n")
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\n")
        XCTAssertEqual(w.sync(c).summary.exitCode, 0)
        w.write("staff.csv", "staff_id,first_name,last_name,email\nS1,Ana,Lima,ana@district.org\n\"S\u{1}9\",Bo,Wu,bo@district.org\n")
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\nH1,stu\u{1F}dent,ST1,Parent\nH1,student,ST\u{1F}2,Guardian\n")
        let result = w.sync(c)
        XCTAssertEqual(result.summary.exitCode, 0, result.summary.error ?? "")
        XCTAssertEqual(result.summary.problems.count, 3, "\(result.summary.problems)")
        XCTAssertTrue(result.summary.problems[0].contains("staff_id: the id holds a control character"), result.summary.problems[0])
        XCTAssertTrue(result.summary.problems[1].contains("unknown record_type") && result.summary.problems[1].hasSuffix("(row skipped)"), result.summary.problems[1])
        XCTAssertTrue(result.summary.problems[2].contains("record_id: the id holds a control character (byte 0x1F) (row skipped)"), result.summary.problems[2])
        XCTAssertEqual(try w.store().mirror.recordCounts().first { $0.0 == .householdRelationships }?.active, 1)
        try assertIntegrity(w)
    }

    private func assertIntegrity(_ w: Workspace, file: StaticString = #filePath, line: UInt = #line) throws {
        guard !TestStore.isPostgres else { return }  // PostgreSQL checks its own pages
        let db = try w.rawDatabase()
        var result: [String] = []
        try db.prepare("PRAGMA integrity_check").forEachRow { result.append($0.text(0)) }
        XCTAssertEqual(result, ["ok"], file: file, line: line)
    }
}
