import Foundation
import XCTest
@testable import SISync

/// R2: structural errors fail the whole read; bad rows are skipped and their records protected.
final class ExportValidationTests: XCTestCase {
    private func readCSV(_ kind: EntityKind, _ text: String, limit: InvalidRowLimit = .count(100)) throws -> EntityRows {
        let w = Workspace()
        w.write(kind.fileName, text)
        return try CSVEntityReader(kind: kind, limit: limit).read(path: w.exportDir + "/" + kind.fileName, name: kind.fileName)
    }

    /// R2's UTF-8 check, which reads ASCII eight bytes at a time, says what Swift's own
    /// strict decoder says of every value: a bad or a good multi-byte sequence at every
    /// position of ASCII runs on either side of eight-byte boundaries, in a range that
    /// starts inside a buffer.
    func testR2TheUTF8CheckAgreesWithSwiftsDecoderAtEveryPosition() {
        let sequences: [[UInt8]] = [[0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC3], [0xC0, 0x80],
                                    [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE2, 0x82]]
        for sequence in sequences {
            for length in 0..<20 {
                for at in 0...length {
                    var value = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    value.insert(contentsOf: sequence, at: at)
                    let buffer = [UInt8]("xyz".utf8) + value + [0xFF]
                    let expected = String(validating: value, as: UTF8.self) != nil
                    let checked = buffer.withUnsafeBufferPointer { RowRules.isValidUTF8($0, 3..<(3 + value.count)) }
                    XCTAssertEqual(checked, expected, "\(value)")
                }
            }
        }
        let ascii = [UInt8](repeating: 0x41, count: 33)
        XCTAssertTrue(ascii.withUnsafeBufferPointer { RowRules.isValidUTF8($0, 0..<33) })
        XCTAssertTrue(ascii.withUnsafeBufferPointer { RowRules.isValidUTF8($0, 5..<5) })
    }

