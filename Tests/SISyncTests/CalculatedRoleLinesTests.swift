import XCTest
@testable import SISync

/// `CalculatedRoleLines` (issue 34: the change feed's cost on a first linking run) writes the
/// `calculated-role` lines `EventBatch.writeCalculatedRoles` made before with
/// `CompactJSON.quote` and array appends: the same bytes, split into the same blocks.
final class CalculatedRoleLinesTests: XCTestCase {
    /// What the lines were made with before: the username through `CompactJSON.quote`, the
    /// role and school year as they are, tab-separated, a block's lines joined by newlines.
    private func reference(_ rows: [([UInt8], [UInt8], [UInt8])], blockSize: Int) -> [(count: Int, lines: [UInt8])] {
        var blocks: [(count: Int, lines: [UInt8])] = []
        for start in stride(from: 0, to: rows.count, by: blockSize) {
            var lines: [UInt8] = []
            let block = rows[start..<min(rows.count, start + blockSize)]
            for (i, row) in block.enumerated() {
                if i > 0 { lines.append(0x0A) }
                row.0.withUnsafeBufferPointer { CompactJSON.quote($0, into: &lines) }
                lines.append(0x09)
                lines += row.1
                lines.append(0x09)
                lines += row.2
            }
            blocks.append((block.count, lines))
        }
        return blocks
    }

    private func made(_ rows: [([UInt8], [UInt8], [UInt8])], blockSize: Int) throws -> [(count: Int, lines: [UInt8])] {
        let lines = CalculatedRoleLines(blockSize: blockSize)
        for (u, r, y) in rows {
            u.withUnsafeBufferPointer { u in r.withUnsafeBufferPointer { r in y.withUnsafeBufferPointer { y in lines.add(username: u, role: r, schoolYear: y) } } }
        }
        var blocks: [(count: Int, lines: [UInt8])] = []
        try lines.forEachBlock { blocks.append(($0, Array($1))) }
        return blocks
    }

    private func assertSame(_ rows: [([UInt8], [UInt8], [UInt8])], blockSize: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = reference(rows, blockSize: blockSize), got = try made(rows, blockSize: blockSize)
        XCTAssertEqual(got.map(\.count), expected.map(\.count), "block sizes", file: file, line: line)
        for (i, (g, e)) in zip(got, expected).enumerated() where g.lines != e.lines {
            XCTFail("block \(i): \(String(decoding: g.lines, as: UTF8.self).debugDescription) against \(String(decoding: e.lines, as: UTF8.self).debugDescription)", file: file, line: line)
            return
        }
    }

    /// Every byte that JSON escapes, at every place of an eight-byte word (the lines are
    /// scanned and copied eight bytes at a time), UTF-8, and empty values.
    func testUsernamesAreQuotedAsCompactJSONQuotesThemAtEveryPlace() throws {
        var rows: [([UInt8], [UInt8], [UInt8])] = []
        let special: [UInt8] = [0x22, 0x5C, 0x0A, 0x0D, 0x09, 0x00, 0x01, 0x1F, 0x7F, 0x20, 0x21, 0x23, 0x5B, 0x5D]
        for length in 0...20 {
            for at in 0..<max(length, 1) {
                for b in special {
                    var u = Array("abcdefghijklmnopqrstu".utf8.prefix(length))
                    if length > 0 { u[at] = b }
                    rows.append((u, Array("Honor Roll".utf8.prefix(length % 11)), length % 2 == 0 ? [] : Array("2026-2027".utf8)))
                }
            }
        }
        rows.append((Array("zoë.ünï@例え.jp".utf8), Array("Parent".utf8), []))
        rows.append((Array("\u{1F600}\"\u{1F600}".utf8), Array("Admissions Evaluator".utf8), Array("2026-2027".utf8)))
        rows.append(([0xC3, 0x22, 0xA9], Array("Student".utf8), []))
        try assertSame(rows, blockSize: 1024)
        try assertSame(rows, blockSize: 7)
        XCTAssertEqual(try made([(Array("q\"u\\o\te\u{1}".utf8), Array("Staff".utf8), [])], blockSize: 4).first?.lines,
                       Array("\"q\\\"u\\\\o\\te\\u0001\"\tStaff\t".utf8))
    }

    /// Random bytes, the kind a username could hold or not: seeded, so that a failure is
    /// the same on the next run.
    func testRandomUsernamesAreQuotedAsCompactJSONQuotesThem() throws {
        var generator = Mutator(seed: 31)
        let rows: [([UInt8], [UInt8], [UInt8])] = (0..<5000).map { _ in
            let n = Int.random(in: 0...40, using: &generator)
            let u = (0..<n).map { _ in Bool.random(using: &generator) ? UInt8.random(in: 0x61...0x7A, using: &generator) : UInt8.random(in: 0...255, using: &generator) }
            return (u, Array("Bus Rider".utf8), Array("2026-2027".utf8))
        }
        try assertSame(rows, blockSize: 1024)
    }

    /// A block holds `blockSize` lines: exactly that many make one block, one more a second.
    func testBlocksBreakAtTheirSize() throws {
        func rows(_ n: Int) -> [([UInt8], [UInt8], [UInt8])] { (0..<n).map { (Array("u\($0)".utf8), Array("Student".utf8), []) } }
        XCTAssertEqual(try made(rows(EventBatch.blockSize), blockSize: EventBatch.blockSize).map(\.count), [EventBatch.blockSize])
        XCTAssertEqual(try made(rows(EventBatch.blockSize + 1), blockSize: EventBatch.blockSize).map(\.count), [EventBatch.blockSize, 1])
        XCTAssertEqual(try made(rows(0), blockSize: EventBatch.blockSize).count, 0)
        XCTAssertTrue(CalculatedRoleLines().isEmpty)
        for n in [1, 1023, 1024, 1025, 2048, 2049, 5000] { try assertSame(rows(n), blockSize: EventBatch.blockSize) }
    }
}
