import Foundation
import XCTest
@testable import SISync

/// The SQLite connection keeps released statements for the next use of their SQL (issue 30's
/// latency: preparing a user's seven statements on every request cost more than running
/// them). A reused statement must behave as a new one: no value of its last use, no read
/// left open, and the cache bounded.
final class SQLiteStatementCacheTests: XCTestCase {
    private func database() throws -> SQLiteDatabase {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
        try db.run("INSERT INTO t (k, v) VALUES ('a', 1), ('b', 2)")
        return db
    }

    func testAReleasedStatementIsReusedForItsSQLWithItsValuesCleared() throws {
        let db = try database()
        let before = db.cachedStatements
        XCTAssertEqual(try db.int("SELECT v FROM t WHERE k = \("a")"), 1)
        XCTAssertEqual(db.cachedStatements, before + 1, "kept once released")
        XCTAssertEqual(try db.int("SELECT v FROM t WHERE k = \("b")"), 2, "the same SQL, another value")
        XCTAssertEqual(db.cachedStatements, before + 1, "taken and given back, not prepared again")
        // Two holders of one SQL at once get a statement each.
        let first = try db.prepare("SELECT v FROM t WHERE k = ?1")
        let second = try db.prepare("SELECT v FROM t WHERE k = ?1")
        XCTAssertFalse(first === second)
        try first.bind(1, "a")
        try second.bind(1, "b")
        XCTAssertTrue(try first.step())
        XCTAssertTrue(try second.step())
        XCTAssertEqual([first.int(0), second.int(0)], [1, 2])
        // A reused statement has no value from its last use: a run without one is refused.
        do {
            let s = try db.prepare("SELECT v FROM t WHERE k = ?1 AND v > ?2")
            try s.bind(1, "a")
            try s.bind(2, 0)
        }
        let cached = db.cachedStatements
        let reused = try db.prepare("SELECT v FROM t WHERE k = ?1 AND v > ?2")
        XCTAssertEqual(db.cachedStatements, cached - 1, "the released one")
        XCTAssertThrowsError(try reused.step(), "a placeholder without a value")
    }

    func testAStatementDroppedMidReadLeavesNoReadOpen() throws {
        let (reader, path) = try temporaryWALDatabase()
        let cached = reader.cachedStatements
        do {
            let s = try reader.prepare("SELECT v FROM t ORDER BY k")
            XCTAssertTrue(try s.step())  // one row of two read, then dropped
        }
        XCTAssertEqual(reader.cachedStatements, cached + 1, "kept, reset")
        // A writer's truncating checkpoint succeeds only when no reader holds a snapshot.
        let writer = try SQLiteDatabase(path: path)
        try writer.run("UPDATE t SET v = 3 WHERE k = 'a'")
        let checkpoint = try writer.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
        XCTAssertTrue(try checkpoint.step())
        XCTAssertEqual(checkpoint.int(0), 0, "not busy: no reader holds a snapshot")
        checkpoint.reset()
        XCTAssertEqual(try reader.int("SELECT v FROM t WHERE k = \("a")"), 3, "the reader sees the new value: no old snapshot")
        try reader.execute("DROP TABLE t")  // an idle cached statement does not hold the table
    }

    func testTheCacheIsBounded() throws {
        let db = try database()
        for i in 0..<(SQLiteDatabase.cacheLimit + 20) {
            XCTAssertEqual(try db.int("SELECT v + \(unescaped: String(i)) FROM t WHERE k = \("a")"), 1 + i)
        }
        XCTAssertEqual(db.cachedStatements, SQLiteDatabase.cacheLimit)
    }
}

extension XCTestCase {
    /// A database file in WAL mode (as sisync makes its stores) with a table `t (k, v)`
    /// holding ('a', 1) and ('b', 2), removed after the test; its path, for a second connection.
    func temporaryWALDatabase() throws -> (SQLiteDatabase, String) {
        let path = NSTemporaryDirectory() + "wal-" + UUID().uuidString + ".db"
        addTeardownBlock { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode = WAL")
        try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
        try db.run("INSERT INTO t (k, v) VALUES ('a', 1), ('b', 2)")
        return (db, path)
    }
}
