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

/// Both drivers refuse a statement that does not get exactly the parameters it has, and
/// name its SQL and the number (issue 27 part 1, as GRDB's `Statement.validateArguments`).
final class StatementParameterTests: XCTestCase {
    private var workspace: Workspace?

    private func database() throws -> any StoreDatabase {
        if TestStore.isPostgres {
            let w = Workspace()
            workspace = w
            return try Workspace.rawPostgres(w)
        }
        return try SQLiteDatabase(path: ":memory:")
    }

    private func assertMismatch(_ body: @autoclosure () throws -> Void, number: Int, count: Int, unbound: Bool, sql: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case .parameterMismatch(_, let s, let n, let c, let u)? = error as? StoreError else {
                return XCTFail("not a parameter mismatch: \(error)", file: file, line: line)
            }
            XCTAssertEqual(s, sql, file: file, line: line)
            XCTAssertEqual(n, number, file: file, line: line)
            XCTAssertEqual(c, count, file: file, line: line)
            XCTAssertEqual(u, unbound, file: file, line: line)
            let text = String(describing: error)
            XCTAssertTrue(text.contains("?\(number)") && text.contains(String(sql.prefix(120))), text, file: file, line: line)
        }
    }

    func testAValueForANumberTheStatementDoesNotHaveIsRefused() throws {
        let db = try database()
        let sql = "SELECT CAST(?1 AS TEXT) || CAST(?2 AS TEXT)"
        let s = try db.prepare(sql)
        assertMismatch(try s.bind(3, "too many"), number: 3, count: 2, unbound: false, sql: sql)
        assertMismatch(try s.bind(0, "zero"), number: 0, count: 2, unbound: false, sql: sql)
        let none = try db.prepare("SELECT 1")
        assertMismatch(try none.bind(1, Int64(1)), number: 1, count: 0, unbound: false, sql: "SELECT 1")
        // A query whose trusted text has a placeholder of its own has one value too few.
        assertMismatch(try db.run("SELECT CAST(\("b") AS TEXT) || CAST(\(unescaped: "?") AS TEXT)"), number: 2, count: 2, unbound: true,
                       sql: "SELECT CAST(?1 AS TEXT) || CAST(? AS TEXT)")
    }

    func testAStatementRunWithAPlaceholderLeftUnboundIsRefusedAndRunsNothing() throws {
        let db = try database()
        try db.execute("CREATE TABLE notes (a TEXT, b TEXT)")
        let sql = "INSERT INTO notes (a, b) VALUES (?, ?)"
        let s = try db.prepare(sql)
        try s.bind(1, "a")
        assertMismatch(_ = try s.step(), number: 2, count: 2, unbound: true, sql: sql)
        s.reset()
        // A reset forgets the values: each use binds every placeholder again.
        try s.bind(1, "a"); try s.bind(2, "b"); try s.run()
        try s.bind(2, "b")
        assertMismatch(try s.run(), number: 1, count: 2, unbound: true, sql: sql)
        XCTAssertEqual(try db.int("SELECT count(*) FROM notes"), 1)
        // NULL is a value: bound explicitly it is accepted.
        try s.bind(1, nil as String?); try s.bind(2, nil as Int64?); try s.run()
        XCTAssertEqual(try db.int("SELECT count(*) FROM notes WHERE a IS NULL AND b IS NULL"), 1)
    }

    func testANumberNoPlaceholderUsesMayStayUnboundButTheUsedOnesMayNot() throws {
        let db = try database()
        let sql = "SELECT CAST(?1 AS TEXT) || CAST(?3 AS TEXT) || 'a ?2 in a literal'"
        let s = try db.prepare(sql)
        try s.bind(1, "x"); try s.bind(3, "z")
        XCTAssertTrue(try s.step())
        XCTAssertEqual(s.text(0), "xza ?2 in a literal")
        s.reset()
        try s.bind(1, "x"); try s.bind(2, "unused"); try s.bind(3, "z")
        XCTAssertTrue(try s.step())
        s.reset()
        try s.bind(1, "x")
        assertMismatch(_ = try s.step(), number: 3, count: 3, unbound: true, sql: sql)
    }
}