    /// The check goes on eight bytes at a time after a multi-byte character: a second
    /// sequence, good or bad, at every position after a first character still gets what
    /// Swift's strict decoder says.
    func testR2TheUTF8CheckAgreesWithSwiftsDecoderAfterAMultiByteCharacter() {
        let sequences: [[UInt8]] = [[0xC3, 0xA9], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xFF]]
        for first in [[0xC3, 0xA9], [0xE2, 0x82, 0xAC]] as [[UInt8]] {
            for sequence in sequences {
                for length in 0..<20 {
                    for at in 0...length {
                        var value = first + [UInt8](repeating: UInt8(ascii: "b"), count: length)
                        value.insert(contentsOf: sequence, at: first.count + at)
                        let buffer = [UInt8]("x".utf8) + value + [0xC3]
                        let expected = String(validating: value, as: UTF8.self) != nil
                        let checked = buffer.withUnsafeBufferPointer { RowRules.isValidUTF8($0, 1..<(1 + value.count)) }
                        XCTAssertEqual(checked, expected, "\(value)")
                    }
                }
            }
        }
    }

    /// R2: a row's bytes are checked as UTF-8 once for all its values; a value is still bad
    /// when it ends or starts inside a character that only the next or the previous field
    /// completes (a CSV record keeps its fields end to end, so `A\xC3` then `\xA9B` reads as
    /// the valid `AéB` there). Also past a trimmed space, and in a quoted field.
    func testR2AValueCutInsideACharacterIsInvalidThoughTheRowsBytesAreValid() throws {
        let cases: [[UInt8]] = [
            Array("S1,A".utf8) + [0xC3] + Array(",".utf8) + [0xA9] + Array("B".utf8),
            Array("S1, A".utf8) + [0xE2, 0x82] + Array(",".utf8) + [0xAC] + Array(" B".utf8),
            Array("S1,\"A".utf8) + [0xF0, 0x9F, 0x98] + Array("\",".utf8) + [0x80],
        ]
        for bad in cases {
            let w = Workspace()
            w.writeBytes("staff.csv", Array("staff_id,first_name,last_name\n".utf8) + bad + Array("\nS2,Zoë,Núñez\n".utf8))
            let rows = try CSVEntityReader(kind: .staff, limit: .count(5)).read(path: w.exportDir + "/staff.csv", name: "staff.csv")
            XCTAssertEqual(rows.keys, ["S2"], "\(bad)")
            XCTAssertEqual(rows.protectedKeys, ["S1"])
            XCTAssertEqual(rows.problems.first?.column, "first_name")
            XCTAssertEqual(rows.problems.first?.message, "the value is not valid UTF-8")
            XCTAssertEqual(Array(rows.values(0).prefix(2)), ["Zoë", "Núñez"])
        }
    }

    /// R2: an id with a control character, at every position of an id up to 20 bytes long
    /// (which is checked eight bytes at a time), skips its row and names the byte; the
    /// printable bytes around them (a space, `~`, `é`) do not.
    func testR2AControlByteAtEveryPositionOfAnIDSkipsItsRow() throws {
        for control: UInt8 in [0x00, 0x01, 0x09, 0x1F, 0x7F] {
            for length in 1..<21 {
                for at in 0..<length where !(control == 0x09 && (at == 0 || at == length - 1)) {
                    var id = [UInt8](repeating: UInt8(ascii: "7"), count: length)
                    id[at] = control
                    let w = Workspace()
                    w.writeBytes("staff.csv", Array("staff_id,first_name,last_name\n".utf8) + id + Array(",A,B\nS 2~é,C,D\n".utf8))
                    let rows = try CSVEntityReader(kind: .staff, limit: .count(5)).read(path: w.exportDir + "/staff.csv", name: "staff.csv")
                    XCTAssertEqual(rows.keys, ["S 2~é"], "byte \(control) at \(at) of \(length)")
                    XCTAssertEqual(rows.problems.map(\.message), ["the id holds a control character (byte 0x\(String(control, radix: 16, uppercase: true)))"])
                }
            }
        }
        // The word-at-a-time test itself, for every byte value at every position.
        for value in 0...255 {
            for at in 0..<19 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 19)
                bytes[at] = UInt8(value)
                for start in 0..<3 {
                    let range = start..<(start + 16)
                    let may = bytes.withUnsafeBufferPointer { RowRules.mayHoldControl($0, range) }
                    XCTAssertEqual(may, bytes[range].contains(where: RowRules.isControl), "byte \(value) at \(at), \(range)")
                }
            }
        }
    }

    func testHeaderIsCaseInsensitiveInAnyOrderWithUnknownColumnsReported() throws {
        let rows = try readCSV(.staff, "Email,LAST_NAME,Nickname,First_Name,Staff_ID\nz@d.org,O'Brien,Zo,Zoë,S1\n")
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.values(0), ["Zoë", "O'Brien", "z@d.org", "", "", ""])
        XCTAssertEqual(rows.unknownColumns, ["nickname"])
    }

    /// Booleans (docs/export-format.md): the optional staff `enabled` column is stored as "" (yes) or
    /// "false"; anything else is a bad value (R2).
    func testR2StaffEnabledIsAYesNoValue() throws {
        let rows = try readCSV(.staff, "staff_id,first_name,last_name,enabled\nS1,A,B,FALSE\nS2,C,D,yes\nS3,E,F,\nS4,G,H,0\nS5,I,J,maybe\n")
        XCTAssertEqual(rows.keys, ["S1", "S2", "S3", "S4"])
        XCTAssertEqual((0..<4).map { rows.value($0, 5) }, ["false", "", "", "false"])
        XCTAssertEqual(rows.problems.map(\.column), ["enabled"])
        XCTAssertTrue(rows.problems[0].message.contains("maybe"), rows.problems[0].message)
    }

    func testListsAreNormalised() throws {
        let rows = try readCSV(.staff, "staff_id,first_name,last_name,school_ids\nS1,A,B, 101 ;;102; \n")
        XCTAssertEqual(rows.value(0, 4), "101;102")
    }

    func testR2MissingRequiredColumnFailsNamingFileAndColumn() {
        XCTAssertThrowsError(try readCSV(.staff, "staff_id,first_name\nS1,A\n")) { e in
            guard case .missingColumn("staff.csv", "last_name", _)? = e as? ExportError else { return XCTFail("\(e)") }
            XCTAssertTrue("\(e)".contains("staff.csv:1"))
        }
        // A header of many names is shown by its first 20 and a count.
        let header = "staff_id,first_name," + (1...30).map { "c\($0)" }.joined(separator: ",")
        XCTAssertThrowsError(try readCSV(.staff, header + "\n")) { e in
            XCTAssertTrue("\(e)".contains("(found: staff_id, first_name, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, and 12 more); fix the SIS export"), "\(e)")
        }
    }

    /// R2: the message names the file, the line and the key's column (or columns).
    func testR2DuplicateIDNamesItsColumn() throws {
        XCTAssertThrowsError(try readCSV(.staff, "staff_id,first_name,last_name\nS1,A,B\nS1,E,F\n")) { e in
            XCTAssertEqual("\(e)", "staff.csv:3: id in column staff_id `S1` appears twice (first at line 2); each record must appear once")
        }
        XCTAssertThrowsError(try readCSV(.householdRelationships, "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\nH1,Student,ST1,Guardian\n")) { e in
            XCTAssertTrue("\(e)".hasPrefix("household_relationships.csv:3: key in columns household_id, record_type, record_id `H1"), "\(e)")
        }
        let doc = #"{"format": "sisync-export", "version": 1, "staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B"}, {"staff_id": "S2", "first_name": "A", "last_name": "B"}, {"staff_id": "S3", "first_name": "A", "last_name": "B"}, {"staff_id": "S1", "first_name": "A", "last_name": "B"}]}"#
        XCTAssertThrowsError(try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(doc.utf8), name: "export.json")) { e in
            XCTAssertEqual("\(e)", "export.json: staff[3].staff_id: id `S1` appears twice (first at staff[0].staff_id); each record must appear once")
        }
    }

    func testR2DuplicateIDNamesBothLines() {
        XCTAssertThrowsError(try readCSV(.staff, "staff_id,first_name,last_name\nS1,A,B\nS2,C,D\nS1,E,F\n")) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 4, id: "S1", firstLine: 2, columns: ["staff_id"]))
        }
    }

    func testR2BadRowsAreSkippedAndTheirIDsProtected() throws {
        let text = """
            staff_id,first_name,last_name,email,status
            S1,Ann,Lee,ann@d.org,active
            S2,,Kim,kim@d.org,active
            S3,Bo,Wu,not-an-email,active
            S4,Cy,Ng,cy@d.org,retired
            ,Dee,Ox,dee@d.org,
            S6,Ed,Po,ed@d.org,active,extra

            """
        let rows = try readCSV(.staff, text)
        XCTAssertEqual(rows.keys, ["S1"])
        XCTAssertEqual(rows.problems.count, 5)
        XCTAssertEqual(rows.protectedKeys, ["S2", "S3", "S4", "S6"])
        XCTAssertTrue(rows.problems[0].description.contains("staff.csv:3: column first_name"))
        XCTAssertTrue(rows.problems[1].description.contains("invalid email"))
        XCTAssertTrue(rows.problems[4].description.contains("expected 5 fields, found 6"))
    }

    func testR2UnknownRecordTypeIsABadRow() throws {
        let rows = try readCSV(.householdRelationships, "household_id,record_type,record_id,relationship\nH1,Student,ST1,Parent\nH1,teacher,T1,Parent\n")
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.keys[0], RecordKey.join(["H1", "student", "ST1"]))
        XCTAssertTrue(rows.problems[0].message.contains("unknown record_type"))
    }

    func testR2TooManyBadRowsFailTheFile() {
        var text = "staff_id,first_name,last_name\n"
        for i in 1...100 { text += "S\(i),A,B\n" }
        text += "S101,,B\nS102,,B\n"
        // 102 rows, 1% = 1 allowed: 2 bad rows fail the file.
        XCTAssertThrowsError(try readCSV(.staff, text, limit: .percent(1))) { e in
            XCTAssertEqual(e as? ExportError, .tooManyInvalidRows(file: "staff.csv", invalid: 2, allowed: 1, rows: 102))
        }
        XCTAssertNoThrow(try readCSV(.staff, text, limit: .count(2)))
    }

    /// A file's problems past the first few are counted, not kept (issue 34: a broken
    /// export held a problem per row). A file refused for its count says so before its ids
    /// are checked; an accepted one is read again keeping every problem, so each skipped row
    /// is reported and its record protected (R2), and the duplicate it reports is the
    /// first; a pipe, which cannot be read twice, keeps every problem.
    func testR2ProblemsPastTheFirstAreCountedAndAnAcceptedFileKeepsThemAll() throws {
        var text = "staff_id,first_name,last_name\n"
        for i in 1...40 { text += i % 4 == 0 ? "S\(i),,B\n" : "S\(i),A,B\n" }
        let w = Workspace()
        w.write("staff.csv", text)
        let path = w.exportDir + "/staff.csv"
        func reader(_ limit: InvalidRowLimit) -> CSVEntityReader {
            var r = CSVEntityReader(kind: .staff, limit: limit)
            r.problemsKeptFirst = 3
            return r
        }
        let everyBadKey = Set((1...10).map { "S\($0 * 4)" })

        let counted = try reader(.count(10)).read(InputFile(path: path), name: "staff.csv", keeping: 3)
        XCTAssertEqual(counted.problemCount, 10)
        XCTAssertEqual(counted.problems.map(\.location), ["5", "9", "13"])
        XCTAssertEqual(counted.protectedKeys, ["S4", "S8", "S12"])

        let accepted = try reader(.count(10)).read(path: path, name: "staff.csv")
        XCTAssertEqual(accepted.problemCount, 10)
        XCTAssertEqual(accepted.problems, try CSVEntityReader(kind: .staff, limit: .count(10)).read(path: path, name: "staff.csv").problems)
        XCTAssertEqual(accepted.problems.count, 10)
        XCTAssertEqual(accepted.keys.count, 30)
        XCTAssertEqual(accepted.protectedKeys, everyBadKey)

        XCTAssertThrowsError(try reader(.count(9)).read(path: path, name: "staff.csv")) { e in
            XCTAssertEqual(e as? ExportError, .tooManyInvalidRows(file: "staff.csv", invalid: 10, allowed: 9, rows: 40))
        }

        // Two duplicates of skipped rows, the second of a kept one: the first is reported.
        w.write("staff.csv", text + "S20,A,B\nS8,A,B\n")
        XCTAssertThrowsError(try reader(.count(100)).read(path: path, name: "staff.csv")) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 42, id: "S20", firstLine: 21, columns: ["staff_id"]))
        }
        // Refused for its count, past the kept problems: said before the duplicate is looked for.
        XCTAssertThrowsError(try reader(.count(9)).read(path: path, name: "staff.csv")) { e in
            XCTAssertEqual(e as? ExportError, .tooManyInvalidRows(file: "staff.csv", invalid: 10, allowed: 9, rows: 42))
        }
        // Within the kept problems, the duplicate comes first, as before.
        XCTAssertThrowsError(try CSVEntityReader(kind: .staff, limit: .count(9)).read(path: path, name: "staff.csv")) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 42, id: "S20", firstLine: 21, columns: ["staff_id"]))
        }

        // Rewritten in place between the two reads: refused, whatever the second read holds.
        w.write("staff.csv", text)
        var rewritten = reader(.count(10))
        rewritten.beforeReadingAgain = {
            guard let handle = FileHandle(forWritingAtPath: path) else { return XCTFail("cannot open \(path)") }
            handle.truncateFile(atOffset: 0)
            handle.write(Data("staff_id,first_name,last_name\nS1,A,B\n".utf8))
            handle.closeFile()
        }
        XCTAssertThrowsError(try rewritten.read(path: path, name: "staff.csv")) { e in
            XCTAssertEqual(e as? ExportError, .changedWhileRead(file: "staff.csv", first: "40 rows, 10 invalid", second: "1 row, 0 invalid"))
            XCTAssertTrue("\(e)".contains("the file changed while it was read"), "\(e)")
        }

        let fifo = w.exportDir + "/staff.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let bytes = Data(text.utf8)
        let writer = Thread { try? bytes.write(to: URL(fileURLWithPath: fifo)) }
        writer.start()
        let piped = try reader(.count(10)).read(path: fifo, name: "staff.csv")
        XCTAssertEqual(piped.problems.count, 10)
        XCTAssertEqual(piped.protectedKeys, everyBadKey)
    }

    func testR2InvalidUTF8IsABadRow() throws {
        let w = Workspace()
        w.writeBytes("staff.csv", Array("staff_id,first_name,last_name\nS1,".utf8) + [0xC3, 0x28] + Array(",B\nS2,A,B\n".utf8))
        let rows = try CSVEntityReader(kind: .staff, limit: .count(5)).read(path: w.exportDir + "/staff.csv", name: "staff.csv")
        XCTAssertEqual(rows.keys, ["S2"])
        XCTAssertEqual(rows.protectedKeys, ["S1"])
    }

    // MARK: JSON

    private func readJSON(_ text: String, entities: [EntityKind] = [.staff]) throws -> [EntityKind: EntityRows] {
        try JSONExportReader(entities: entities, limit: .count(10)).read(bytes: Array(text.utf8), name: "export.json")
    }

    func testR2JSONBadRowNamesItsPath() throws {
        let doc = """
            {"format": "sisync-export", "version": 1, "generated_at": "2026-09-01T06:00:00Z",
             "staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B"},
                       {"staff_id": "S2", "first_name": "C", "last_name": "D", "email": "bad"}]}
            """
        let rows = try readJSON(doc)[.staff]!
        XCTAssertEqual(rows.keys, ["S1"])
        XCTAssertEqual(rows.problems.first?.location, "staff[1]")
        XCTAssertEqual(rows.problems.first?.column, "email")
    }

    func testR2JSONStructuralErrors() {
        XCTAssertThrowsError(try readJSON(#"{"format": "sisync-export", "version": 1, "staff": [{"staff_id": "S1",}]}"#)) { e in
            guard case .malformedJSON(_, let path, _, _)? = e as? ExportError else { return XCTFail("\(e)") }
            XCTAssertEqual(path, "staff[0].staff_id")
        }
        XCTAssertThrowsError(try readJSON(#"{"format": "sisync-export", "version": 1, "staff": []}"#, entities: [.staff, .students])) { e in
            XCTAssertEqual(e as? ExportError, .missingEntity(file: "export.json", entity: "students"))
        }
        XCTAssertThrowsError(try readJSON(#"{"format": "other", "version": 1, "staff": []}"#))
        XCTAssertThrowsError(try readJSON(#"{"format": "sisync-export", "version": 1, "staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B"}, {"staff_id": "S1", "first_name": "A", "last_name": "B"}]}"#)) { e in
            XCTAssertEqual(e as? ExportError, .duplicateJSONID(file: "export.json", path: "staff[1].staff_id", id: "S1", firstPath: "staff[0].staff_id", columns: ["staff_id"]))
        }
    }

    func testJSONEntityPresentButNotListedIsIgnored() throws {
        let rows = try readJSON(#"{"format": "sisync-export", "version": 1, "students": [{"bad": true}], "staff": []}"#)
        XCTAssertEqual(rows.keys.sorted(), [.staff])
    }

    /// CSV and JSON carrying the same data produce the same records, fingerprints included.
    func testCSVAndJSONAreEquivalent() throws {
        let csv: [EntityKind: String] = [
            .staff: "staff_id,first_name,last_name,email,title,school_ids,status\nS1,Zoë,O'Brien,zoe@d.org,\"Teacher, Math\",101;102,active\nS2,Jo,Ng,,Aide,,inactive\n",
            .students: "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Ana,Ruiz,,101,5,Enrolled,2026-2027\n",
            .households: "household_id,name\nH1,\"The \"\"Ruiz\"\" Family\"\n",
            .householdRelationships: "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\n",
            .applicants: "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Li,Wei,Applied,S1;S2\n",
            .donors: "donor_id,name,email\nD1,Acme,give@acme.org\n",
            .attributes: "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\ndonor,D1,Major Donor,\n",
        ]
        let json = """
            {"format": "sisync-export", "version": 1, "generated_at": "2026-09-01T06:00:00Z",
             "staff": [{"staff_id": "S1", "first_name": "Zoë", "last_name": "O'Brien", "email": "zoe@d.org", "title": "Teacher, Math", "school_ids": ["101", "102"], "status": "active"},
                       {"staff_id": "S2", "first_name": "Jo", "last_name": "Ng", "email": null, "title": "Aide", "school_ids": [], "status": "inactive"}],
             "students": [{"student_id": "ST1", "first_name": "Ana", "last_name": "Ruiz", "school_id": "101", "grade": 5, "enrollment_status": "Enrolled", "school_year": "2026-2027"}],
             "households": [{"household_id": "H1", "name": "The \\"Ruiz\\" Family"}],
             "household_relationships": [{"household_id": "H1", "record_type": "student", "record_id": "ST1", "relationship": "Parent"}],
             "applicants": [{"applicant_id": "A1", "first_name": "Li", "last_name": "Wei", "status": "Applied", "evaluator_staff_ids": ["S1", "S2"]}],
             "donors": [{"donor_id": "D1", "name": "Acme", "email": "give@acme.org"}],
             "attributes": [{"record_type": "student", "record_id": "ST1", "attribute": "Honor Roll", "school_year": "2026-2027"},
                            {"record_type": "donor", "record_id": "D1", "attribute": "Major Donor"}]}
            """
        let fromJSON = try readJSON(json, entities: EntityKind.allCases)
        for kind in EntityKind.allCases {
            let a = try readCSV(kind, csv[kind]!)
            let b = fromJSON[kind]!
            XCTAssertEqual(a.keys, b.keys, "\(kind)")
            for r in 0..<a.count {
                XCTAssertEqual(a.values(r), b.values(r), "\(kind) row \(r)")
                XCTAssertEqual(a.fingerprint(r), b.fingerprint(r), "\(kind) row \(r)")
                XCTAssertEqual(a.isInactive(r), b.isInactive(r), "\(kind) row \(r)")
            }
        }
    }
}

extension ExportValidationTests {
    /// R2: a duplicate id is structural even when one of the two rows is a bad row.
    func testR2DuplicateIDInABadRowIsStillADuplicate() {
        XCTAssertThrowsError(try readCSVForExtension(.staff, "staff_id,first_name,last_name\nS1,A,B\nS1,,B\n")) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 3, id: "S1", firstLine: 2, columns: ["staff_id"]))
        }
        XCTAssertThrowsError(try readCSVForExtension(.staff, "staff_id,first_name,last_name\nS1,A,B,extra\nS1,A,B\n")) { e in
            guard case .duplicateID("staff.csv", 3, "S1", _, ["staff_id"])? = e as? ExportError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try readCSVForExtension(.staff, "staff_id,first_name,last_name\nS1,A,B\nS1,A,B,extra\n")) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 3, id: "S1", firstLine: 2, columns: ["staff_id"]))
        }
    }

    private func readCSVForExtension(_ kind: EntityKind, _ text: String) throws -> EntityRows {
        let w = Workspace()
        w.write(kind.fileName, text)
        return try CSVEntityReader(kind: kind, limit: .count(100)).read(path: w.exportDir + "/" + kind.fileName, name: kind.fileName)
    }
}
