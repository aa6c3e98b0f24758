import XCTest
@testable import SISync

/// `sisyncctl user import`, schools and ledgers: administrator changes with their actor.
final class UserCommandsTests: XCTestCase {
    private func school(_ w: Workspace) -> Configuration {
        let c = w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        w.write("students.csv", "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\nST1,Kim,Lima,,101,5,Enrolled,2026-2027\nST2,Lou,Lima,,101,3,Enrolled,2026-2027\n")
        w.write("households.csv", "household_id,name\nH1,Lima family\n")
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\n")
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\n")
        w.write("donors.csv", "donor_id,name,email\nD1,Trust,trust@example.org\n")
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        return c
    }

    func testR7UserImportAddsAndUpdatesAndRolesFollowOnTheNextRun() throws {
        let w = Workspace()
        let c = school(w)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "Ana", "--email", "ana.old@district.org"]).code, 0)
        w.write("/\(w.root)/users.csv", "\u{FEFF}Username,EMAIL,approved,student_id,household_id\r\nana,ana@district.org,yes,,\r\nmom,mom@home.org,no,,H1\r\n\"kim\",kim@students.org,1,ST1;ST2,\r\n")
        let r = w.ctl(["user", "import", w.root + "/users.csv"], user: "registrar")
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.out.contains("2 added, 1 updated, 0 unchanged"), r.out)
        let ana = try XCTUnwrap(w.store().accounts.user("ana"))
        XCTAssertEqual(ana.username, "Ana", "the existing user is updated, not duplicated")
        XCTAssertEqual(ana.email, "ana@district.org")
        XCTAssertTrue(ana.approved)
        XCTAssertEqual(try w.store().accounts.attachments(of: "kim"), [.student: ["ST1", "ST2"]])
        XCTAssertTrue(try w.store().auditTrail.userHistory("kim").allSatisfy { $0.actor == "registrar" && $0.runID == nil })
        _ = w.sync(c)
        XCTAssertEqual(try w.store().roles.of("ana").calculated.map(\.role), ["Staff"], "R6 links the corrected email")
        XCTAssertEqual(try w.store().roles.of("mom").calculated.map(\.role), ["Parent"])
        XCTAssertEqual(try w.store().roles.of("kim").calculated.map(\.role), ["Student"])
        // Importing the same file again changes nothing; no user is ever removed.
        w.write("/\(w.root)/one.csv", "username,email\nkim,kim@students.org\n")
        let again = w.ctl(["user", "import", w.root + "/one.csv"])
        XCTAssertTrue(again.out.contains("0 added, 0 updated, 1 unchanged"), again.out)
        XCTAssertEqual(try w.store().accounts.users().count, 3)
    }

    /// The import works on sets (issue 16); these are the cases a per-row import got right
    /// by construction.
    func testUserImportLogsOnlyNewAttachmentsFoldsCaseAndLetsAnEmailMove() throws {
        let w = Workspace()
        _ = school(w)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "Émile", "--email", "emile@home.org"]).code, 0)
        w.write("/\(w.root)/first.csv", "username,email,student_id\nkim,kim@home.org,ST1;ST1\n")
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/first.csv"]).code, 0)
        XCTAssertEqual(try w.store().accounts.attachments(of: "kim"), [.student: ["ST1"]], "a repeated id is one attachment")
        // kim keeps ST1 and gains ST2, and gives up an email that a new user takes further down;
        // Émile is found under any case (Swift's case folding, not only ASCII's).
        w.write("/\(w.root)/second.csv", "username,email,student_id\nKIM,kim@school.org,ST1;ST2\nnew,kim@home.org,\némile,emile@home.org,ST2\n")
        let r = w.ctl(["user", "import", w.root + "/second.csv"], user: "registrar")
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertTrue(r.out.contains("1 added, 2 updated, 0 unchanged"), r.out)
        XCTAssertEqual(Set(try w.store().accounts.users().map(\.username)), ["Émile", "kim", "new"], "no user duplicated")
        XCTAssertEqual(try w.store().accounts.attachments(of: "kim"), [.student: ["ST1", "ST2"]])
        let logged = try w.store().auditTrail.userHistory("kim").filter { $0.actor == "registrar" }
        XCTAssertEqual(logged.map { "\($0.change.field ?? "")=\($0.change.new ?? "")" }.sorted(), ["email=kim@school.org", "student=ST2"],
                       "only what changed is logged")
        XCTAssertEqual(try w.store().accounts.user("new")?.email, "kim@home.org")
        XCTAssertEqual(try w.store().accounts.attachments(of: "Émile"), [.student: ["ST2"]])
    }

    /// A bulk import (schema 7) keeps its users' and attachments' entries in the rows it
    /// adds; history, `change_log`, the roles that follow, and what removing a user or an
    /// attachment leaves must be those of an import that copies each into `changes`.
    func testR8BulkUserImportKeepsTheSameHistoryChangeLogAndRoles() throws {
        func run(bulk: Bool) throws -> (history: [String], log: [String], roles: [String]) {
            let w = Workspace()
            let c = school(w)
            XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana.old@district.org"], user: "registrar").code, 0)
            // A namesake removed before: its email change must not be taken for the new mom's.
            XCTAssertEqual(w.ctl(["user", "add", "--username", "mom", "--email", "old.mom@home.org"], user: "registrar").code, 0)
            let rename = try UserImport.parse(Array("username,email\nmom,older.mom@home.org\n".utf8), file: "rename.csv")
            _ = try w.store().accounts.importUsers(rename, file: "rename.csv", actor: "registrar", now: Date(timeIntervalSinceNow: -7200))
            XCTAssertEqual(w.ctl(["user", "remove", "mom"], user: "registrar").code, 0)
            let rows = try UserImport.parse(Array("""
                username,email,approved,student_id,household_id,donor_id
                ana,ana@district.org,yes,ST2,,
                kim,kim@students.org,1,ST2;ST1,,
                mom,mom@home.org,no,,H1,D1
                """.utf8), file: "users.csv")
            let store = try w.store()
            // (An hour ago, and the email change half an hour ago: a history is in time order,
            // and entries within one second keep the order they are stored in.)
            _ = try store.accounts.importUsers(rows, file: "users.csv", actor: "registrar", now: Date(timeIntervalSinceNow: -3600), bulkAdditions: bulk ? 0 : nil)
            // An email changed after the import.
            let later = try UserImport.parse(Array("username,email\nkim,kim@school.org\n".utf8), file: "later.csv")
            XCTAssertEqual(try store.accounts.importUsers(later, file: "later.csv", actor: "registrar", now: Date(timeIntervalSinceNow: -1800)).updated, 1)
            // The run a minute ago: the detach below is then later by the clock too (entries of
            // one second are ordered by run, not by the order they happened in).
            XCTAssertNotEqual(w.sync(c, at: Date(timeIntervalSinceNow: -60)).summary.outcome, .failed)
            let roles = try ["ana", "kim", "mom"].map { "\($0): \(try store.roles.of($0).calculated.map(\.role))" }
            XCTAssertEqual(w.ctl(["user", "detach", "kim", "--student", "ST1"], user: "registrar").code, 0)
            XCTAssertEqual(w.ctl(["user", "remove", "mom"], user: "registrar").code, 0)
            let history = try ["ana", "kim", "mom"].flatMap { u in
                try store.auditTrail.userHistory(u).map { "\(u) \($0.actor) \($0.change.kind.rawValue) \($0.change.field ?? "-") \($0.change.old ?? "-") \($0.change.new ?? "-")" }
            }
            let s = try store.database.prepare("SELECT record_id, coalesce(field, '-'), coalesce(old_value, '-'), coalesce(new_value, '-'), kind FROM change_log WHERE entity = 'users'")
            var log: [String] = []
            try s.forEachRow { r in log.append((0..<5).map { r.text(Int32($0)) }.joined(separator: " ")) }
            return (history, log.sorted(), roles)
        }
        let rows = try run(bulk: false), bulk = try run(bulk: true)
        XCTAssertEqual(bulk.history, rows.history)
        XCTAssertEqual(bulk.log, rows.log)
        XCTAssertEqual(bulk.roles, rows.roles, "R7: the run after a bulk import recomputes everyone")
        XCTAssertTrue(bulk.history.contains("kim registrar added - - kim@students.org"), "the email the user was added with: \(bulk.history)")
        XCTAssertTrue(bulk.history.contains("mom registrar updated donor - D1"), "kept when the user was removed: \(bulk.history)")
        XCTAssertTrue(bulk.history.contains("mom registrar added - - mom@home.org"), "not the removed namesake's email: \(bulk.history)")
        let kim = bulk.history.filter { $0.hasPrefix("kim registrar updated student - ") }
        XCTAssertEqual(kim, ["kim registrar updated student - ST2", "kim registrar updated student - ST1"], "in the file's order")
        XCTAssertTrue(bulk.history.contains("kim registrar updated student - ST1"), "kept when the attachment was removed: \(bulk.history)")
        XCTAssertEqual(bulk.roles, ["ana: [\"Staff\", \"Student\"]", "kim: [\"Student\"]", "mom: [\"Parent\"]"])
    }

    /// A first import into a store no run has keyed yet: the key basis is stored with the
    /// first key, before the users' COPY (PostgreSQL refuses a statement inside one).
    func testR6FirstImportIntoAFreshStoreKeysTheUsers() throws {
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let store = try RosterStore(location: w.location)
        XCTAssertNil(try store.accounts.storedKeyBasis())
        let rows = try UserImport.parse(Array("username,email\nkim,Kim@Students.org\nlou,lou@students.org\n".utf8), file: "users.csv")
        let result = try store.accounts.importUsers(rows, file: "users.csv", actor: "registrar", now: Date(), normalizer: EmailNormalizer())
        XCTAssertEqual(result.added, 2)
        XCTAssertEqual(try store.accounts.storedKeyBasis(), "[]")
        let key = try store.database.prepare("SELECT email_key FROM users WHERE username = 'kim'")
        XCTAssertTrue(try key.step())
        XCTAssertEqual(key.text(0), "kim@students.org")
    }

    /// Issue 34: an import that adds at least a quarter of the users' rows builds the
    /// tables' full secondary indexes after its rows (dropped and made again in its
    /// transaction); a smaller one keeps them. Either way the indexes and constraints are
    /// the schema's own afterwards, and still enforce what they did.
    func testABulkImportBuildsTheUsersIndexesAfterItsRowsAndLeavesTheSchemasOwn() throws {
        XCTAssertTrue(UserBulkLoad.rebuilds(adding: 200_000, existing: 0))
        XCTAssertTrue(UserBulkLoad.rebuilds(adding: 25, existing: 75))
        XCTAssertFalse(UserBulkLoad.rebuilds(adding: 24, existing: 76))
        XCTAssertFalse(UserBulkLoad.rebuilds(adding: 0, existing: 0))
        let w = Workspace()
        _ = school(w)
        let db = try w.rawDatabase()
        /// The users' tables' indexes and constraints, each with what identifies the stored
        /// object (PostgreSQL's oid; SQLite's definition): made again, an index is a new object.
        func catalog() throws -> [String] {
            let sql = w.isPostgres ? """
                SELECT c.conname || ' ' || pg_get_constraintdef(c.oid) || ' #' || c.oid::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                WHERE n.nspname = current_schema() AND c.conrelid::regclass::text IN ('users', 'user_attachments')
                UNION ALL SELECT indexname || ' ' || indexdef || ' #' || (quote_ident(indexname)::regclass::oid)::text FROM pg_indexes
                WHERE schemaname = current_schema() AND tablename IN ('users', 'user_attachments')
                """ : "SELECT name || ' ' || coalesce(sql, '(automatic)') FROM sqlite_master WHERE tbl_name IN ('users', 'user_attachments')"
            var out: [String] = []
            try db.prepare(sql).forEachRow { out.append($0.text(0)) }
            return out.sorted()
        }
        func withoutIdentity(_ lines: [String]) -> [String] { lines.map { $0.components(separatedBy: " #")[0] } }
        let before = try catalog()
        XCTAssertTrue(before.contains { $0.hasPrefix(w.isPostgres ? "users_email_key UNIQUE (email)" : "users_by_email CREATE UNIQUE INDEX") }, "\(before)")
        XCTAssertTrue(before.contains { $0.hasPrefix("users_by_scim_id ") } && before.contains { $0.hasPrefix("user_attachments_by_record ") }, "\(before)")
        XCTAssertFalse(before.contains { $0.contains("users_by_email_key") }, "schema 13 has no email key index: \(before)")

        // While a load over the share runs, the full indexes are not there; below it they are.
        let fullIndexes = w.isPostgres ? ["users_email_key", "users_by_scim_id"] : ["users_by_email", "users_by_scim_id"]
        func present() throws -> [String] { try fullIndexes.filter { name in try catalog().contains { $0.hasPrefix(name + " ") } } }
        XCTAssertThrowsError(try db.transaction {
            try UserBulkLoad.load("users", adding: 1, in: db) { XCTAssertEqual(try present(), [], "one user into none: built after it") }
            XCTAssertEqual(try present(), fullIndexes, "made again after the load")
            try UserBulkLoad.load("users", adding: 0, in: db) { XCTAssertEqual(try present(), fullIndexes) }
            throw CancellationError()  // (rolled back: nothing was added)
        })
        XCTAssertEqual(try catalog(), before, "a rolled-back load leaves the very same indexes")

        w.write("/\(w.root)/many.csv", "username,email,household_id\n" + (1...8).map { "p\($0),p\($0)@home.org,H1\n" }.joined())
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/many.csv"]).code, 0)
        let rebuilt = try catalog()
        XCTAssertEqual(withoutIdentity(rebuilt), withoutIdentity(before), "the schema's own indexes after a bulk load")
        if w.isPostgres { XCTAssertNotEqual(rebuilt, before, "eight users into none: the indexes were made again") }
        // Two more among eight: below the share, the indexes are kept as they are.
        w.write("/\(w.root)/few.csv", "username,email\nq1,q1@home.org\nq2,q2@home.org\n")
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/few.csv"]).code, 0)
        XCTAssertEqual(try catalog(), rebuilt)
        // They still do their work: an email taken in another case, a SCIM id taken, an
        // attachment of no user; and the rows are all there.
        XCTAssertThrowsError(try db.execute(w.isPostgres
            ? "INSERT INTO users (username, email, created_at) VALUES ('p9', 'P1@HOME.ORG', now())"
            : "INSERT INTO users (username, email, created_at) VALUES ('p9', 'P1@HOME.ORG', '2026-12-01T08:15:00Z')"))
        XCTAssertThrowsError(try db.execute(w.isPostgres
            ? "INSERT INTO users (username, email, created_at, scim_id) SELECT 'p9', 'p9@home.org', now(), scim_id FROM users WHERE username = 'p1'"
            : """
              INSERT INTO users (username, email, created_at, scim_id_high, scim_id_low)
              SELECT 'p9', 'p9@home.org', '2026-12-01T08:15:00Z', scim_id_high, scim_id_low FROM users WHERE username = 'p1'
              """))  // (schema 16: SQLite's `scim_id` is generated from these)
        XCTAssertThrowsError(try db.execute("INSERT INTO user_attachments (username, kind, record_id) VALUES ('nobody', 'household', 'H1')"))
        XCTAssertEqual(try db.int("SELECT count(*) FROM user_attachments WHERE kind = 'household' AND record_id = 'H1'"), 8)
        XCTAssertEqual(try db.int("SELECT count(DISTINCT scim_id) FROM users"), 10, "ten users, each with a SCIM id of its own")
    }

    func testUserImportChecksTheWholeFileBeforeWritingAnything() throws {
        let w = Workspace()
        _ = school(w)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        let before = try w.dump()
        w.write("/\(w.root)/bad.csv", """
            username,email,approved,student_id,nickname
            ok1,ok1@home.org,yes,,x
            """)
        let unknownColumn = w.ctl(["user", "import", w.root + "/bad.csv"])
        XCTAssertEqual(unknownColumn.code, 1)
        XCTAssertTrue(unknownColumn.err.contains("bad.csv:1:5: unknown column `nickname`"), unknownColumn.err)
        w.write("/\(w.root)/bad.csv", """
            username,email,approved,student_id
            ok1,ok1@home.org,yes,
            two words,ok2@home.org,,
            ok3,not-an-email,,
            OK1,ok4@home.org,,
            ok5,OK1@home.org,maybe,
            ok6,ana@district.org,,
            ok7,ok7@home.org,,ST1;ST404
            ok8,ok8@home.org
            """)
        let r = w.ctl(["user", "import", w.root + "/bad.csv"])
        XCTAssertEqual(r.code, 1)
        for expected in ["nothing was imported", "bad.csv:3:1: username `two words`", "bad.csv:4:2: `not-an-email` is not an email",
                         "bad.csv:5:1: username `OK1` already appears on line 2", "bad.csv:6:2: email OK1@home.org already appears on line 2",
                         "bad.csv:6:3: approved must be", "bad.csv:9: 2 fields, the header has 4"] {
            XCTAssertTrue(r.err.contains(expected), "missing `\(expected)` in:\n\(r.err)")
        }
        XCTAssertEqual(try w.dump(), before, "nothing written")
        // Problems that need the database are reported together too.
        w.write("/\(w.root)/bad.csv", "username,email,student_id\nok6,ana@district.org,\nok7,ok7@home.org,ST1;ST404\n")
        let db = w.ctl(["user", "import", w.root + "/bad.csv"])
        XCTAssertEqual(db.code, 1)
        XCTAssertTrue(db.err.contains("bad.csv:2: ana@district.org is already the email of user `ana`"), db.err)
        XCTAssertTrue(db.err.contains("bad.csv:3: no student record `ST404`"), db.err)
        XCTAssertEqual(try w.dump(), before, "nothing written")
    }

    func testSchoolsAndLedgersAreKeptWithTheirActor() throws {
        let w = Workspace()
        _ = school(w)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "bursar", "--email", "bursar@district.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "ledger", "add", "bursar", "General Fund"], user: "cfo").code, 0)
        XCTAssertEqual(w.ctl(["user", "school", "add", "bursar", "101"], user: "cfo").code, 0)
        XCTAssertEqual(w.ctl(["user", "school", "add", "bursar", "102"], user: "cfo").code, 0)
        XCTAssertEqual(w.ctl(["user", "school", "remove", "bursar", "102"], user: "cfo").code, 0)
        let shown = w.ctl(["--json", "user", "show", "bursar"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.out.utf8)) as? [String: Any])
        XCTAssertEqual(json["ledgers"] as? [String], ["General Fund"])
        XCTAssertEqual(json["schools"] as? [String], ["101"])
        XCTAssertEqual(json["name"] as? String, "")
        let history = try XCTUnwrap(json["history"] as? [[String: Any]])
        XCTAssertEqual(history.filter { $0["actor"] as? String == "cfo" }.count, 4)
        let list = w.ctl(["--json", "user", "list"])
        let items = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.out.utf8)) as? [[String: Any]])
        XCTAssertEqual(items.first?["ledgers"] as? [String], ["General Fund"])
        XCTAssertNotNil(items.first?["roles"] as? [String: Any])
        XCTAssertEqual(w.ctl(["user", "ledger", "add", "nobody", "X"]).code, 1)
    }

    /// `user rename`: every row naming the user moves to the new name in one transaction
    /// (attachments, roles, schools, ledgers, the link), with its whole history, including a
    /// bulk import's entries kept in the user's rows; its SCIM id stays; a name another user
    /// has is refused and changes nothing.
    func testUserRenameMovesTheAccountAndItsHistory() throws {
        let w = Workspace()
        let c = school(w)
        let rows = try UserImport.parse(Array("username,email,approved,student_id,household_id,donor_id\nkim,kim@district.org,yes,ST1,,\n".utf8), file: "users.csv")
        _ = try w.store().accounts.importUsers(rows, file: "users.csv", actor: "registrar", now: Date(timeIntervalSinceNow: -60), bulkAdditions: 0)
        for args in [["user", "school", "add", "kim", "101"], ["user", "ledger", "add", "kim", "General Fund"], ["user", "role", "add", "kim", "Coach"],
                     ["user", "add", "--username", "lee", "--email", "lee@district.org"]] {
            XCTAssertEqual(w.ctl(args, user: "registrar").code, 0, args.joined(separator: " "))
        }
        XCTAssertNotEqual(w.sync(c).summary.outcome, .failed)
        let before = try XCTUnwrap(try w.store().accounts.provisionedUser("kim"))
        let historyBefore = try w.store().auditTrail.userHistory("kim").count

        XCTAssertEqual(w.ctl(["user", "rename", "kim", "LEE"]).code, 1, "another user's name, regardless of case")
        let renamed = w.ctl(["--json", "user", "rename", "kim", "kim.lima"], user: "registrar")
        XCTAssertEqual(renamed.code, 0, renamed.err)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(renamed.out.utf8)) as? [String: Any])
        XCTAssertEqual(json["username"] as? String, "kim.lima")
        XCTAssertEqual(json["schools"] as? [String], ["101"])
        XCTAssertEqual(json["ledgers"] as? [String], ["General Fund"])
        let store = try w.store()
        XCTAssertNil(try store.accounts.user("kim"))
        XCTAssertEqual(try store.accounts.provisionedUser("kim.lima")?.id, before.id, "the SCIM id stays")
        XCTAssertEqual(try store.roles.of("kim.lima").manual, ["Coach"])
        let history = try store.auditTrail.userHistory("kim.lima")
        XCTAssertEqual(history.count, historyBefore + 1, "the history moved whole, and the rename is in it")
        XCTAssertEqual(history.first?.change.kind, .added, "the bulk import's entry came along")
        XCTAssertTrue(history.contains { $0.change.field == "username" && $0.change.old == "kim" && $0.change.new == "kim.lima" && $0.actor == "registrar" })
        var left: [String] = []
        for table in AccountStore.rowsReferringToUsers + AccountStore.rowsNamingUsers {
            try w.rawDatabase().forEachRow("SELECT count(*) FROM \(unescaped: table) WHERE username = 'kim'") { if $0.int(0) > 0 { left.append(table) } }
        }
        XCTAssertEqual(left, [], "no row names the old username")
    }
}
