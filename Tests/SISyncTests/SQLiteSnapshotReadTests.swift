import Foundation
import XCTest
@testable import SISync

/// `readingOneSnapshot` on SQLite (issue 30's latency: WAL's read lock taken once per
/// request, not once per statement): the reads inside see one snapshot, never wait for a
/// writer, and nest inside a transaction.
final class SQLiteSnapshotReadTests: XCTestCase {
    func testReadsInOneSnapshotSeeNoCommitBetweenThemAndNeverWaitForAWriter() throws {
        let (reader, path) = try temporaryWALDatabase()
        let writer = try SQLiteDatabase(path: path)
        let seen = try reader.readingOneSnapshot { () -> [Int?] in
            let first = try reader.int("SELECT v FROM t WHERE k = \("a")")
            // A writer commits between the two reads, and holds the write lock after.
            try writer.run("UPDATE t SET v = 2 WHERE k = 'a'")
            try writer.execute("BEGIN IMMEDIATE")
            let second = try reader.int("SELECT v FROM t WHERE k = \("a")")
            return [first, second]
        }
        XCTAssertEqual(seen, [1, 1], "one snapshot for both reads")
        XCTAssertEqual(try reader.int("SELECT v FROM t WHERE k = \("a")"), 2, "the next request sees the commit")
        try writer.execute("ROLLBACK")
        // Inside a transaction the transaction's snapshot is used, and an error ends the read.
        try reader.transaction { XCTAssertEqual(try reader.readingOneSnapshot { try reader.int("SELECT count(*) FROM t") }, 2) }
        XCTAssertThrowsError(try reader.readingOneSnapshot { try reader.int("SELECT nothing FROM t") })
        try writer.run("UPDATE t SET v = 3 WHERE k = 'a'")
        XCTAssertEqual(try reader.int("SELECT v FROM t WHERE k = \("a")"), 3, "no read left open by the error")
    }
}
