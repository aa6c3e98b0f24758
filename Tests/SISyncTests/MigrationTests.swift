import XCTest
@testable import SISync

/// Issue 27 part 2: one migration list for both stores. A database in the field at every
/// version a release left (0.1's and each of 0.2's steps on SQLite; 6, 7 and 8 on
/// PostgreSQL, where it came in at 6) migrates to exactly the schema a new store gets:
/// tables, columns and their types, defaults and collations, indexes, constraints, views.
/// The old schemas are the ones those releases made (`Tests/ReleasedSchemas`), not the
/// list's own first steps, so a step edited after release, or a PostgreSQL step that does
/// not match its SQLite twin, fails here.
final class MigrationTests: XCTestCase {
    private static let released = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ReleasedSchemas")

    private func releasedSchema(_ name: String) throws -> String {
        try String(contentsOf: Self.released.appendingPathComponent(name), encoding: .utf8)
    }

    func testTheStepsAreVersionsOneToLatestWithNamesAndSQLForBothStores() {
        XCTAssertEqual(Migrator().latestVersion, Int(Schema.currentVersion))
        XCTAssertEqual(PostgresSchema.version, Int(Schema.currentVersion))
        XCTAssertEqual(Set(Migration.all.map(\.name)).count, Migration.all.count, "each step has its own name")
        for (index, step) in Migration.all.enumerated() {
            XCTAssertFalse(step.sqlite.isEmpty, "step \(index + 1) \(step.name)")
            // Before PostgreSQL's first version a step may have nothing to do there (staff
            // `enabled` came with its first tables); from then on it always has.
            if index + 1 > Migrator.oldestPostgresVersion { XCTAssertFalse(step.postgres.isEmpty, "step \(index + 1) \(step.name)") }
        }
    }

    // MARK: SQLite

