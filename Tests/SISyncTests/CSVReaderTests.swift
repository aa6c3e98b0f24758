import XCTest
@testable import SISync

final class CSVReaderTests: XCTestCase {
    private func records(_ text: String, chunk: Int = 1 << 16) throws -> [[String]] {
        try records(Array(text.utf8), chunk: chunk)
    }

    private func records(_ bytes: [UInt8], chunk: Int) throws -> [[String]] {
        var reader = CSVReader(file: "t.csv")
        var out: [[String]] = []
        let collect: (CSVRecord) throws -> Void = { r in out.append((0..<r.count).map { r.string($0) }) }
        var i = 0
        while i < bytes.count {
            let end = min(i + chunk, bytes.count)
            try bytes[i..<end].withUnsafeBufferPointer { try reader.feed($0, onRecord: collect) }
            i = end
        }
        try reader.finish(onRecord: collect)
        return out
    }

    func testQuotedCommasQuotesAndNewlines() throws {
        let text = "a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"line1\nline2\"\n"
        XCTAssertEqual(try records(text), [["a", "b", "c"], ["x, y", "say \"hi\"", "line1\nline2"]])
    }

    func testCRLFAndLFAndMissingFinalNewline() throws {
        XCTAssertEqual(try records("a,b\r\n1,2\r\n3,4"), [["a", "b"], ["1", "2"], ["3", "4"]])
        XCTAssertEqual(try records("a,b\n1,2\n"), [["a", "b"], ["1", "2"]])
    }

    func testByteOrderMarkIsSkipped() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("id,name\n1,Zoë\n".utf8)
        XCTAssertEqual(try records(bytes, chunk: 2), [["id", "name"], ["1", "Zoë"]])
    }

    func testEmptyFieldsAndTrailingComma() throws {
        XCTAssertEqual(try records("a,b,c\n1,,\n,,\n"), [["a", "b", "c"], ["1", "", ""], ["", "", ""]])
    }

    func testBlankLinesAreSkipped() throws {
        XCTAssertEqual(try records("a\n\n1\n\n"), [["a"], ["1"]])
    }

    /// The same bytes fed one at a time give the same records: state survives chunk edges.
    func testChunkBoundariesDoNotMatter() throws {
        let text = "id,\"quoted\"\"x\",z\r\n1,\"a,\r\nb\",\"\"\r\n2,c,\"d\"\r\n"
        XCTAssertEqual(try records(text, chunk: 1), try records(text))
        XCTAssertEqual(try records(text, chunk: 3), try records(text))
    }

    func testLineNumbersCountQuotedNewlines() throws {
        var reader = CSVReader(file: "t.csv")
        var lines: [Int] = []
        let text = Array("h\n\"a\nb\"\nc\n".utf8)
        try text.withUnsafeBufferPointer { try reader.feed($0) { lines.append($0.line) } }
        try reader.finish { lines.append($0.line) }
        XCTAssertEqual(lines, [1, 2, 4])
    }

    /// R2: malformed CSV is a structural error naming file, line and column.
    func testUnterminatedQuoteNamesLineAndColumn() {
        XCTAssertThrowsError(try records("a,b\n1,\"open\n2,3\n")) { error in
            XCTAssertEqual(error as? ExportError, .malformedCSV(file: "t.csv", line: 2, column: 3,
                message: "a quoted field is never closed (the file ends inside it); check for a missing closing quote"))
        }
    }

    func testStrayQuoteInUnquotedFieldIsMalformed() {
        XCTAssertThrowsError(try records("a,b\n1,5'10\"\n")) { error in
            guard case .malformedCSV(let file, let line, let column, _)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "t.csv"); XCTAssertEqual(line, 2); XCTAssertEqual(column, 7)
        }
    }

    func testTextAfterClosingQuoteIsMalformed() {
        XCTAssertThrowsError(try records("a\n\"x\"y\n")) { error in
            guard case .malformedCSV(_, let line, _, _)? = error as? ExportError else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 2)
        }
    }
}
