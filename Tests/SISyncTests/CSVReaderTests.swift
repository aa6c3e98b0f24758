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

    /// A record holds at most 4 MiB of text and 65,536 fields (issue 34: the record being
    /// read grew with whatever the file held until its line ended); past either the file is
    /// malformed at the record's first line, in one chunk or in many, whichever way the
    /// record ends (a line break, the file's end, a quote, a comma). A record at the limits
    /// is read.
    func testARecordPastItsLimitsIsRefusedAtItsFirstLineInAnyChunks() throws {
        let limit = CSVReader.recordByteLimit, fields = CSVReader.recordFieldLimit
        let atLimit = "id,v\n1," + String(repeating: "x", count: limit - 1) + "\n"
        XCTAssertEqual(try records(atLimit, chunk: 1 << 20).last?.last?.count, limit - 1)
        let manyAtLimit = "id\n\n" + String(repeating: ",", count: fields - 1)
        XCTAssertEqual(try records(manyAtLimit + "\n").last?.count, fields)
        XCTAssertEqual(try records(manyAtLimit).last?.count, fields)

        let long = String(repeating: "x", count: limit), commas = String(repeating: ",", count: fields)
        let cases: [(String, String)] = [
            ("id,v\n\n1," + long + "\n", "a row of more than 4 MiB of text"),
            ("id,v\n\n1," + long, "a row of more than 4 MiB of text"),
            ("id,v\n\n1,\"" + long + "\"\n", "a row of more than 4 MiB of text"),
            ("id,v\n\n1,\"" + long + "\"", "a row of more than 4 MiB of text"),
            ("id,v\n\n1" + commas + "\n", "a row of more than 65,536 fields"),
            ("id,v\n\n1" + commas, "a row of more than 65,536 fields"),
            ("id,v\n\n1" + commas + "x", "a row of more than 65,536 fields"),
            ("id,v\n\n1" + commas + "x\n", "a row of more than 65,536 fields"),
            ("id,v\n\n1" + commas + "\"\"\n", "a row of more than 65,536 fields"),
            ("id,v\n\n1" + commas + "\"\"", "a row of more than 65,536 fields"),
        ]
        for (text, what) in cases {
            for chunk in [1 << 20, text.utf8.count] {
                XCTAssertThrowsError(try records(text, chunk: chunk), "\(what), \(text.utf8.count) bytes in chunks of \(chunk)") { e in
                    guard case .malformedCSV(let file, let line, let column, let message)? = e as? ExportError else { return XCTFail("\(e)") }
                    XCTAssertEqual(file, "t.csv")
                    XCTAssertEqual(line, 3)
                    XCTAssertEqual(column, 1)
                    XCTAssertTrue(message.hasPrefix(what), message)
                }
            }
        }
        // A quote never closed is named where it opened.
        let open = "id,v\r\n1,\"a\nb\"\r\n2,\"" + long
        for chunk in [1 << 20, open.utf8.count] {
            XCTAssertThrowsError(try records(open, chunk: chunk)) { e in
                guard case .malformedCSV(_, let line, let column, let message)? = e as? ExportError else { return XCTFail("\(e)") }
                XCTAssertEqual([line, column], [4, 1])
                XCTAssertTrue(message.hasSuffix("the quoted field opened at line 4, column 3 is still open: check for a missing closing quote"), message)
            }
        }
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
    /// The unquoted field's end, found eight bytes at a time, is the first comma, LF, CR or
    /// double quote: each byte value at every position of a word (and past it), from every
    /// start within a word, agrees with a reading byte by byte. Bytes one off a special one
    /// (0x2B, 0x2D, 0x0B, 0x21) and with the high bit added (0xAC, 0x8A, 0x8D, 0xA2) are no end.
    func testTheEndOfAnUnquotedFieldIsFoundAtEveryPositionOfAWord() {
        func expected(_ bytes: [UInt8], _ start: Int) -> Int {
            bytes[start...].firstIndex { $0 == 0x2C || $0 == 0x0A || $0 == 0x0D || $0 == 0x22 } ?? bytes.count
        }
        for value in 0...255 {
            for at in 0..<19 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 19)
                bytes[at] = UInt8(value)
                for start in 0..<9 {
                    let found = bytes.withUnsafeBufferPointer { CSVReader.unquotedEnd($0, from: start) }
                    XCTAssertEqual(found, expected(bytes, start), "byte \(value) at \(at), from \(start)")
                }
            }
        }
        // Two special bytes in one word: the first one counts (a later one may be flagged
        // wrongly by the borrow, never an earlier one).
        var generator = Mutator(seed: 34)
        let alphabet: [UInt8] = [0x2C, 0x0A, 0x0D, 0x22, 0x2B, 0x2D, 0x0B, 0x21, 0xAC, 0x8A, 0x8D, 0xA2, 0x00, 0x01, 0xFF, 0x61, 0x2C &+ 1, 0x0A &- 1]
        for _ in 0..<5_000 {
            let bytes = (0..<Int(generator.next() % 24)).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            for start in 0...bytes.count {
                let found = bytes.withUnsafeBufferPointer { CSVReader.unquotedEnd($0, from: start) }
                XCTAssertEqual(found, expected(bytes, start), "\(bytes) from \(start)")
            }
        }
    }

    /// Fields that end at every position of a word (and records longer than the reader's
    /// first buffers: 100 fields, 3,000 bytes) read as they were written.
    func testFieldsEndingAtEveryPositionOfAWordReadAsWritten() throws {
        for length in 0..<18 {
            let field = String(repeating: "x", count: length)
            let rows = [[field, "é" + field, ""], [field + "ü", field, field]]
            for ending in ["\n", "\r\n"] {
                let text = rows.map { $0.joined(separator: ",") }.joined(separator: ending) + ending
                XCTAssertEqual(try records(text), rows, "length \(length)")
                XCTAssertEqual(try records(text, chunk: 5), rows, "length \(length), in chunks of 5")
            }
        }
        let long = (0..<100).map { String(repeating: Character(UnicodeScalar(UInt8(65 + $0 % 26))), count: 30) }
        XCTAssertEqual(try records(long.joined(separator: ",") + "\n" + long.reversed().joined(separator: ",")), [long, long.reversed()])
    }
}