    /// Everything SQLite knows about a schema, as sorted lines.
    private func catalog(_ db: SQLiteDatabase) throws -> [String] {
        var lines: [String] = ["user_version \(try db.userVersion)"]
        var objects: [(type: String, name: String)] = []
        try db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").forEachRow {
            objects.append(($0.text(0), $0.text(1)))
            lines.append("\($0.text(0)) \($0.text(1)) on \($0.text(2)): \($0.string(3) ?? "(automatic)")")
        }
        for (type, table) in objects where type == "table" {
            try db.prepare("SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('\(table)')").forEachRow {
                lines.append("column \(table).\($0.text(1)) #\($0.int(0)) \($0.text(2)) notnull=\($0.int(3)) default=\($0.string(4) ?? "none") pk=\($0.int(5))")
            }
            try db.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list('\(table)')").forEachRow { index in
                var columns: [String] = []
                try db.prepare("SELECT name, coll, \"desc\" FROM pragma_index_xinfo('\(index.text(0))') WHERE key = 1").forEachRow {
                    columns.append("\($0.string(0) ?? "expr") \($0.text(1)) desc=\($0.int(2))")
                }
                lines.append("index \(table).\(index.text(0)) unique=\(index.int(1)) origin=\(index.text(2)) partial=\(index.int(3)) (\(columns.joined(separator: ", ")))")
            }
            try db.prepare("SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list('\(table)')").forEachRow {
                lines.append("foreign key \(table) #\($0.int(0)).\($0.int(1)) \($0.text(3)) -> \($0.text(2)).\($0.string(4) ?? "key") update=\($0.text(5)) delete=\($0.text(6))")
            }
        }
        return lines.sorted()
    }

    func testEveryReleasedSQLiteSchemaMigratesToTheSchemaOfANewStore() throws {
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let fresh = try SQLiteDatabase(path: w.root + "/db/fresh.db")
        try Migrator().migrate(fresh)
        let expected = try catalog(fresh)
        XCTAssertTrue(expected.contains("user_version \(Migrator().latestVersion)"))
        XCTAssertTrue(expected.contains { $0.hasPrefix("table held_plans") }, "the catalog sees the newest table")
        for version in 1...8 {
            let db = try SQLiteDatabase(path: w.root + "/db/v\(version).db")
            try db.execute(try releasedSchema("sqlite-v\(version).sql"))
            try db.setUserVersion(Int32(version))
            try Migrator().migrate(db)
            let found = try catalog(db)
            XCTAssertEqual(found.filter { !expected.contains($0) }, [], "from version \(version): only in the migrated database")
            XCTAssertEqual(expected.filter { !found.contains($0) }, [], "from version \(version): only in a new store")
        }
    }

    // MARK: PostgreSQL

    private func connect() throws -> PostgresConnection {
        try PostgresConnection(uri: TestPostgresServer.shared().uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
    }

    private func uniqueSchema() -> String { "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12) }

    /// Everything PostgreSQL knows about a schema's tables, as sorted lines, with the
    /// schema's own name taken out.
    private func catalog(_ c: PostgresConnection, schema: String) throws -> [String] {
        try c.executeScript("SET search_path TO \(PostgresSchema.quoted(schema))")
        let queries = [
            "SELECT 'version ' || version FROM schema_version",
            """
            SELECT 'column ' || table_name || '.' || column_name || ' #' || ordinal_position || ' ' || data_type
              || ' collate=' || coalesce(collation_name, '-') || ' nullable=' || is_nullable
              || ' default=' || coalesce(column_default, '-') || ' identity=' || is_identity || coalesce(' ' || identity_generation, '')
            FROM information_schema.columns WHERE table_schema = $1
            """,
            "SELECT 'table ' || table_name || ' ' || table_type FROM information_schema.tables WHERE table_schema = $1",
            "SELECT 'index ' || tablename || '.' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = $1",
            """
            SELECT 'constraint ' || c.conrelid::regclass::text || '.' || c.conname || ' ' || c.contype::text || ': ' || pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1
            """,
            """
            SELECT 'view ' || c.relname || ': ' || pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind = 'v'
            """,
            """
            SELECT 'statistics ' || s.stxname || ': ' || pg_get_statisticsobjdef(s.oid) FROM pg_statistic_ext s
            JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE n.nspname = $1
            """,
            """
            SELECT 'collation ' || c.collname || ' ' || c.collprovider::text || ' ' || coalesce(c.colliculocale, '') || ' deterministic=' || c.collisdeterministic
            FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace WHERE n.nspname = $1
            """,
        ]
        var lines: [String] = []
        for sql in queries {
            let result = try c.execute(sql, sql.contains("$1") ? [schema] : [])
            lines += result.rows.map { ($0[0] ?? "NULL").replacingOccurrences(of: schema, with: "SCHEMA") }
        }
        return lines.sorted()
    }

    func testEveryReleasedPostgresSchemaMigratesToTheSchemaOfANewStore() throws {
        let c = try connect()
        let fresh = uniqueSchema()
        XCTAssertEqual(try PostgresSchema.prepare(c, schema: fresh), 0)
        let expected = try catalog(c, schema: fresh)
        XCTAssertTrue(expected.contains("version \(Migrator().latestVersion)"))
        XCTAssertTrue(expected.contains { $0.hasPrefix("view change_log") } && expected.contains { $0.hasPrefix("statistics ") })
        for version in 6...8 {
            let schema = uniqueSchema()
            try c.executeScript("CREATE SCHEMA \(schema); SET search_path TO \(schema)")
            try c.executeScript(try releasedSchema("postgres-v\(version).sql"))
            try c.executeScript("""
                CREATE TABLE schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);
                INSERT INTO schema_version VALUES (1, \(version))
                """)
            XCTAssertEqual(try PostgresSchema.prepare(c, schema: schema), version)
            let found = try catalog(c, schema: schema)
            XCTAssertEqual(found.filter { !expected.contains($0) }, [], "from version \(version): only in the migrated schema")
            XCTAssertEqual(expected.filter { !found.contains($0) }, [], "from version \(version): only in a new schema")
        }
    }
    /// Version 13 makes SQLite's `users` again (to name its email index): with foreign keys
    /// on, dropping the old table would delete every user's attachments, roles and link
    /// (or fail on the link). So the step runs with them off and checks them: a version-12
    /// database keeps its users with their rowids, SCIM ids, attachments, roles and links,
    /// and the trigger still gives a new row its SCIM id; a reference to no user rolls the
    /// step back, naming the table.
    func testVersion13KeepsTheUsersAndWhatRefersToThem() throws {
        let w = Workspace()
        let db = try Self.database(in: w, at: 12)
        try db.execute("""
            INSERT INTO users (username, email, created_at, email_key) VALUES ('Ann', 'Ann@d.org', '2026-01-01T00:00:00Z', 'ann@d.org');
            INSERT INTO users (username, email, created_at) VALUES ('bob', 'bob@d.org', '2026-01-01T00:00:00Z');
            INSERT INTO links (username, staff_id, kind, created_at, created_by) VALUES ('Ann', 'S1', 'auto', '2026-01-01T00:00:00Z', 'sync');
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('bob', 'household', 'H1');
            INSERT INTO user_roles (username, role, source) VALUES ('bob', 'Parent', 'manual');
            """)
        func rows() throws -> [String] { try Self.usersAndWhatRefersToThem(db) }
        let before = try rows()
        XCTAssertEqual(before.count, 5)
        try Migrator().migrate(db, to: 13)
        XCTAssertEqual(try db.userVersion, 13)
        XCTAssertEqual(try rows(), before)
        XCTAssertEqual(try db.int("PRAGMA foreign_keys"), 1, "on again after the step")
        try db.execute("INSERT INTO users (username, email, created_at) VALUES ('cy', 'cy@d.org', '2026-01-01T00:00:00Z')")
        XCTAssertEqual(try db.int("SELECT length(scim_id) FROM users WHERE username = 'cy'"), 32)
        XCTAssertThrowsError(try db.execute("INSERT INTO users (username, email, created_at) VALUES ('dee', 'BOB@d.org', '2026-01-01T00:00:00Z')"))

        // A database with an attachment of no user (written with foreign keys off).
        let broken = try SQLiteDatabase(path: w.root + "/db/broken.db")
        try Migrator().migrate(broken, to: 12)
        try broken.execute("PRAGMA foreign_keys = OFF; INSERT INTO user_attachments (username, kind, record_id) VALUES ('ghost', 'household', 'H1')")
        XCTAssertThrowsError(try Migrator().migrate(broken)) { e in
            XCTAssertTrue("\(e)".contains("user_attachments refer to users rows that are not there"), "\(e)")
        }
        XCTAssertEqual(try broken.userVersion, 12, "rolled back")
    }

    /// A SQLite store at `version`, as that sisync left it, with foreign keys on.
    private static func database(in w: Workspace, at version: Int) throws -> SQLiteDatabase {
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: w.root + "/db/v\(version).db")
        try db.execute("PRAGMA foreign_keys = ON")
        try Migrator().migrate(db, to: version)
        return db
    }

    /// Every user (rowid, username, SCIM id) and the links, attachments and roles that
    /// refer to users, as sorted lines: what a step that makes `users` again must keep.
    private static func usersAndWhatRefersToThem(_ db: SQLiteDatabase) throws -> [String] {
        var out: [String] = []
        try db.prepare("""
            SELECT 'user ' || rowid || ' ' || username || ' ' || scim_id FROM users UNION ALL SELECT 'link ' || username FROM links
            UNION ALL SELECT 'attachment ' || username || ' ' || record_id FROM user_attachments UNION ALL SELECT 'role ' || username || ' ' || role FROM user_roles
            """).forEachRow { out.append($0.text(0)) }
        return out.sorted()
    }

    /// What an application made on `users` survives the steps that make `users` again (13
    /// and 14): its own index and trigger on it, its view over it and its trigger on
    /// another table that reads it are there after, word for word, and work; without this
    /// the view stopped the rename ("no such table: main.users") and the daemon could not
    /// start, and the index and trigger were dropped without a word.
    func testAnApplicationsIndexTriggerAndViewOnUsersOutliveTheStepsThatMakeUsersAgain() throws {
        let w = Workspace(sqlite: true)
        let db = try Self.database(in: w, at: 12)
        let made = [
            "CREATE INDEX app_users_by_name ON users (name)",
            "CREATE TABLE app_audit (what TEXT)",
            "CREATE TRIGGER app_user_added AFTER INSERT ON users BEGIN INSERT INTO app_audit VALUES ('added ' || NEW.username); END",
            "CREATE VIEW app_approved_users AS SELECT username, email FROM users WHERE approved = 1",
            "CREATE TRIGGER app_audit_checks AFTER INSERT ON app_audit WHEN NOT EXISTS (SELECT 1 FROM users) BEGIN SELECT 1; END",
        ]
        for sql in made { try db.execute(sql) }
        try db.execute("INSERT INTO users (username, email, approved, created_at) VALUES ('ann', 'ann@d.org', 1, '2026-01-01T00:00:00Z')")
        try Migrator().migrate(db)
        XCTAssertEqual(try db.userVersion, Int32(Migrator().latestVersion))
        var sqls: [String] = []
        try db.prepare("SELECT sql FROM sqlite_master WHERE name LIKE 'app\\_%' ESCAPE '\\' AND type <> 'table' ORDER BY name").forEachRow { sqls.append($0.text(0)) }
        XCTAssertEqual(sqls.sorted(), made.filter { !$0.hasPrefix("CREATE TABLE") }.sorted(), "each one as the application wrote it")
        try db.execute("INSERT INTO users (username, email, approved, created_at) VALUES ('bob', 'bob@d.org', 1, '2026-01-01T00:00:00Z')")
        var audit: [String] = [], approved: [String] = []
        try db.prepare("SELECT what FROM app_audit ORDER BY rowid").forEachRow { audit.append($0.text(0)) }
        try db.prepare("SELECT username FROM app_approved_users ORDER BY username").forEachRow { approved.append($0.text(0)) }
        XCTAssertEqual(audit, ["added ann", "added bob"], "the trigger fires after the steps too")
        XCTAssertEqual(approved, ["ann", "bob"])
    }

    /// A column an application added to `users` stops a step that makes `users` again,
    /// which would drop it with its values: rolled back, the database as it was, and the
    /// error says what to do.
    func testAColumnAnApplicationAddedToUsersStopsTheUpgradeAndKeepsItsValues() throws {
        let w = Workspace(sqlite: true)
        let db = try Self.database(in: w, at: 12)
        try db.execute("ALTER TABLE users ADD COLUMN app_department TEXT")
        try db.execute("INSERT INTO users (username, email, created_at, app_department) VALUES ('ann', 'ann@d.org', '2026-01-01T00:00:00Z', 'Science')")
        XCTAssertThrowsError(try Migrator().migrate(db)) { e in
            guard case .upgradeBlocked(_, 13, _, let problem)? = e as? StoreError else { return XCTFail("\(e)") }
            XCTAssertTrue(problem.contains("app_department"), problem)
            XCTAssertEqual(SyncRun.classify(e).exitCode, 73, "\(e)")
        }
        XCTAssertEqual(try db.userVersion, 12, "rolled back")
        var department: [String] = []
        try db.prepare("SELECT app_department FROM users WHERE username = 'ann'").forEachRow { department.append($0.text(0)) }
        XCTAssertEqual(department, ["Science"])
        XCTAssertEqual(try db.int("PRAGMA foreign_keys"), 1)
    }

    /// Step 16 makes `users.email_key` and `scim_id` generated columns. An application's
    /// trigger that names one (here the pattern of version 13's own `users_scim_id`, which
    /// wrote `scim_id`) would be made again word for word and then fail every later insert
    /// into `users` ("cannot UPDATE generated column"): the step stops instead, rolled back,
    /// and says which trigger and what to do. A trigger naming neither is made again.
    func testAnApplicationsTriggerWritingAColumnThatBecomesGeneratedStopsStep16() throws {
        let w = Workspace(sqlite: true)
        let db = try Self.database(in: w, at: 15)
        try db.execute("""
            CREATE TABLE app_audit (what TEXT);
            CREATE TRIGGER app_user_added AFTER INSERT ON users BEGIN INSERT INTO app_audit VALUES ('added ' || NEW.username); END;
            CREATE TRIGGER app_fresh_id AFTER INSERT ON users BEGIN UPDATE users SET scim_id = lower(hex(randomblob(16))) WHERE username = NEW.username; END;
            INSERT INTO users (username, email, created_at) VALUES ('ann', 'ann@d.org', '2026-01-01T00:00:00Z');
            """)
        XCTAssertThrowsError(try Migrator().migrate(db, to: 16)) { e in
            guard case .upgradeBlocked(_, 16, _, let problem)? = e as? StoreError else { return XCTFail("\(e)") }
            XCTAssertTrue(problem.contains("app_fresh_id") && problem.contains("`scim_id`") && problem.contains("DROP TRIGGER"), problem)
            XCTAssertFalse(problem.contains("app_user_added"), problem)
        }
        XCTAssertEqual(try db.userVersion, 15, "rolled back")
        XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_master WHERE name IN ('app_fresh_id', 'app_user_added')"), 2, "both triggers as they were")
        try db.execute("DROP TRIGGER app_fresh_id")
        try Migrator().migrate(db, to: 16)
        try db.execute("INSERT INTO users (username, email, created_at) VALUES ('bob', 'bob@d.org', '2026-01-01T00:00:00Z')")
        XCTAssertEqual(try db.int("SELECT count(*) FROM app_audit"), 2, "the other trigger made again, and firing")
        XCTAssertTrue(ApplicationObjects.names("UPDATE users SET Email_Key = 1", "email_key"))
        XCTAssertFalse(ApplicationObjects.names("UPDATE users SET stored_email_key = 1", "email_key"), "a longer name is another column")
        XCTAssertFalse(ApplicationObjects.names("SELECT email_keys FROM t", "email_key"))
    }

    /// Version 14 makes SQLite's `users` again with SCIM's id as the column's default
    /// (`lower(hex(randomblob(16)))`) instead of the trigger `users_scim_id`, whose statement
    /// journal per row was a third of a district's import (issue 34). SCIM's `id` is stable
    /// (RFC 7643 §3.1, docs/scim.md): every user keeps it, and its rowid, attachments, roles
    /// and link; the documented `INSERT`, which leaves `scim_id` out, still gets a fresh id
    /// of 32 hex digits; an explicit NULL is refused (PostgreSQL's column is NOT NULL too).
    func testVersion14GivesSCIMIDsByDefaultAndKeepsEveryUsersID() throws {
        let w = Workspace()
        let db = try Self.database(in: w, at: 13)
        try db.execute("""
            INSERT INTO users (username, email, created_at, scim_id) VALUES ('Ann', 'Ann@d.org', '2026-01-01T00:00:00Z', '0123456789abcdef0123456789abcdef');
            INSERT INTO users (username, email, created_at) VALUES ('bob', 'bob@d.org', '2026-01-01T00:00:00Z');
            DELETE FROM users WHERE username = 'Ann';
            INSERT INTO users (username, email, created_at, scim_id) VALUES ('Ann', 'Ann@d.org', '2026-01-01T00:00:00Z', '0123456789abcdef0123456789abcdef');
            INSERT INTO links (username, staff_id, kind, created_at, created_by) VALUES ('Ann', 'S1', 'auto', '2026-01-01T00:00:00Z', 'sync');
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('bob', 'household', 'H1');
            INSERT INTO user_roles (username, role, source) VALUES ('bob', 'Parent', 'manual');
            """)
        func rows() throws -> [String] { try Self.usersAndWhatRefersToThem(db) }
        let before = try rows()
        XCTAssertEqual(before.count, 5)
        XCTAssertTrue(before.contains("user 3 Ann 0123456789abcdef0123456789abcdef"), "\(before)")
        try Migrator().migrate(db, to: 14)
        XCTAssertEqual(try db.userVersion, 14)
        XCTAssertEqual(try rows(), before, "the same users, rowids and SCIM ids, and what refers to them")
        XCTAssertEqual(try db.int("PRAGMA foreign_keys"), 1, "on again after the step")
        XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0, "no trigger on users")
        XCTAssertEqual(try db.int("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('users_by_email', 'users_by_scim_id', 'users_by_other_email_key', 'users_by_external_id')"), 4)
        try db.execute("INSERT INTO users (username, email, name, approved, created_at) VALUES ('cy', 'cy@d.org', 'Cy', 1, '2026-01-01T00:00:00Z')")
        try db.execute("INSERT INTO users (username, email, name, approved, created_at) VALUES ('dee', 'dee@d.org', 'Dee', 1, '2026-01-01T00:00:00Z')")
        XCTAssertEqual(try db.int("SELECT count(DISTINCT scim_id) FROM users WHERE username IN ('cy', 'dee') AND length(scim_id) = 32 AND scim_id NOT GLOB '*[^0-9a-f]*'"), 2,
                       "each new row its own 32 lowercase hex digits")
        XCTAssertThrowsError(try db.execute("INSERT INTO users (username, email, created_at, scim_id) VALUES ('eve', 'eve@d.org', '2026-01-01T00:00:00Z', NULL)"))
        XCTAssertThrowsError(try db.execute("UPDATE users SET scim_id = (SELECT scim_id FROM users WHERE username = 'Ann') WHERE username = 'bob'"),
                             "SCIM ids stay unique")
    }

    /// Version 16 (issue 34, the database's size) stores SQLite's email keys and SCIM ids in
    /// fewer bytes, with `email_key` and `scim_id` generated from them. SCIM's `id` is stable
    /// (RFC 7643 §3.1): every user reads back the very id and key it had, with its rowid and
    /// what refers to it, ids of another form than sisync's (an application's) included, and
    /// each is found by its id through an index. A key that is the email in SQLite's lower
    /// case (ASCII letters only) is stored as 0; others as they are.
    func testVersion16StoresKeysAndSCIMIDsSmallerAndEveryUserReadsBackTheSame() throws {
        let w = Workspace()
        let db = try Self.database(in: w, at: 15)
        try db.execute("""
            INSERT INTO users (username, email, created_at, email_key, scim_id) VALUES ('Ann', 'Ann@d.org', '2026-01-01T00:00:00Z', 'ann@d.org', 'fedcba9876543210f123456789abcdef');
            INSERT INTO users (username, email, created_at) VALUES ('bob', 'bob@d.org', '2026-01-01T00:00:00Z');
            INSERT INTO users (username, email, created_at, email_key, scim_id) VALUES ('cy', 'cy@staff.d.org', '2026-01-01T00:00:00Z', 'cy@d.org', 'legacy-7');
            INSERT INTO users (username, email, created_at, email_key, scim_id) VALUES ('dee', 'DÉE@d.org', '2026-01-01T00:00:00Z', 'dée@d.org', '0123456789ABCDEF0123456789ABCDEF');
            INSERT INTO links (username, staff_id, kind, created_at, created_by) VALUES ('Ann', 'S1', 'auto', '2026-01-01T00:00:00Z', 'sync');
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('bob', 'household', 'H1');
            INSERT INTO user_roles (username, role, source) VALUES ('cy', 'Parent', 'manual');
            """)
        func keys() throws -> [String] {
            var out: [String] = []
            try db.prepare("SELECT username || ' ' || coalesce(email_key, 'NULL') FROM users ORDER BY username").forEachRow { out.append($0.text(0)) }
            return out
        }
        let before = try Self.usersAndWhatRefersToThem(db), keysBefore = try keys()
        XCTAssertEqual(keysBefore, ["Ann ann@d.org", "bob NULL", "cy cy@d.org", "dee dée@d.org"])
        try Migrator().migrate(db, to: 16)
        XCTAssertEqual(try db.userVersion, 16)
        XCTAssertEqual(try Self.usersAndWhatRefersToThem(db), before, "the same users, rowids and SCIM ids, and what refers to them")
        XCTAssertEqual(try keys(), keysBefore, "the same email keys")
        XCTAssertEqual(try db.int("PRAGMA foreign_keys"), 1, "on again after the step")
        var stored: [String] = []
        try db.prepare("SELECT username || ' ' || typeof(stored_email_key) || ' ' || coalesce(scim_id_other, '-') FROM users ORDER BY username").forEachRow { stored.append($0.text(0)) }
        XCTAssertEqual(stored, ["Ann integer -", "bob null -", "cy text legacy-7", "dee text 0123456789ABCDEF0123456789ABCDEF"],
                       "a key that is lower(email) in no bytes; ids of another form kept as they were")
        // Each found by its id, through an index.
        let columns = UserKeyColumns(db)
        for (username, id) in [("Ann", "fedcba9876543210f123456789abcdef"), ("cy", "legacy-7"), ("dee", "0123456789ABCDEF0123456789ABCDEF")] {
            var found: [String] = []
            try db.forEachRow("SELECT u.username FROM users u WHERE \(sql: columns.scimID(is: id))") { found.append($0.text(0)) }
            XCTAssertEqual(found, [username], id)
            var plan: [String] = []
            try db.forEachRow("EXPLAIN QUERY PLAN SELECT u.username FROM users u WHERE \(sql: columns.scimID(is: id))") { plan.append($0.text(3)) }
            XCTAssertTrue(plan.joined().contains("USING INDEX users_by_"), "\(id): \(plan)")
        }
        XCTAssertNil(UserKeyColumns.bits(ofSCIMID: "0123456789ABCDEF0123456789ABCDEF"), "upper case is another form: found as it was written")
        // Its negation keeps every other user (SCIM's `not (id eq "…")`), whatever the id's form:
        // a comparison with `scim_id_other`, NULL for most users, must not make it unknown.
        for (id, others) in [("legacy-7", 3), ("fedcba9876543210f123456789abcdef", 3), ("nope", 4), ("0123456789abcdef0123456789abcdef", 4)] {
            XCTAssertEqual(try db.int("SELECT count(*) FROM users u WHERE NOT \(sql: columns.scimID(is: id))"), others, id)
        }
        // The documented INSERT still works and gets an id of its own; ids stay unique.
        try db.execute("INSERT INTO users (username, email, name, approved, created_at) VALUES ('eve', 'eve@d.org', 'Eve', 1, '2026-01-01T00:00:00Z')")
        XCTAssertEqual(try db.int("SELECT count(*) FROM users WHERE username = 'eve' AND email_key IS NULL AND length(scim_id) = 32 AND scim_id NOT GLOB '*[^0-9a-f]*'"), 1)
        // `scim_id` and `email_key` are computed: any value written to them is refused, NULL too.
        for value in ["NULL", "'fedcba9876543210f123456789abcd00'"] {
            XCTAssertThrowsError(try db.execute("INSERT INTO users (username, email, created_at, scim_id) VALUES ('fay', 'fay@d.org', '2026-01-01T00:00:00Z', \(value))"))
        }
        XCTAssertThrowsError(try db.execute("INSERT INTO users (username, email, created_at, email_key) VALUES ('fay', 'fay@d.org', '2026-01-01T00:00:00Z', 'fay@d.org')"))
        XCTAssertThrowsError(try db.execute("""
            INSERT INTO users (username, email, created_at, scim_id_high, scim_id_low)
            SELECT 'fay', 'fay@d.org', '2026-01-01T00:00:00Z', scim_id_high, scim_id_low FROM users WHERE username = 'Ann'
            """), "SCIM ids stay unique")
        XCTAssertThrowsError(try db.execute("UPDATE users SET scim_id_other = 'legacy-7' WHERE username = 'bob'"), "ids of another form too")
    }

    /// Issue 34: the step that keeps attributes' fingerprints as 0 (the digest of no
    /// values, the same in every row: 8 bytes a row) changes nothing else. Every row of a
    /// database made before it stays, with its other columns as they were, and the other
    /// entities keep their digests.
    func testAttributesFingerprintStepKeepsEveryRow() throws {
        let step = try XCTUnwrap(Migration.all.firstIndex { $0.name == "attributes' fingerprint kept as 0" })
        let w = Workspace(sqlite: true)
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: w.root + "/db/before.db")
        try Migrator().migrate(db, to: step)
        let noValues = Int64(bitPattern: EntityRows.fingerprint(values: []))
        try db.execute("""
            INSERT INTO attributes (record_type, record_id, attribute, school_year, active, deactivated_at, added_run, updated_run, fingerprint) VALUES
              ('student', 'ST1', 'Honor Roll', '2026-2027', 1, NULL, 1, 1, \(noValues)),
              ('household', 'H1', 'Volunteer', '', 0, '2026-09-01T00:00:00Z', 1, 2, \(noValues)),
              ('donor', 'D1', 'Gold', '', 1, NULL, 2, 0, 0);
            INSERT INTO students (student_id, first_name, added_run, updated_run, fingerprint) VALUES ('ST1', 'Ann', 1, 1, 1234567890123);
            """)
        func rows() throws -> [String] {
            var out: [String] = []
            try db.prepare("""
                SELECT printf('attribute %s|%s|%s|%s|%d|%s|%s|%d|%d', record_type, record_id, attribute, school_year, active, deactivated_at,
                  missing_since, added_run, updated_run) FROM attributes
                UNION ALL SELECT printf('student %s|%s|%d', student_id, first_name, fingerprint) FROM students
                """).forEachRow { out.append($0.text(0)) }
            return out.sorted()
        }
        let before = try rows()
        XCTAssertEqual(before.count, 4)
        try Migrator().migrate(db, to: step + 1)
        XCTAssertEqual(try db.userVersion, Int32(step + 1))
        XCTAssertEqual(try rows(), before)
        XCTAssertEqual(try db.int("SELECT count(*) FROM attributes WHERE fingerprint = 0"), 3)
    }

    /// Two connections opening the same new SQLite database at once (a tenant's daemon and a
    /// `sisyncctl` poll did): the second reads version 0 before the first commits step 1,
    /// waits for the write lock, and must then find the step made instead of making it again
    /// ("table … already exists").
    func testTwoConnectionsMigratingOneNewDatabaseMakeEachStepOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("migrate-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.db").path
        let first = try SQLiteDatabase(path: path)
        try first.execute("PRAGMA journal_mode = WAL")
        let second = try SQLiteDatabase(path: path)
        let inStepOne = DispatchSemaphore(value: 0), secondStarted = DispatchSemaphore(value: 0)
        let holding = Migrator([
            Migration("one", sqlite: ["CREATE TABLE one (id INTEGER)"], postgres: [], sqliteRows: { _ in
                inStepOne.signal()
                _ = secondStarted.wait(timeout: .now() + 10)
                // The second connection has read version 0 and is waiting for the lock.
                Thread.sleep(forTimeInterval: 0.3)
            }),
            Migration("two", sqlite: ["CREATE TABLE two (id INTEGER)"], postgres: []),
        ])
        let plain = Migrator([Migration("one", sqlite: ["CREATE TABLE one (id INTEGER)"], postgres: []), holding.migrations[1]])
        // Each connection is used by one thread only.
        nonisolated(unsafe) let secondsMigrator = plain, secondConnection = second
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var secondError: (any Error)?
        DispatchQueue.global().async {
            XCTAssertEqual(inStepOne.wait(timeout: .now() + 10), .success)
            secondStarted.signal()
            do { try secondsMigrator.migrate(secondConnection) } catch { secondError = error }
            done.signal()
        }
        try holding.migrate(first)
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        XCTAssertNil(secondError, "the second connection made a step the first had made")
        XCTAssertEqual(try second.userVersion, 2)
    }
}
