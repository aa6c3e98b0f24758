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

    /// Issue 34: rows for a table with a trigger (`users`) are gathered in a temporary table
    /// and moved by one `INSERT … SELECT`, so that the statement journal copies a page at
    /// most once instead of once per row. The trigger still fires for every row, values keep
    /// their types, and nothing of the staging is left.
    func testRowsIntoATableWithATriggerAreMovedByOneStatement() throws {
        let (db, _) = try temporaryWALDatabase()
        try db.execute("""
            CREATE TABLE u (k TEXT PRIMARY KEY, v, tag TEXT);
            CREATE TRIGGER u_tag AFTER INSERT ON u FOR EACH ROW WHEN NEW.tag IS NULL BEGIN UPDATE u SET tag = 'by trigger' WHERE k = NEW.k; END;
            """)
        try db.transaction {
            try db.insertRows(into: "u", columns: ["k", "v", "tag"]) { rows in
                try rows.add("a"); try rows.add(Int64(1)); try rows.add(nil as String?); try rows.endRow()
                try rows.add("b"); try rows.add("2"); try rows.add("given"); try rows.endRow()
                try rows.add("c"); try rows.add(true); try rows.add(nil as String?); try rows.endRow()
            }
            XCTAssertEqual(db.changes, 3, "one statement added the three rows (row by row the last added one)")
        }
        let s = try db.prepare("SELECT k, typeof(v), v, tag FROM u ORDER BY k")
        var got: [String] = []
        try s.forEachRow { r in got.append((0..<4).map { r.text(Int32($0)) }.joined(separator: " ")) }
        XCTAssertEqual(got, ["a integer 1 by trigger", "b text 2 given", "c integer 1 by trigger"])
        XCTAssertFalse(try db.tableExists("sisync_staged_rows"))
        XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_temp_master WHERE name = 'sisync_staged_rows'"), 0)
        // Without a trigger, fewer rows than a batch go a statement per row.
        try db.transaction {
            try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
                for k in ["x", "y"] { try rows.add(k); try rows.add(Int64(0)); try rows.endRow() }
            }
            XCTAssertEqual(db.changes, 1)
        }
    }

    /// A failing staged insert goes again a row at a time: the rows before the bad one stay
    /// (the trigger fired for them) and the error is that row's, from the per-row INSERT; a
    /// `body` that throws keeps the rows it gave, as without the staging.
    func testAStagedInsertThatFailsKeepsTheRowsBeforeTheBadOneAndItsError() throws {
        let (db, path) = try temporaryWALDatabase()
        try db.execute("""
            CREATE TABLE u (k TEXT PRIMARY KEY, tag TEXT);
            CREATE TRIGGER u_tag AFTER INSERT ON u FOR EACH ROW WHEN NEW.tag IS NULL BEGIN UPDATE u SET tag = 'by trigger' WHERE k = NEW.k; END;
            INSERT INTO u (k, tag) VALUES ('old', 'x');
            """)
        XCTAssertThrowsError(try db.insertRows(into: "u", columns: ["k", "tag"]) { rows in
            for k in ["a", "b", "old", "c"] { try rows.add(k); try rows.add(nil as String?); try rows.endRow() }
        }) { error in
            guard case StoreError.sqlite(_, _, let message, let sql) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("UNIQUE constraint failed: u.k"), message)
            XCTAssertEqual(sql, "INSERT INTO u (k, tag) VALUES (?, ?)")
        }
        let other = try SQLiteDatabase(path: path)
        let s = try other.prepare("SELECT k || '=' || tag FROM u ORDER BY k")
        var got: [String] = []
        try s.forEachRow { got.append($0.text(0)) }
        XCTAssertEqual(got, ["a=by trigger", "b=by trigger", "old=x"])
        struct Stop: Error {}
        XCTAssertThrowsError(try db.insertRows(into: "u", columns: ["k", "tag"]) { rows in
            try rows.add("d"); try rows.add(nil as String?); try rows.endRow()
            throw Stop()
        }) { XCTAssertTrue($0 is Stop, "\($0)") }
        XCTAssertEqual(try other.int("SELECT count(*) FROM u WHERE k = 'd' AND tag = 'by trigger'"), 1)
    }

    /// Issue 34: without a trigger, rows go in `SQLiteRowSink.rowsPerStatement` to one
    /// multi-row INSERT (in one statement SQLite's cursor stays on the last leaf, so rows
    /// in key order need no seek from the root); the rest of a batch a row at a time. The
    /// values keep their types: text (empty too), integers, booleans, NULL.
    func testRowsGoInBatchesOfOneStatementAndKeepTheirValues() throws {
        let (db, path) = try temporaryWALDatabase()
        try db.execute("CREATE TABLE w (k TEXT PRIMARY KEY, s TEXT, n INTEGER, b INTEGER, z TEXT)")
        let batch = SQLiteRowSink.rowsPerStatement
        func add(_ rows: any RowSink, _ i: Int) throws {
            try rows.add(String(format: "k%05d", i))
            try Array("é\(i)".utf8).withUnsafeBufferPointer { try rows.add(utf8: $0) }
            try rows.add(i % 3 == 0 ? nil : Int64(i))
            try rows.add(i % 2 == 0)
            try rows.add(i % 5 == 0 ? "" : nil as String?)
            try rows.endRow()
        }
        try db.transaction {
            try db.insertRows(into: "w", columns: ["k", "s", "n", "b", "z"]) { rows in
                for i in 0..<(2 * batch) { try add(rows, i) }
            }
            XCTAssertEqual(db.changes, batch, "the last statement added a whole batch (a statement per row: 1)")
            try db.insertRows(into: "w", columns: ["k", "s", "n", "b", "z"]) { rows in
                for i in (2 * batch)..<(3 * batch + 3) { try add(rows, i) }
            }
            XCTAssertEqual(db.changes, 1, "the three rows after the last whole batch go one at a time")
        }
        let other = try SQLiteDatabase(path: path)
        let s = try other.prepare("SELECT k, s, typeof(n), n, typeof(b), b, typeof(z), z FROM w WHERE k LIKE 'k%' ORDER BY k")
        var got: [String] = []
        try s.forEachRow { r in got.append((0..<8).map { r.text(Int32($0)) }.joined(separator: "|")) }
        var expected: [String] = []
        for i in 0..<(3 * batch + 3) {
            let n: String = i % 3 == 0 ? "null|" : "integer|\(i)"
            let b: String = i % 2 == 0 ? "1" : "0"
            let z: String = i % 5 == 0 ? "text" : "null"
            expected.append(String(format: "k%05d", i) + "|é\(i)|" + n + "|integer|" + b + "|" + z + "|")
        }
        XCTAssertEqual(got, expected)
    }

    /// A batch that fails goes again a row at a time, as the rows went before batches: the
    /// rows before the bad one stay, the error is that row's, naming the one-row INSERT, and
    /// the rows after it are not added. A row with a value too many or too few fails as the
    /// one-row statement does, after the rows before it; a `body` that throws keeps the
    /// rows it gave.
    func testAFailingBatchKeepsTheRowsBeforeTheBadOneAndItsError() throws {
        let (db, path) = try temporaryWALDatabase()
        let batch = SQLiteRowSink.rowsPerStatement
        let other = try SQLiteDatabase(path: path)
        XCTAssertThrowsError(try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
            for i in 0..<(3 * batch) { try rows.add(i == batch + 10 ? "a" : "n\(i)"); try rows.add(Int64(i)); try rows.endRow() }
        }) { error in
            guard case StoreError.sqlite(_, _, let message, let sql) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("UNIQUE constraint failed: t.k"), message)
            XCTAssertEqual(sql, "INSERT INTO t (k, v) VALUES (?, ?)")
        }
        XCTAssertEqual(try other.int("SELECT count(*) FROM t WHERE k LIKE 'n%'"), batch + 10, "the rows before the bad one, none after")
        XCTAssertEqual(try other.int("SELECT v FROM t WHERE k = 'a'"), 1, "the existing row is as it was")

        for (extra, short) in [(true, false), (false, true)] {
            try other.run("DELETE FROM t WHERE k LIKE 'x%'")
            XCTAssertThrowsError(try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
                for i in 0..<(batch + 5) {
                    try rows.add("x\(i)")
                    if !(short && i == batch + 2) { try rows.add(Int64(i)) }
                    if extra && i == batch + 2 { try rows.add(Int64(0)) }
                    try rows.endRow()
                }
            }) { error in
                guard case StoreError.parameterMismatch(_, let sql, let number, let count, let unbound) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(sql, "INSERT INTO t (k, v) VALUES (?, ?)")
                XCTAssertEqual(count, 2)
                XCTAssertEqual(unbound, short)
                XCTAssertEqual(number, short ? 2 : 3)
            }
            XCTAssertEqual(try other.int("SELECT count(*) FROM t WHERE k LIKE 'x%'"), batch + 2, extra ? "a value too many" : "a value too few")
        }

        struct Stop: Error {}
        XCTAssertThrowsError(try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
            for i in 0..<(batch + 7) { try rows.add("s\(i)"); try rows.add(Int64(i)); try rows.endRow() }
            throw Stop()
        }) { XCTAssertTrue($0 is Stop, "\($0)") }
        XCTAssertEqual(try other.int("SELECT count(*) FROM t WHERE k LIKE 's%'"), batch + 7)
    }

    /// A batch that a reference fails is taken back whole (`OR FAIL` does not apply to
    /// references): its rows go again one at a time from the first, so the rows before the
    /// bad one stay and the error is that row's, as when a key fails it.
    func testABatchThatAReferenceFailsKeepsTheRowsBeforeTheBadOne() throws {
        let (db, path) = try temporaryWALDatabase()
        try db.execute("PRAGMA foreign_keys = ON")
        try db.execute("CREATE TABLE c (k TEXT PRIMARY KEY, parent TEXT NOT NULL REFERENCES t(k))")
        let batch = SQLiteRowSink.rowsPerStatement
        try db.transaction {
            XCTAssertThrowsError(try db.insertRows(into: "c", columns: ["k", "parent"]) { rows in
                for i in 0..<(2 * batch) { try rows.add("c\(i)"); try rows.add(i == batch + 5 ? "nobody" : "a"); try rows.endRow() }
            }) { error in
                guard case StoreError.sqlite(_, _, let message, let sql) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("FOREIGN KEY constraint failed"), message)
                XCTAssertEqual(sql, "INSERT INTO c (k, parent) VALUES (?, ?)", "the one-row statement names the bad row")
            }
            XCTAssertEqual(try db.int("SELECT count(*) FROM c"), batch + 5, "the rows before the bad one, none after")
        }
        XCTAssertEqual(try SQLiteDatabase(path: path).int("SELECT count(*) FROM c"), batch + 5)
    }

    /// A batch that fails on anything but a constraint is the answer itself: without a
    /// statement journal SQLite cannot take back the rows it wrote before the bad one, nor
    /// say how many (`sqlite3_changes` is 0 after a datatype mismatch with two rows written),
    /// so going again from the first row would report a key the batch itself had added.
    func testABatchThatFailsOnAnythingButAConstraintIsTheAnswer() throws {
        let (db, _) = try temporaryWALDatabase()
        try db.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, v TEXT)")
        let batch = SQLiteRowSink.rowsPerStatement
        try db.transaction(commit: false) {
            XCTAssertThrowsError(try db.insertRows(into: "n", columns: ["id", "v"]) { rows in
                for i in 0..<batch {
                    if i == 2 { try rows.add("not a number") } else { try rows.add(Int64(i)) }
                    try rows.add("v"); try rows.endRow()
                }
            }) { error in
                guard case StoreError.sqlite(_, _, let message, _) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("datatype mismatch"), message)
            }
        }
    }

    /// A TEMP trigger on a main table (an application on the same connection may make one;
    /// the temp schema keeps it) counts as the table's: its rows go through the staging, and
    /// no `OR FAIL` overrides the trigger's own conflict clauses.
    func testATempTriggerOnAMainTableCounts() throws {
        let (db, _) = try temporaryWALDatabase()
        XCTAssertFalse(try db.hasTriggers(on: ["t"]))
        try db.execute("CREATE TABLE seen (k TEXT PRIMARY KEY); CREATE TEMP TRIGGER t_seen AFTER INSERT ON main.t BEGIN INSERT OR IGNORE INTO seen (k) VALUES (substr(new.k, 1, 1)); END")
        XCTAssertTrue(try db.hasTriggers(on: ["t"]))
        XCTAssertTrue(try db.hasTriggers(on: ["main.t"]))
        XCTAssertFalse(try db.hasTriggers(on: ["seen"]))
        let batch = SQLiteRowSink.rowsPerStatement
        try db.insertRows(into: "t", columns: ["k", "v"]) { rows in
            for i in 0..<(2 * batch) { try rows.add("x\(i)"); try rows.add(Int64(i)); try rows.endRow() }
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM t WHERE k LIKE 'x%'"), 2 * batch)
        XCTAssertEqual(try db.int("SELECT count(*) FROM seen"), 1, "the trigger's OR IGNORE kept its own way")
    }

    /// Issue 34: a batch keeps no statement journal (`INSERT OR FAIL`). A table filled in
    /// the temp schema after another was dropped there (`loadingPacked`'s copies, one per
    /// mirror table) takes its pages from the free list; a statement that may be taken back
    /// first copies each page it reuses to the statement journal, a temporary file once a
    /// statement's copies pass 64 KiB (at five times a district: 1.97 of the 3.97 GB the
    /// records step wrote). Here a statement's 64 rows fill 64 pages: what this process
    /// writes while they go in stays near the table's own size (its pages beyond the temp
    /// schema's cache), not twice it.
    func testABatchIntoReusedPagesWritesNoStatementJournal() throws {
        let (db, _) = try temporaryWALDatabase()
        let value = String(repeating: "v", count: 3000)  // a row a page, no overflow
        let count = 40 * SQLiteRowSink.rowsPerStatement
        func fill(_ table: String) throws {
            try db.insertRows(into: table, columns: ["k", "v"]) { rows in
                for i in 0..<count { try rows.add(String(format: "k%06d", i)); try rows.add(value); try rows.endRow() }
            }
        }
        // As sisync's store runs it: temporary tables in a file, the temp schema's cache at
        // SQLite's default (a larger one, or temporary tables in memory, would hide the
        // journal from the count).
        XCTAssertEqual(try db.int("PRAGMA temp_store"), 0)
        XCTAssertLessThanOrEqual(try db.int("PRAGMA temp.cache_size").map { $0 < 0 ? -$0 * 1024 : $0 * 4096 } ?? 0, 4 << 20)
        try db.transaction {
            try db.execute("CREATE TEMP TABLE dropped (k TEXT PRIMARY KEY, v TEXT)")
            try fill("temp.dropped")
            try db.execute("DROP TABLE temp.dropped")
            try db.execute("CREATE TEMP TABLE reused (k TEXT PRIMARY KEY, v TEXT)")
            let before = try Self.bytesWritten()
            try fill("temp.reused")
            let written = try Self.bytesWritten() - before
            let tableBytes = count * 4096
            XCTAssertLessThan(written, tableBytes * 3 / 2, "\(written) bytes written for a table of \(tableBytes)")
            XCTAssertEqual(try db.int("SELECT count(*) FROM temp.reused"), count)
        }
    }

    /// What this process has written so far (`wchar` of `/proc/self/io`: every write call's
    /// bytes, to the page cache or not).
    static func bytesWritten() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/io", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("wchar:") }),
              let n = Int(line.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return n
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
