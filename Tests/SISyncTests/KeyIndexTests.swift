import XCTest
@testable import SISync

final class KeyIndexTests: XCTestCase {
    private func insert(_ index: inout KeyIndex, _ key: String) throws -> (entry: Int, inserted: Bool) {
        var k = key
        return try k.withUTF8 { try index.insert($0) }
    }

    func testFindsEveryKeyAcrossGrowthAndRefusesDuplicates() throws {
        var index = KeyIndex()
        let keys = (0..<50_000).map { "ST\($0)" } + ["", "Zoë", "H1\u{1F}student\u{1F}ST1"]
        for (i, k) in keys.enumerated() {
            let r = try insert(&index, k)
            XCTAssertTrue(r.inserted, k)
            XCTAssertEqual(r.entry, i)
        }
        XCTAssertEqual(index.count, keys.count)
        for (i, k) in keys.enumerated() where i % 97 == 0 || i >= 50_000 {
            XCTAssertEqual(index.find(k), i, k)
            XCTAssertEqual(index.key(i), k)
        }
        XCTAssertNil(index.find("ST50000"))
        XCTAssertNil(index.find("st1"), "keys are exact, not case-folded")
        let again = try insert(&index, "ST123")
        XCTAssertFalse(again.inserted)
        XCTAssertEqual(again.entry, 123)
    }

    /// Issue 26 item 15: key offsets are 32-bit. An index that would grow past its limit
    /// refuses the key with an error, where `UInt32(bytes.count)` trapped; shown with a
    /// small limit instead of 4 GiB of keys. What is stored stays readable.
    func testAKeyBeyondTheOffsetLimitIsRefusedNotTrapped() throws {
        var index = KeyIndex()
        index.limit = 10
        XCTAssertTrue(try insert(&index, "ABCDEF").inserted)
        XCTAssertThrowsError(try insert(&index, "GHIJK")) { e in XCTAssertEqual(e as? KeyIndex.Full, KeyIndex.Full(limit: 10)) }
        XCTAssertEqual(index.count, 1)
        XCTAssertEqual(index.key(0), "ABCDEF")
        XCTAssertNil(index.find("GHIJK"))
        XCTAssertFalse(try insert(&index, "ABCDEF").inserted, "a known key needs no room")
        XCTAssertTrue(try insert(&index, "GHIJ").inserted, "exactly at the limit fits")
        // Entries are limited too (empty keys take no bytes, but an entry number each).
        var empty = KeyIndex()
        empty.limit = 1
        XCTAssertTrue(try insert(&empty, "").inserted)
        XCTAssertThrowsError(try insert(&empty, "x"))
    }

    /// The rows of one entity: values, ids and rows past their limits are an ExportError
    /// naming the file (exit 65), not a trap.
    func testEntityRowsRefuseWhatTheirOffsetsCannotHold() throws {
        func values(_ s: String) -> [ArraySlice<UInt8>] { [Array(s.utf8)[...]] }
        var households = EntityRows(kind: .households, source: "households.csv")
        households.byteLimit = 8
        try households.append(key: "H1", values: values("Lee"), inactive: false, location: 2)
        XCTAssertThrowsError(try households.append(key: "H2", values: values("Ramirez"), inactive: false, location: 3)) { e in
            XCTAssertEqual(e as? ExportError, .tooLargeToHold(file: "households.csv", what: "bytes of values", limit: 8))
            XCTAssertTrue("\(e)".hasPrefix("households.csv: one entity holds more than 8 bytes of values"), "\(e)")
        }
        XCTAssertEqual(households.value(0, 0), "Lee")
        var ids = EntityRows(kind: .households, source: "households.csv")
        ids.byteLimit = 4
        XCTAssertThrowsError(try ids.protect("H-12345", line: 2)) { e in
            XCTAssertEqual(e as? ExportError, .tooLargeToHold(file: "households.csv", what: "bytes of ids", limit: 4))
        }
        var many = EntityRows(kind: .households, source: "households.csv")
        many.rowLimit = 2
        try many.append(key: "H1", values: values("A"), inactive: false, location: 2)
        try many.append(key: "H2", values: values("B"), inactive: false, location: 3)
        XCTAssertThrowsError(try many.append(key: "H3", values: values("C"), inactive: false, location: 4)) { e in
            XCTAssertEqual(e as? ExportError, .tooLargeToHold(file: "households.csv", what: "rows", limit: 2))
        }
        XCTAssertEqual(SyncRun.classify(ExportError.tooLargeToHold(file: "x", what: "rows", limit: 2)).exitCode, 65)
    }
}
