import Foundation
import XCTest
@testable import SISync

/// A first import's records go into SQLite's mirror tables with their pages packed full
/// (issue 34: the database after import and linking ≤ 150 MiB), through a temporary copy
/// of the table that one `INSERT … SELECT *` moves (`SQLiteDatabase+PackedLoad`). The rows
/// and the run's events are those a direct load gives, also where SQLite declines the move
/// (an application's trigger), and the copy never outlives the load (R1).
final class SQLitePackedLoadTests: XCTestCase {
    static let records = 20_000
    static let day = Date(timeIntervalSince1970: 1_800_000_000)

    /// A SQLite workspace with the change feed on and `prepare` run on its new store (an
    /// application's own objects), after its first run over `records` staff.
    private func firstImport(_ prepare: (any StoreDatabase) throws -> Void = { _ in }) throws -> Workspace {
        let w = Workspace(sqlite: true)
        w.configure()
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8) + "\n[events]\nenabled = true\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: w.configPath))
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        try prepare(try w.rawDatabase())
        w.write("staff.csv", largeStaffCSV(Self.records))
        let result = w.sync(try Configuration.load(path: w.configPath), at: Self.day)
        XCTAssertEqual(result.summary.outcome, .applied, result.summary.error ?? "")
        return w
    }

    /// A SQLite workspace whose first run imported `n` donors, with `users.csv` giving a
    /// user attached to each (not imported yet).
    private func donorsAndTheirUsersFile(_ n: Int) -> Workspace {
        let w = Workspace(sqlite: true)
        let c = w.configure(entities: "staff, donors")
        w.write("donors.csv", "donor_id,name,email\n" + (1...n).map { "D\($0),Donor \($0),d\($0)@home.org\n" }.joined())
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write(w.root + "/users.csv", "username,email,donor_id\n" + (1...n).map { "u\($0),u\($0)@home.org,D\($0)\n" }.joined())
        return w
    }

    /// Thousandths of the table's pages left empty (dbstat).
    private func emptyShare(_ db: any StoreDatabase, _ name: String) throws -> Int {
        try XCTUnwrap(try db.int("SELECT CAST(1000 * sum(unused) / sum(pgsize) AS INTEGER) FROM dbstat WHERE name = \(name)"))
    }

    private func rows(_ db: any StoreDatabase, _ sql: String) throws -> [String] {
        var out: [String] = []
        try db.prepare(sql).forEachRow { r in out.append((0..<r.columnCount).map { r.string($0) ?? "NULL" }.joined(separator: "|")) }
        return out
    }

    /// Written in key order straight into the table, its pages were about 11% empty
    /// (SQLite splits the last leaf with its neighbours); moved from the copy, 1%.
    func testAFirstImportsRecordsFillTheirPages() throws {
        let w = try firstImport()
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff"), Self.records)
        XCTAssertGreaterThan(try db.int("SELECT sum(pgsize) FROM dbstat WHERE name = 'staff'") ?? 0, 1 << 20, "enough pages to tell")
        XCTAssertLessThan(try emptyShare(db, "staff"), 30, "the staff table's pages are packed")
        XCTAssertLessThan(try emptyShare(db, "staff_by_email"), 30, "its index moves with it, packed too")
    }

    /// An application's trigger on the table makes SQLite decline the move: the same
    /// statement then inserts the copy's rows one by one, in key order, firing the trigger
    /// for each. The records and the run's events are the same as where the move packs
    /// the pages.
    func testWithAnApplicationsTriggerTheRecordsAndEventsAreTheSame() throws {
        let packed = try firstImport()
        let declined = try firstImport { db in
            try db.execute("""
                CREATE TABLE app_staff_log (n INTEGER PRIMARY KEY, staff_id TEXT NOT NULL);
                CREATE TRIGGER app_staff_added AFTER INSERT ON staff BEGIN INSERT INTO app_staff_log (staff_id) VALUES (new.staff_id); END;
                """)
        }
        let a = try packed.rawDatabase(), b = try declined.rawDatabase()
        XCTAssertGreaterThan(try emptyShare(b, "staff"), 80, "the move was declined: the pages are as a direct load leaves them")
        XCTAssertLessThan(try emptyShare(a, "staff"), 30)
        let records = "SELECT * FROM staff ORDER BY staff_id"
        XCTAssertEqual(try rows(b, records).count, Self.records)
        XCTAssertEqual(try rows(a, records), try rows(b, records), "the same records")
        let events = "SELECT event_id, type, at, run_id, actor, subject, data, span, packed FROM events ORDER BY event_id"
        XCTAssertGreaterThan(try rows(a, events).count, 0, "the feed is on")
        XCTAssertEqual(try rows(a, events), try rows(b, events), "the same events, in the same order")
        XCTAssertEqual(try rows(b, "SELECT staff_id FROM app_staff_log ORDER BY n"), try rows(b, "SELECT staff_id FROM staff ORDER BY staff_id"),
                       "the trigger fired once per record, in key order")
    }

    /// A column an application added as a generated one: `SELECT *` gives it and an INSERT
    /// without a column list refuses it, so with a trigger (the move declined) the copy
    /// could not be moved. Such a table is loaded directly.
    func testATableWithAGeneratedColumnIsLoadedDirectly() throws {
        let w = try firstImport { db in
            try db.execute("""
                ALTER TABLE staff ADD COLUMN app_initial TEXT GENERATED ALWAYS AS (substr(last_name, 1, 1)) VIRTUAL;
                CREATE TABLE app_staff_log (n INTEGER PRIMARY KEY, staff_id TEXT NOT NULL);
                CREATE TRIGGER app_staff_added AFTER INSERT ON staff BEGIN INSERT INTO app_staff_log (staff_id) VALUES (new.staff_id); END;
                """)
        }
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE app_initial = 'L'"), Self.records)
        XCTAssertEqual(try db.int("SELECT count(*) FROM app_staff_log"), Self.records)
    }

    /// A first `user import`'s attachments (into an empty table) go in packed too, with the
    /// foreign key on `users` set aside for the move (each username is a user the import
    /// read or has just added), and are the rows the file gives.
    func testAFirstUserImportsAttachmentsFillTheirPages() throws {
        let n = 10_000
        let w = donorsAndTheirUsersFile(n)
        let imported = w.ctl(["user", "import", w.root + "/users.csv"])
        XCTAssertEqual(imported.code, 0, imported.err)
        let db = try w.rawDatabase()
        let stored = try rows(db, "SELECT username, kind, record_id FROM user_attachments")
        XCTAssertEqual(stored.count, n)
        XCTAssertTrue(stored.sorted() == (1...n).map { "u\($0)|donor|D\($0)" }.sorted(), "each user's attachment, as the file gives it")
        XCTAssertEqual(try db.int("SELECT count(*) FROM user_attachments a JOIN users u ON u.username = a.username"), n)
        XCTAssertLessThan(try emptyShare(db, "user_attachments"), 30, "the attachments' pages are packed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM pragma_foreign_key_check('user_attachments')"), 0)
    }

    /// SQLite keeps an application's index definition with a trailing `-- comment` as it
    /// was written: made again for the copy, each definition is a statement of its own, so
    /// the comment cannot swallow the next one (the run failed, every run, before).
    func testAnApplicationsIndexWithATrailingCommentIsMadeAgainForTheCopy() throws {
        let w = try firstImport { db in
            try db.execute("CREATE INDEX app_a_title ON staff (title) -- the directory's lookup")
        }
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff"), Self.records)
        XCTAssertLessThan(try emptyShare(db, "staff"), 30, "packed")
        XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_master WHERE name = 'app_a_title'"), 1)
    }

    /// An application's trigger on `users` that drops a user the import adds: the import's
    /// attachments then go in directly, each one's reference checked, and the import fails
    /// rather than keep attachments of a user that does not exist.
    func testWithAnApplicationsTriggerOnUsersTheAttachmentsReferencesAreChecked() throws {
        let w = donorsAndTheirUsersFile(5_000)
        let db = try w.rawDatabase()
        try db.execute("CREATE TRIGGER app_no_u7 BEFORE INSERT ON users WHEN new.username = 'u7' BEGIN SELECT RAISE(IGNORE); END")
        let imported = w.ctl(["user", "import", w.root + "/users.csv"])
        XCTAssertNotEqual(imported.code, 0, "u7's attachment names no user")
        XCTAssertEqual(try db.int("SELECT count(*) FROM user_attachments"), 0, "rolled back")
        XCTAssertEqual(try db.int("SELECT count(*) FROM pragma_foreign_key_check('user_attachments')"), 0)
    }

    /// While foreign keys are enforced, a table with a reference is loaded directly: the
    /// copy's reference would name a table of the temp schema (SQLite: "no such table").
    func testATableWithAReferenceIsPackedOnlyWithTheChecksSetAside() throws {
        let dir = NSTemporaryDirectory() + "packed-load-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try SQLiteDatabase(path: dir + "/t.db")
        try db.execute("""
            PRAGMA foreign_keys = ON;
            CREATE TABLE owners (name TEXT PRIMARY KEY);
            CREATE TABLE things (owner TEXT NOT NULL REFERENCES owners(name), n INTEGER NOT NULL, PRIMARY KEY (owner, n)) WITHOUT ROWID;
            INSERT INTO owners VALUES ('a'), ('b');
            """)
        func load(_ rows: [(String, Int64)]) throws -> String {
            var target = ""
            try db.transaction {
                try db.loadingPacked("things") { table in
                    target = table
                    try db.insertRows(into: table, columns: ["owner", "n"]) { sink in
                        for (o, n) in rows { try sink.add(o); try sink.add(n); try sink.endRow() }
                    }
                }
            }
            return target
        }
        XCTAssertEqual(try load([("a", 1), ("b", 2)]), "things", "loaded directly, its reference checked")
        XCTAssertThrowsError(try load([("c", 3)]), "a row naming no owner is refused")
        try db.execute("DELETE FROM things")
        let trusted = try db.trustingReferences { try load([("a", 1), ("b", 2)]) }
        XCTAssertEqual(trusted, "temp.things", "with the checks set aside, through the copy")
        XCTAssertEqual(try rows(db, "SELECT owner, n FROM things ORDER BY owner"), ["a|1", "b|2"])
        XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_temp_master"), 0, "the copy is gone")
    }

    /// A load that stops part-way (a stopping daemon) or fails leaves no copy behind to
    /// hide the table from the rest of the run, and the run's rollback takes the rows back.
    func testAStoppedLoadLeavesNoCopyAndNoRows() throws {
        let w = Workspace(sqlite: true)
        w.configure()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let store = try RosterStore(location: w.location)
        let db = store.database
        var rows = EntityRows(kind: .staff, source: "staff.csv")
        for i in 0..<Self.records {
            rows.noteRowRead()
            let id = String(format: "S%06d", i)
            try rows.append(key: id, values: ["Ann", "Lee", "\(id)@district.org", "Teacher", "101", ""].map { Array($0.utf8)[...] }, inactive: false, location: i + 2)
        }
        let plan = try Planner(deactivateAfter: 0, now: Self.day).plan(rows: rows, stored: InMemoryEntityState(records: []))
        XCTAssertEqual(plan.additions.count, Self.records)
        var written = 0
        XCTAssertThrowsError(try db.transaction {
            XCTAssertThrowsError(try store.mirror.applyEntity(plan, rows: rows, runID: 1, stamp: "2027-01-15T08:00:00Z", checkStop: {
                written += 1
                if written == Self.records / 2 { throw StoreError.interrupted }
            }))
            XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_temp_master WHERE name = 'staff'"), 0, "the copy is gone")
            XCTAssertEqual(try db.int("SELECT count(*) FROM staff"), 0, "the table is the main one, and empty")
            throw StoreError.interrupted
        })
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff"), 0)
    }
}
