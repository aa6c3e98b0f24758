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
}
