import Foundation
import XCTest
@testable import SISync

/// `insertRows` on SQLite outside a transaction (issue 33's whole-district rekey: 480k keys
/// a row at a time were 480k commits of the temporary database's journal): the rows are
/// added in one transaction, and an error keeps the rows added before it, as it did row
/// by row.
final class SQLiteBulkInsertTests: XCTestCase {
    func testRowsAddedOutsideATransactionAreCommittedTogether() throws {
        let (db, path) = try temporaryWALDatabase()
        let reader = try SQLiteDatabase(path: path)
        var seenDuring: Int?
        try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
            try rows.add("c"); try rows.add(Int64(3)); try rows.endRow()
            seenDuring = try reader.int("SELECT count(*) FROM t")
            try rows.add("d"); try rows.add(Int64(4)); try rows.endRow()
        }
        XCTAssertEqual(seenDuring, 2, "no row is committed before the last one is added")
        XCTAssertEqual(try reader.int("SELECT count(*) FROM t"), 4)
    }

    func testAnErrorKeepsTheRowsAddedBeforeItAndLeavesNoTransactionOpen() throws {
        let (db, path) = try temporaryWALDatabase()
        XCTAssertThrowsError(try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
            try rows.add("c"); try rows.add(Int64(3)); try rows.endRow()
            try rows.add("a"); try rows.add(Int64(9)); try rows.endRow()  // the key exists
        })
        let other = try SQLiteDatabase(path: path)
        XCTAssertEqual(try other.int("SELECT v FROM t WHERE k = \("c")"), 3, "the row before the error stays")
        try other.run("UPDATE t SET v = 5 WHERE k = 'b'")  // no write lock left behind
        // Inside a transaction the rows are the transaction's: a rollback takes them back.
        try db.transaction(commit: false) {
            try db.insertRows(into: "t", columns: ["k", "v"]) { rows in try rows.add("e"); try rows.add(Int64(6)); try rows.endRow() }
        }
        XCTAssertEqual(try other.int("SELECT count(*) FROM t WHERE k = \("e")"), 0)
    }

    /// The rule of `RekeyStore.inIndexOrder`: by entity, then old id, byte by byte as
    /// SQLite's BINARY collation orders the indexes the renames walk (not as Swift's `<`,
    /// which sets canonically equivalent spellings level).
    func testRekeyPairsAreStagedInTheIndexesByteOrder() {
        let decomposed = "e\u{301}1", composed = "\u{E9}1"
        let pairs = [("students", "S9"), ("staff", "T2"), ("students", composed), ("students", "S10"),
                     ("students", decomposed), ("students", "Z1"), ("students", "a1"), ("households", "H1")]
            .map { (entity: $0.0, from: $0.1, to: "new-" + $0.1) }
        let staged = RekeyStore.inIndexOrder(pairs)
        XCTAssertEqual(staged.map { "\($0.entity) \($0.from)" },
                       ["households H1", "staff T2", "students S10", "students S9", "students Z1", "students a1",
                        "students \(decomposed)", "students \(composed)"])
        XCTAssertEqual(staged.map(\.to), staged.map { "new-" + $0.from }, "each pair keeps its new id")
    }
}
