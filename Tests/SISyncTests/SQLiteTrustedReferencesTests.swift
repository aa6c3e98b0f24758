import Foundation
import XCTest
@testable import SISync

/// `trustingReferences` on SQLite (issue 34: a district's first grants probed `users` once
/// per calculated role): inside the run's transaction the rows `body` writes are not
/// checked against the rows they refer to, and the check is in force again after it,
/// whether `body` returns or throws; a connection without the check keeps none.
final class SQLiteTrustedReferencesTests: XCTestCase {
    private func database() throws -> SQLiteDatabase {
        let path = NSTemporaryDirectory() + "trust-" + UUID().uuidString + ".db"
        addTeardownBlock { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let db = try SQLiteDatabase(path: path)
        try db.execute("""
            PRAGMA foreign_keys = ON;
            CREATE TABLE users (username TEXT PRIMARY KEY COLLATE NOCASE);
            CREATE TABLE roles (username TEXT NOT NULL REFERENCES users(username), role TEXT NOT NULL);
            INSERT INTO users VALUES ('ana');
            """)
        return db
    }

    private func grant(_ db: SQLiteDatabase, _ user: String) throws {
        try db.run("INSERT INTO roles (username, role) VALUES (\(user), 'Staff')")
    }

    func testRowsWrittenInsideAreNotCheckedAndTheCheckIsBackAfter() throws {
        let db = try database()
        try db.transaction {
            try grant(db, "ana")
            XCTAssertThrowsError(try grant(db, "nobody"), "checked before")
            try db.trustingReferences { try grant(db, "nobody") }
            XCTAssertThrowsError(try grant(db, "nobody2"), "checked again after (the same statement, prepared again)")
            XCTAssertThrowsError(try db.trustingReferences { () throws -> Void in
                try grant(db, "nobody3")
                throw StoreError.interrupted
            })
            XCTAssertThrowsError(try grant(db, "nobody4"), "checked again after a body that threw")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM roles"), 3, "ana's row and the two written inside")
        XCTAssertThrowsError(try grant(db, "nobody5"), "outside the transaction too")
    }

    func testAConnectionWithoutTheCheckKeepsNone() throws {
        let db = try database()
        try db.execute("PRAGMA foreign_keys = OFF")
        try db.trustingReferences { try grant(db, "nobody") }
        try grant(db, "nobody2")
        XCTAssertEqual(try db.int("PRAGMA foreign_keys"), 0)
    }
}
