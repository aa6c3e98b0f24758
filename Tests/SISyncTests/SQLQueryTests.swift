import Foundation
import XCTest
@testable import SISync

/// The query value (issue 27 part 1): each placeholder is made with its value, and the
/// drivers bind exactly the placeholders a statement has. Runs on the pass's store
/// (SQLite in memory, or PostgreSQL with `SISYNC_TEST_STORE=postgresql`).
final class SQLQueryTests: XCTestCase {
    private var workspace: Workspace?

    /// A connection with a small table, on the store of this pass.
    private func database() throws -> any StoreDatabase {
        let db: any StoreDatabase
        if TestStore.isPostgres {
            let w = Workspace()
            workspace = w
            db = try Workspace.rawPostgres(w)
        } else {
            db = try SQLiteDatabase(path: ":memory:")
        }
        try db.execute("CREATE TABLE people (name TEXT NOT NULL, age INTEGER, active BOOLEAN NOT NULL DEFAULT FALSE, score REAL)")
        return db
    }

    func testInterpolatedValuesBecomeNumberedPlaceholdersInOrder() {
        let name: String? = "O'Brien; DROP TABLE people"
        let age: Int64? = nil
        let q: SQLQuery = "SELECT * FROM people WHERE name = \(name) AND age IS \(age) AND active = \(true) AND score > \(1.5) LIMIT \(3)"
        XCTAssertEqual(q.sql, "SELECT * FROM people WHERE name = ?1 AND age IS ?2 AND active = ?3 AND score > ?4 LIMIT ?5")
        XCTAssertEqual(q.values, [.text("O'Brien; DROP TABLE people"), .null, .boolean(true), .real(1.5), .integer(3)])
    }

    func testTrustedFragmentsAndComposedQueriesKeepTheirValuesNumberedAfterTheOnesBefore() {
        let table = "people"
        let filter: SQLQuery = "age > \(30) AND name <> \("x")"
        let q: SQLQuery = "SELECT count(*) FROM \(unescaped: table) WHERE active = \(true) AND \(sql: filter) AND score < \(2.0)"
        XCTAssertEqual(q.sql, "SELECT count(*) FROM people WHERE active = ?1 AND age > ?2 AND name <> ?3 AND score < ?4")
        XCTAssertEqual(q.values, [.boolean(true), .integer(30), .text("x"), .real(2.0)])
        let literal: SQLQuery = "SELECT 1"
        XCTAssertEqual(literal.sql, "SELECT 1")
        XCTAssertEqual(literal.values, [])
    }

    func testAQueryRunsAndReadsBackOnTheStore() throws {
        let db = try database()
        let hostile = "Robert'); DROP TABLE people; --"
        try db.run("INSERT INTO people (name, age, active, score) VALUES (\(hostile), \(Int64(12)), \(true), \(2.5))")
        try db.run("INSERT INTO people (name, age, active) VALUES (\("Ann"), \(nil as Int?), \(false))")
        XCTAssertEqual(try db.int("SELECT count(*) FROM people WHERE name = \(hostile) AND age = \(12) AND active = \(true)"), 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM people WHERE age IS NULL AND name = \("Ann")"), 1)
        var names: [String] = []
        try db.forEachRow("SELECT name FROM people WHERE \(nil as String?) IS NULL ORDER BY name") { names.append($0.text(0)) }
        XCTAssertEqual(names, ["Ann", hostile])
    }
}
