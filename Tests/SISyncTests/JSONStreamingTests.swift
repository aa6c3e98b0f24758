import Foundation
import XCTest
@testable import SISync

/// The native JSON export is read as it streams (issue 34: memory that does not grow with
/// the export): a file is read a chunk at a time, with the rows and the errors (R2) of the
/// same document read whole, and only a chunk of it held at once.
final class JSONStreamingTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sisync-json-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func file(_ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent("export-\(UUID().uuidString).json")
        try Data(bytes).write(to: url)
        return url.path
    }

    private static let head = #"{"format": "sisync-export", "version": 1, "generated_at": "2026-09-01T06:00:00Z", "#

    /// Documents whose every byte boundary matters somewhere: escapes, a surrogate pair, a
    /// BOM, lists, literals, unknown members with nested values, a member given twice,
    /// names in another case, bad rows, and each kind of structural error.
    private static let documents: [String] = [
        head + #""staff": [{"staff_id": "S1", "first_name": "Zo\u00eb \ud83d\ude00", "last_name": "O\"Brien\\/\b\f\n\r\t", "school_ids": ["101", "", "102"], "status": "active"}, {"Staff_ID": "S2", "First_Name": "A", "last_name": "B", "extra": {"a": [1, 2.5e3, true, false, null, {"b": "c"}]}, "title": true, "email": null}, {"staff_id": "S3", "first_name": "A", "first_name": "Twice", "last_name": "C", "school_ids": [1, "x;y", null]}]}"#,
        "\u{FEFF}" + head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B"}], "students": [{"student_id": "T1", "first_name": "A", "last_name": "B", "grade": 5, "school_year": "2026-2027"}], "other": [[[["deep"]]]]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B", "email": "bad"}, {"staff_id": "S2", "first_name": "A", "last_name": "B", "title": {"x": 1}}]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "never closed"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "A\q"}]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "\ud83d"}]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "\u12"}]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "\u+041"}]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B"}]} trailing"#,
        head + #""staff": [{"staff_id": "S1", "first_name": tru}]}"#,
        head + #""staff": [{"staff_id": "S1", "grade": 1.2.3}]}"#,
        head + #""staff": [{"staff_id": "S1",}]}"#,
        head + #""staff": ["not an object"]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B"}, {"staff_id": "S1", "first_name": "A", "last_name": "B"}]}"#,
        head + #""staff": [{"staff_id": "S1", "first_name": "ctl "# + "\u{01}" + #""}]}"#,
        head + #""staff": [], "x": "# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}",
        head + #""staff": []"#,
        "",
    ]

    /// What a read gave, to compare two reads: the rows and their problems, or the error.
    private func outcome(_ read: () throws -> [EntityKind: EntityRows]) -> String {
        do {
            let result = try read()
            return result.keys.sorted { $0.rawValue < $1.rawValue }.map { kind in
                let rows = result[kind]!
                let each = (0..<rows.count).map { r in "\(rows.key(r)) \(rows.values(r)) \(rows.fingerprint(r)) \(rows.isInactive(r))" }
                let problems = rows.problems.map { "\($0.location) \($0.column ?? "-") \($0.message)" }
                return "\(kind): \(each) problems \(problems) unknown \(rows.unknownColumns)"
            }.joined(separator: "\n")
        } catch {
            return "error: \(error)"
        }
    }

    func testR2ADocumentReadInChunksGivesTheRowsAndErrorsOfTheDocumentReadWhole() throws {
        var reader = JSONExportReader(entities: [.staff], limit: .count(10))
        let both = JSONExportReader(entities: [.staff, .students], limit: .count(10))
        for (n, text) in Self.documents.enumerated() {
            let bytes = Array(text.utf8)
            let path = try file(bytes)
            for r in [reader, both] {
                let whole = outcome { try r.read(bytes: bytes, name: "export.json") }
                if r.entities.count == 1 { XCTAssertEqual(whole.hasPrefix("error"), n >= 3, "document \(n): \(whole)") }
                for size in [1, 2, 3, 5, 7, 64, 1 << 20] {
                    var chunked = r
                    chunked.chunkSize = size
                    XCTAssertEqual(outcome { try chunked.read(path: path, name: "export.json") }, whole, "document \(n), \(size)-byte chunks")
                }
            }
        }
        // The offsets in messages count the document's bytes, not the window's.
        reader.chunkSize = 4
        let path = try file(Array(Self.documents[4].utf8))
        XCTAssertThrowsError(try reader.read(path: path, name: "export.json")) { e in
            guard case .malformedJSON(_, let at, let offset, let message)? = e as? ExportError else { return XCTFail("\(e)") }
            XCTAssertEqual(at, "staff[0].first_name")
            XCTAssertEqual(offset, Self.documents[4].utf8.count - 4)
            XCTAssertTrue(message.contains("unknown escape"), message)
        }
    }

    /// A large document is never held whole: the scanner's window stays within a chunk (and
    /// the few bytes of a token it had begun), whatever the document's size.
    func testAStreamedDocumentIsHeldAChunkAtATime() throws {
        var text = Self.head + #""staff": ["#
        for i in 0..<20_000 {
            text += (i == 0 ? "" : ",\n") + #"{"staff_id": "S\#(i)", "first_name": "First \#(i)", "last_name": "Last", "email": "s\#(i)@d.org", "school_ids": ["101", "102"], "status": "active"}"#
        }
        text += "]}"
        let bytes = Array(text.utf8)
        XCTAssertGreaterThan(bytes.count, 2_000_000)
        var reader = JSONExportReader(entities: [.staff], limit: .count(10))
        reader.chunkSize = 16 << 10
        var largest = 0
        reader.afterReading = { largest = $0 }
        let rows = try reader.read(path: try file(bytes), name: "export.json")[.staff]!
        XCTAssertEqual(rows.count, 20_000)
        XCTAssertTrue(rows.values(rows.row(forKey: "S19999")!).contains("First 19999"))
        XCTAssertGreaterThan(largest, 0)
        XCTAssertLessThanOrEqual(largest, (16 << 10) + 16)
    }

    /// What one string, one element or the unknown members may hold is bounded, so that a
    /// document that streams cannot make the run hold it whole after all.
    func testR2AValueOrAnElementPastItsLimitIsStructuralAndUnknownNamesAreBounded() throws {
        let reader = JSONExportReader(entities: [.staff], limit: .count(10))
        let limit = JSONScanner.valueByteLimit
        let atLimit = Self.head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B", "note": ""# + String(repeating: "x", count: limit) + #""}]}"#
        XCTAssertEqual(try reader.read(bytes: Array(atLimit.utf8), name: "export.json")[.staff]?.unknownColumns, ["note"])
        // A number of exactly 4 MiB is read (and checked) whole; one byte more is refused below.
        let numberAtLimit = Self.head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B", "weight": 1"# + String(repeating: "0", count: limit - 1) + "}]}"
        XCTAssertEqual(try reader.read(bytes: Array(numberAtLimit.utf8), name: "export.json")[.staff]?.count, 1)
        for (text, expected, at) in [
            (Self.head + #""staff": [{"staff_id": "S1", "title": ""# + String(repeating: "x", count: limit + 1) + #""}]}"#, "a string of more than 4 MiB", "staff[0].title"),
            (Self.head + #""staff": [{"staff_id": "S1", "unknown": ""# + String(repeating: "\\n", count: limit) + "x" + #""}]}"#, "a string of more than 4 MiB", "staff[0].unknown"),
            (Self.head + #""staff": [{"staff_id": "S1", "grade": 1"# + String(repeating: "0", count: limit) + "}]}", "a number of more than 4 MiB", "staff[0].grade"),
            (Self.head + #""staff": [{"staff_id": "S1""# + String(repeating: #", "title": "\#(String(repeating: "y", count: 1 << 20))""#, count: 5) + "}]}", "an element of more than 4 MiB of text", "staff[0].title"),
            (Self.head + #""staff": [{"staff_id": "S1", "school_ids": [""# + String(repeating: #"\#(String(repeating: "z", count: 1 << 20))", ""#, count: 5) + #""]}]}"#, "an element of more than 4 MiB of text", "staff[0].school_ids"),
        ] {
            XCTAssertThrowsError(try reader.read(path: try file(Array(text.utf8)), name: "export.json")) { e in
                guard case .malformedJSON(_, let path, _, let message)? = e as? ExportError else { return XCTFail("\(e)") }
                XCTAssertEqual(message, expected)
                XCTAssertEqual(path, at)
            }
        }
        var many = Self.head + #""staff": ["#
        for i in 0..<1_500 { many += (i == 0 ? "" : ",") + #"{"staff_id": "S\#(i)", "first_name": "A", "last_name": "B", "unknown_\#(i)": 1}"# }
        many += "]}"
        let rows = try reader.read(bytes: Array(many.utf8), name: "export.json")[.staff]!
        XCTAssertEqual(rows.count, 1_500)
        XCTAssertEqual(rows.unknownColumns.count, JSONExportReader.unknownNamesKept.count)
    }

    /// R2 as for CSV: past the problems kept, a document's skipped rows are counted; too many
    /// are refused for their count at once, else the document is read again keeping and
    /// protecting every one; a document rewritten between the reads is refused.
    func testR2JSONProblemsPastTheFirstAreCountedAndAnAcceptedDocumentKeepsThemAll() throws {
        func doc(bad: Int, duplicate: Bool = false) -> [UInt8] {
            var rows: [String] = []
            for i in 0..<40 { rows.append(#"{"staff_id": "S\#(i)", "first_name": "A", "last_name": "B", "email": "\#(i < bad ? "bad-\(i)" : "s\(i)@d.org")"}"#) }
            if duplicate { rows.append(#"{"staff_id": "S39", "first_name": "A", "last_name": "B"}"#) }
            return Array((Self.head + #""staff": ["# + rows.joined(separator: ",\n") + "]}").utf8)
        }
        var reader = JSONExportReader(entities: [.staff], limit: .count(20))
        reader.problemsKeptFirst = 3
        var reads = 0
        reader.beforeReadingAgain = { reads += 1 }
        let rows = try reader.read(path: try file(doc(bad: 10)), name: "export.json")[.staff]!
        XCTAssertEqual(reads, 1, "read again")
        XCTAssertEqual(rows.problems.count, 10)
        XCTAssertEqual(rows.problemCount, 10)
        XCTAssertEqual(Set(rows.protectedKeys), Set((0..<10).map { "S\($0)" }))
        reads = 0
        XCTAssertEqual(try reader.read(path: try file(doc(bad: 3)), name: "export.json")[.staff]?.problems.count, 3)
        XCTAssertEqual(reads, 0, "no more problems than kept: one read")
        var refused = JSONExportReader(entities: [.staff], limit: .count(5))
        refused.problemsKeptFirst = 3
        XCTAssertThrowsError(try refused.read(path: try file(doc(bad: 10, duplicate: true)), name: "export.json")) { e in
            XCTAssertEqual(e as? ExportError, .tooManyInvalidRows(file: "export.json (staff)", invalid: 10, allowed: 5, rows: 41), "the count, before the duplicate")
        }
        let path = try file(doc(bad: 10))
        var rewritten = reader
        rewritten.beforeReadingAgain = {
            let handle = FileHandle(forWritingAtPath: path)!
            try! handle.truncate(atOffset: 0)
            try! handle.write(contentsOf: Data(doc(bad: 9)))
            try! handle.close()
        }
        XCTAssertThrowsError(try rewritten.read(path: path, name: "export.json")) { e in
            guard case .changedWhileRead("export.json", _, _)? = e as? ExportError else { return XCTFail("\(e)") }
        }
    }

    /// A bad value is shown clipped in its problem, which is kept: not 1 MiB a row.
    func testR2ABadValueIsShownClippedInItsProblem() throws {
        let email = String(repeating: "x", count: 1 << 20)
        let text = Self.head + #""staff": [{"staff_id": "S1", "first_name": "A", "last_name": "B", "email": "\#(email)"}]}"#
        let rows = try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(text.utf8), name: "export.json")[.staff]!
        let message = try XCTUnwrap(rows.problems.first?.message)
        XCTAssertLessThan(message.utf8.count, 300, message)
        XCTAssertTrue(message.hasSuffix("… (1048576 bytes)`"), message)
    }

    /// The limits are judged where they are crossed, the same in any chunks: a string at its
    /// opening quote, a list's text as its items come (not only once the list has ended).
    func testLimitsAreReportedAtTheSamePlaceInAnyChunks() throws {
        let limit = JSONScanner.valueByteLimit
        let prefix = Self.head + #""staff": [{"staff_id": "S1", "title": "#
        let text = prefix + "\"" + String(repeating: "x", count: limit + 1) + #""}]}"#
        let path = try file(Array(text.utf8))
        var offsets: Set<Int> = []
        for size in [7, 4096, 1 << 20] {
            var reader = JSONExportReader(entities: [.staff], limit: .count(10))
            reader.chunkSize = size
            XCTAssertThrowsError(try reader.read(path: path, name: "export.json")) { e in
                guard case .malformedJSON(_, _, let offset, _)? = e as? ExportError else { return XCTFail("\(e)") }
                offsets.insert(offset)
            }
        }
        XCTAssertEqual(offsets, [prefix.utf8.count], "the opening quote")
        let item = String(repeating: "z", count: 1 << 20)
        let list = Self.head + #""staff": [{"staff_id": "S1", "school_ids": ["# + Array(repeating: "\"\(item)\"", count: 8).joined(separator: ",") + "]}]}"
        XCTAssertThrowsError(try JSONExportReader(entities: [.staff], limit: .count(10)).read(path: try file(Array(list.utf8)), name: "export.json")) { e in
            guard case .malformedJSON(_, "staff[0].school_ids", let offset, let message)? = e as? ExportError else { return XCTFail("\(e)") }
            XCTAssertEqual(message, "an element of more than 4 MiB of text")
            XCTAssertLessThan(offset, 6 << 20, "refused at the item that crossed the limit, not at the list's end")
        }
    }

    /// The unknown names kept are bounded by their bytes too, and a source that says it has
    /// more but gives nothing has ended.
    func testUnknownNamesAreBoundedByTheirBytesAndAnEmptySourceEnds() throws {
        let padding = String(repeating: "n", count: 2_000)
        var many = Self.head + #""staff": ["#
        for i in 0..<800 { many += (i == 0 ? "" : ",") + #"{"staff_id": "S\#(i)", "first_name": "A", "last_name": "B", "\#(padding)\#(i)": 1}"# }
        many += "]}"
        let rows = try JSONExportReader(entities: [.staff], limit: .count(10)).read(bytes: Array(many.utf8), name: "export.json")[.staff]!
        XCTAssertEqual(rows.unknownColumns.count, (1 << 20) / 2_003, "as many 2,003-byte names as 1 MiB holds")
        var given = false
        XCTAssertThrowsError(try JSONExportReader(entities: [.staff], limit: .count(10)).read(source: { bytes in
            if !given { bytes.append(contentsOf: Array(#"{"staff": ["#.utf8)); given = true }
            return true
        }, name: "export.json")) { e in
            guard case .malformedJSON(_, _, _, let message)? = e as? ExportError else { return XCTFail("\(e)") }
            XCTAssertEqual(message, "the document ends too early")
        }
    }

    /// A `\u` escape is four hex digits of either case and nothing else (RFC 8259): a sign,
    /// a space or a `0x` before them is a malformed document, at the escape.
    func testAUnicodeEscapeIsFourHexDigitsAndNothingElse() throws {
        let reader = JSONExportReader(entities: [.staff], limit: .count(10))
        let good = Self.head + #""staff": [{"staff_id": "S1", "first_name": "\u004a\u004A\u00eB", "last_name": "B"}]}"#
        let rows = try XCTUnwrap(reader.read(bytes: Array(good.utf8), name: "export.json")[.staff])
        XCTAssertEqual(rows.values(0)[0], "JJë")
        for escape in [#"\u+041"#, #"\u-041"#, #"\u 041"#, #"\u0x41"#, #"\u004g"#] {
            let bad = Self.head + #""staff": [{"staff_id": "S1", "first_name": ""# + escape + #"", "last_name": "B"}]}"#
            XCTAssertThrowsError(try reader.read(bytes: Array(bad.utf8), name: "export.json"), escape) { e in
                guard case .malformedJSON(_, let at, _, let message)? = e as? ExportError else { return XCTFail("\(escape): \(e)") }
                XCTAssertEqual(at, "staff[0].first_name", escape)
                XCTAssertTrue(message.contains("four hex digits"), "\(escape): \(message)")
            }
        }
    }
}
