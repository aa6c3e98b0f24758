import XCTest
@testable import SISync

/// Issue 34, PostgreSQL at SQLite's pace: a first run's calculated roles go into
/// `user_roles` with the table's key and reference to `users` made again after them
/// (`PostgresDatabase.bulkLoading`), and the bulk writes through COPY fail whole. These
/// always run on PostgreSQL.
final class PostgresBulkLoadTests: XCTestCase {
    private func workspace() throws -> Workspace { Workspace(postgres: try TestPostgresServer.shared()) }

    /// `user_roles`' key and references: each one's definition, and the oid that tells a
    /// constraint made again from the one that was there. (Its CHECK is never made again.)
    private func constraints(_ db: PostgresDatabase, _ w: Workspace, of table: String = "user_roles") throws -> (definitions: [String], oids: [String]) {
        let rows = try db.connection.execute("""
            SELECT conname || ' ' || pg_get_constraintdef(oid), oid::text FROM pg_constraint
            WHERE conrelid = to_regclass($1) AND contype IN ('p', 'f') ORDER BY conname
            """, [PostgresSchema.qualified(w.schema, table)]).rows
        return (rows.map { $0[0] ?? "" }, rows.map { $0[1] ?? "" })
    }

    /// A first run grants every calculated role there is: the key and the reference to
    /// `users` are made again after the rows, as they were (same names, same definitions),
    /// and hold afterwards; a later run that grants a few keeps them as they are.
    func testAFirstRunsGrantsRemakeTheRolesKeyAndReferenceAsTheyWereAndBothStillHold() throws {
        let w = try workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        RolesTests.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        RolesTests.addUsers(w)
        let db = try Workspace.rawPostgres(w)
        let before = try constraints(db, w)
        XCTAssertTrue(before.definitions.contains("user_roles_pkey PRIMARY KEY (username, source, role, school_year)"), "\(before.definitions)")
        XCTAssertTrue(before.definitions.contains { $0.hasPrefix("user_roles_username_fkey FOREIGN KEY (username) REFERENCES") }, "\(before.definitions)")

        let first = w.sync(c)
        XCTAssertGreaterThan(first.summary.rolesGranted, 0, first.summary.error ?? "")
        let after = try constraints(db, w)
        XCTAssertEqual(after.definitions, before.definitions, "the schema's own constraints, as they were")
        XCTAssertTrue(Set(after.oids).isDisjoint(with: before.oids), "made again after the grants: \(before.oids) → \(after.oids)")
        XCTAssertEqual(try calculatedCount(db, w), first.summary.rolesGranted)

        // Both still hold.
        let table = PostgresSchema.qualified(w.schema, "user_roles")
        XCTAssertThrowsError(try db.connection.execute("INSERT INTO \(table) (username, role, source) VALUES ('nobody', 'Staff', 'manual')")) { e in
            guard case .query(_, "23503", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try db.connection.execute("INSERT INTO \(table) (username, role, source, school_year) VALUES ('ANA', 'Staff', 'calculated', '')")) { e in
            guard case .query(_, "23505", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }

        // One more grant among many: row by row, the constraints stay the same objects.
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ben", "--email", "ben@district.org"]).code, 0)
        let second = w.sync(c)
        XCTAssertGreaterThan(second.summary.rolesGranted, 0, second.summary.error ?? "")
        XCTAssertFalse(PostgresDatabase.rebuildsConstraints(adding: second.summary.rolesGranted, existing: first.summary.rolesGranted))
        XCTAssertEqual(try constraints(db, w).oids, after.oids, "a few grants keep the constraints")
    }

    /// A first run's links are all the table will have: `links`' key and reference to
    /// `users` are made again after them, as they were, and hold afterwards; a later run
    /// that links one more user among several keeps them as they are.
    func testAFirstRunsLinksRemakeTheLinksKeyAndReferenceAsTheyWereAndBothStillHold() throws {
        let w = try workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(5)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for n in 1...4 { XCTAssertEqual(w.ctl(["user", "add", "--username", "u\(n)", "--email", "user\(n)@district.org"]).code, 0) }
        let db = try Workspace.rawPostgres(w)
        let before = try constraints(db, w, of: "links")
        XCTAssertEqual(before.definitions.count, 2, "\(before.definitions)")
        XCTAssertTrue(before.definitions.contains("links_pkey PRIMARY KEY (username)"), "\(before.definitions)")

        let first = w.sync(c)
        XCTAssertEqual(first.summary.linksMade, 4, first.summary.error ?? "")
        let after = try constraints(db, w, of: "links")
        XCTAssertEqual(after.definitions, before.definitions, "the schema's own constraints, as they were")
        XCTAssertTrue(Set(after.oids).isDisjoint(with: before.oids), "made again after the links: \(before.oids) → \(after.oids)")
        let table = PostgresSchema.qualified(w.schema, "links")
        XCTAssertEqual(try db.connection.execute("SELECT string_agg(username || '=' || staff_id, ',' ORDER BY username) FROM \(table)").value(0, 0),
                       "u1=S1,u2=S2,u3=S3,u4=S4")

        // Both still hold.
        XCTAssertThrowsError(try db.connection.execute("""
            INSERT INTO \(table) (username, staff_id, kind, created_at, created_by) VALUES ('nobody', 'S5', 'manual', now(), 't')
            """)) { e in
            guard case .query(_, "23503", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try db.connection.execute("""
            INSERT INTO \(table) (username, staff_id, kind, created_at, created_by) VALUES ('U1', 'S5', 'manual', now(), 't')
            """)) { e in
            guard case .query(_, "23505", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }

        // One link more among four (a fifth of the table): row by row, the constraints
        // stay the same objects.
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u5", "--email", "user5@district.org"]).code, 0)
        let second = w.sync(c)
        XCTAssertEqual(second.summary.linksMade, 1, second.summary.error ?? "")
        XCTAssertEqual(try constraints(db, w, of: "links").oids, after.oids, "one link among five keeps the constraints")

        // Two of five unlinked (their staff members' emails changed in the SIS) and none
        // linked: the run inserts no link, so nothing is loaded in bulk, whatever the share
        // of changes (the rule once counted the unlinks, dropped and made the constraints
        // again, and held `links` and `users` exclusively for a run that added nothing).
        w.write("staff.csv", staffCSV(manyStaff(5).map { $0.0 == "S1" || $0.0 == "S2" ? ($0.0, $0.1, $0.2, "moved-" + $0.3) : $0 }))
        let third = w.sync(c)
        XCTAssertEqual(third.summary.outcome, .applied, third.summary.error ?? "")
        XCTAssertEqual(try db.connection.execute("SELECT string_agg(username, ',' ORDER BY username) FROM \(table)").value(0, 0), "u3,u4,u5")
        XCTAssertEqual(try constraints(db, w, of: "links").oids, after.oids, "unlinks alone keep the constraints")
    }

    /// A first import's records (at least `MirrorStore.bulkLoadMinimum` rows into an empty
    /// table) go in with the table's key and indexes made after them, as they were, and the
    /// key still holds; a later run keeps them, even one that adds most of the table (R9:
    /// the rebuild would hold the table, and readers of its rows would wait for the commit).
    func testAFirstImportsRecordsRemakeTheTablesKeyAndIndexAsTheyWere() throws {
        let w = try workspace()
        let c = w.configure()
        _ = try RosterStore(location: w.location)
        let db = try Workspace.rawPostgres(w)
        let staff = PostgresSchema.qualified(w.schema, "staff")
        func objects() throws -> [String] {
            try db.connection.execute("""
                SELECT c.relname || ' ' || c.oid::text || ' ' || pg_get_indexdef(c.oid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                WHERE x.indrelid = to_regclass($1) ORDER BY c.relname
                """, [staff]).rows.map { $0[0] ?? "" }
        }
        func definitions(_ o: [String]) -> [String] { o.map { $0.split(separator: " ", maxSplits: 2).enumerated().filter { $0.offset != 1 }.map(\.element).joined(separator: " ") } }
        let before = try objects()
        XCTAssertEqual(before.count, 3, "the key and two indexes (staff_by_email among them): \(before)")

        w.write("staff.csv", largeStaffCSV(MirrorStore.bulkLoadMinimum + 4))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let after = try objects()
        XCTAssertEqual(definitions(after), definitions(before), "the same names and definitions")
        XCTAssertTrue(Set(after).isDisjoint(with: before), "made again after the rows: \(before) → \(after)")
        XCTAssertThrowsError(try db.connection.execute("""
            INSERT INTO \(staff) (staff_id, first_name, last_name, email, active, added_run, updated_run, fingerprint)
            SELECT staff_id, first_name, last_name, email, active, added_run, updated_run, fingerprint FROM \(staff) LIMIT 1
            """)) { e in
            guard case .query(_, "23505", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }

        w.write("staff.csv", largeStaffCSV(MirrorStore.bulkLoadMinimum + 14))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(try objects(), after, "ten more among thousands keep them as they are")
        w.write("staff.csv", largeStaffCSV(4 * MirrorStore.bulkLoadMinimum))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(try objects(), after, "R9: most of the table added to rows readers can read keeps them as they are")
    }

    /// The session's temporary tables have 64 MB of buffers: a first run's desired roles
    /// and grants (some 35 MB in the synthetic district) stay in memory instead of going
    /// out to disk and back, as they did with the server's default of 8 MB.
    func testTheSessionKeepsItsTemporaryTablesInSixtyFourMegabytes() throws {
        let w = try workspace()
        w.configure()
        let db = try Workspace.rawPostgres(w)
        XCTAssertEqual(try db.connection.execute("SHOW temp_buffers").value(0, 0), "64MB")
    }

    private func calculatedCount(_ db: PostgresDatabase, _ w: Workspace) throws -> Int {
        Int(try db.connection.execute("SELECT count(*) FROM \(PostgresSchema.qualified(w.schema, "user_roles")) WHERE source = 'calculated'").value(0, 0) ?? "") ?? -1
    }

    /// Whether `user_roles`' reference to `users` was checked against the rows there were
    /// when it was made (`pg_constraint.convalidated`).
    private func rolesReferenceValidated(_ db: PostgresDatabase, _ w: Workspace, _ name: String = "user_roles_username_fkey") throws -> Bool {
        try db.connection.execute("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'f' AND conname = $2",
                                  [PostgresSchema.qualified(w.schema, "user_roles"), name]).value(0, 0) == "t"
    }

    /// Only sisync's own reference from `username` to `users` is left `NOT VALID` by the
    /// trusted first grants, and only it is made checked again by a later load: an
    /// application's reference on `user_roles` is made again as it was, checked if it was
    /// (the grants' reasoning says nothing of its rows), `NOT VALID` if it was so.
    func testTheFirstGrantsLeaveAnApplicationsReferencesOnUserRolesAsTheyWere() throws {
        let (w, c) = try schoolWithUsersWhoseRolesAreAllRecomputed()
        let db = try Workspace.rawPostgres(w)
        let schema = PostgresSchema.quoted(w.schema)
        try db.connection.executeScript("""
            CREATE TABLE \(schema).app_years (year text PRIMARY KEY);
            INSERT INTO \(schema).app_years VALUES (''), ('2025-2026'), ('2026-2027');
            ALTER TABLE \(schema).user_roles ADD CONSTRAINT app_year FOREIGN KEY (school_year) REFERENCES \(schema).app_years (year);
            ALTER TABLE \(schema).user_roles ADD CONSTRAINT app_year_loose FOREIGN KEY (school_year) REFERENCES \(schema).app_years (year) NOT VALID
            """)
        let first = w.sync(c)
        XCTAssertGreaterThan(first.summary.rolesGranted, 0, first.summary.error ?? "")
        XCTAssertFalse(try rolesReferenceValidated(db, w), "sisync's own reference: not read again")
        XCTAssertTrue(try rolesReferenceValidated(db, w, "app_year"), "an application's reference is checked as it was")
        XCTAssertFalse(try rolesReferenceValidated(db, w, "app_year_loose"))
        try db.transaction {
            try db.bulkLoading("user_roles", adding: 1_000_000) {}
        }
        XCTAssertTrue(try rolesReferenceValidated(db, w))
        XCTAssertTrue(try rolesReferenceValidated(db, w, "app_year"))
        XCTAssertFalse(try rolesReferenceValidated(db, w, "app_year_loose"), "an application's NOT VALID reference stays so")
    }

    /// A first run's grants into an empty `user_roles`, every username read in the one
    /// statement from `links`, `user_attachments` and `access_pairings`, whose references to
    /// `users` are in force, while the load holds `users`: the reference is made again
    /// `NOT VALID`, with no join of every grant with `users`, and is in force all the same
    /// (a role for no user fails; a user's deletion takes their roles). The next bulk load
    /// made without that knowledge checks every row again.
    func testFirstGrantsReadFromCheckedReferencesLeaveTheRolesReferenceNotValidAndInForce() throws {
        let (w, c) = try schoolWithUsersWhoseRolesAreAllRecomputed()
        let db = try Workspace.rawPostgres(w)
        XCTAssertTrue(try rolesReferenceValidated(db, w), "the records' run granted nothing: checked at no cost")
        let first = w.sync(c)
        XCTAssertGreaterThan(first.summary.rolesGranted, 0, first.summary.error ?? "")
        XCTAssertFalse(try rolesReferenceValidated(db, w), "not read again")

        let table = PostgresSchema.qualified(w.schema, "user_roles")
        XCTAssertThrowsError(try db.connection.execute("INSERT INTO \(table) (username, role, source) VALUES ('nobody', 'Staff', 'manual')")) { e in
            guard case .query(_, "23503", _, _, _)? = e as? PostgresError else { return XCTFail("\(e)") }
        }
        let holder = try XCTUnwrap(db.connection.execute(
            "SELECT min(r.username) FROM \(table) r WHERE NOT EXISTS (SELECT 1 FROM \(PostgresSchema.qualified(w.schema, "links")) l WHERE l.username = r.username)").value(0, 0))
        _ = try db.connection.execute("DELETE FROM \(PostgresSchema.qualified(w.schema, "users")) WHERE username = $1", [holder])
        XCTAssertEqual(try db.connection.execute("SELECT count(*) FROM \(table) WHERE username = $1", [holder]).value(0, 0), "0", "ON DELETE CASCADE")

        // A bulk load outside `trustingReferences` makes it again checked.
        try db.transaction {
            try db.bulkLoading("user_roles", adding: 1_000_000) {}
        }
        XCTAssertTrue(try rolesReferenceValidated(db, w), "checked whole by the next load made without that knowledge")
    }

    /// The first grants' reference is checked as before when what the statement writes is
    /// not known to hold: an application's trigger on `user_roles` (it may change the rows),
    /// or a table the rules read whose own reference to `users` is `NOT VALID` or does not
    /// check an ordinary session's rows (its triggers set to fire only for replication).
    /// (`access_pairings`: the run makes `links`' reference again, checked, before its grants.)
    func testFirstGrantsCheckTheRolesReferenceUnlessEveryUsernameIsKnownToBeAUsers() throws {
        let setups: [(String, (PostgresDatabase, Workspace) throws -> Void)] = [
            ("a trigger on user_roles", { db, w in
                let schema = PostgresSchema.quoted(w.schema)
                try db.connection.executeScript("""
                    CREATE FUNCTION \(schema).app_keep_role() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
                    CREATE TRIGGER app_audit BEFORE INSERT ON \(schema).user_roles FOR EACH ROW EXECUTE FUNCTION \(schema).app_keep_role()
                    """)
            }),
            ("access_pairings' reference's triggers firing only for replication", { db, w in
                let links = PostgresSchema.qualified(w.schema, "access_pairings")
                try db.connection.executeScript("""
                    DO $$ DECLARE t record; BEGIN
                      FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = '\(links)'::regclass AND tgisinternal LOOP
                        EXECUTE format('ALTER TABLE %s ENABLE REPLICA TRIGGER %I', '\(links)', t.tgname);
                      END LOOP;
                    END $$
                    """)
            }),
            ("access_pairings' reference not valid", { db, w in
                let pairings = PostgresSchema.qualified(w.schema, "access_pairings")
                try db.connection.executeScript("""
                    ALTER TABLE \(pairings) DROP CONSTRAINT access_pairings_username_fkey;
                    ALTER TABLE \(pairings) ADD CONSTRAINT access_pairings_username_fkey FOREIGN KEY (username) REFERENCES \(PostgresSchema.qualified(w.schema, "users"))(username) ON DELETE CASCADE NOT VALID
                    """)
            }),
        ]
        for (name, setup) in setups {
            let (w, c) = try schoolWithUsersWhoseRolesAreAllRecomputed()
            let db = try Workspace.rawPostgres(w)
            try setup(db, w)
            let first = w.sync(c)
            XCTAssertGreaterThan(first.summary.rolesGranted, 0, first.summary.error ?? "")
            XCTAssertTrue(try rolesReferenceValidated(db, w), name)
        }
    }

    /// A school whose records' run computed roles for another school year, and its users:
    /// the next run (the configuration returned) recomputes everyone and grants into an
    /// empty `user_roles`, as a district's first linking run does.
    private func schoolWithUsersWhoseRolesAreAllRecomputed() throws -> (Workspace, Configuration) {
        let w = try workspace()
        let earlier = w.configure(sync: "school_year = 2025-2026", entities: RolesTests.allEntities)
        RolesTests.writeSchool(w)
        XCTAssertEqual(w.sync(earlier).summary.outcome, .applied)
        RolesTests.addUsers(w)
        return (w, w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities))
    }

    /// Rows that break the key or the reference fail the load when the constraint is made
    /// again, as they would have on the row, and the transaction leaves the table and its
    /// constraints as they were.
    func testABulkLoadThatBreaksTheKeyOrTheReferenceFailsAndLeavesTheTableAsItWas() throws {
        let w = try workspace()
        w.configure()
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        let db = try Workspace.rawPostgres(w)
        let before = try constraints(db, w)
        for (rows, state) in [(["('ana', 'Staff')", "('ANA', 'Staff')"], "23505"), (["('ana', 'Staff')", "('nobody', 'Staff')"], "23503")] {
            XCTAssertThrowsError(try db.transaction {
                try db.bulkLoading("user_roles", adding: rows.count) {
                    try db.execute("INSERT INTO user_roles (username, role, source) VALUES \(rows.joined(separator: ", ").replacingOccurrences(of: "')", with: "', 'calculated')"))")
                }
            }) { e in
                guard case .query(_, state, _, _, let sql)? = e as? PostgresError else { return XCTFail("\(e)") }
                XCTAssertTrue(sql.hasPrefix("ALTER TABLE"), "failed where the constraint was made again: \(sql)")
            }
            XCTAssertEqual(try constraints(db, w).oids, before.oids, "rolled back to the constraints there were")
            XCTAssertEqual(try calculatedCount(db, w), 0)
        }
    }

    /// A dry first run plans its grants and writes none: a bulk load of `user_roles` would
    /// hold the table from readers for a run that rolls back. It lists the grants the real
    /// first run then writes.
    func testADryFirstRunPlansItsGrantsWithoutLoadingThem() throws {
        try dryAndFirstRunGrantTheSame(try workspace())
    }

    /// The same in a database whose default collation is ICU's `en-US`, where `iep` sorts
    /// before `Student`: the staged plan's list (a dry run) sorts roles by their bytes, as
    /// the first run's grants read from `user_roles` (whose text is `"C"`) and SQLite do.
    func testADryFirstRunListsItsGrantsAsTheRunDoesWhateverTheClustersLocale() throws {
        let pg = try TestPostgresServer.shared()
        let admin = try PostgresConnection(uri: pg.uri(), password: TestPostgresServer.password, applicationName: "sisync-tests")
        if try admin.execute("SELECT 1 FROM pg_database WHERE datname = 'sisync_icu'").rowCount == 0 {
            try admin.execute("CREATE DATABASE sisync_icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
        }
        let w = try workspace()
        w.postgresDatabase = "sisync_icu"
        try dryAndFirstRunGrantTheSame(w, extraAttribute: "student,ST1,iep,")
    }

    /// Whether a first run's grants make `user_roles`' key and reference again (holding
    /// readers, R9) is judged by the roles granted, each once, not by the rows the rules
    /// wrote: kim's `Honor Roll (2026-2027)` comes from her student and from her household.
    /// With manual roles just over three times the grants, the grants are under a quarter
    /// of the table, so the key and reference stay as they were, although the rules' rows
    /// alone (one more than the grants) would have been a quarter.
    func testR9AFirstRunsGrantsUnderAQuarterOfTheTableCountedOnceEachKeepTheRolesKey() throws {
        let (w, c) = try schoolWhereKimsHonorRollComesTwice()
        let grants = w.sync(c, dryRun: true).summary.rolesGranted
        XCTAssertGreaterThan(grants, 0)
        let db = try Workspace.rawPostgres(w)
        try db.run("""
            INSERT INTO user_roles (username, role, source) SELECT 'ana', 'Manual ' || n, 'manual' FROM generate_series(1, \(3 * grants + 1)) n
            """)
        let before = try constraints(db, w)
        let first = w.sync(c)
        XCTAssertEqual(first.summary.rolesGranted, grants, first.summary.error ?? "")
        XCTAssertEqual(try constraints(db, w).oids, before.oids, "the key and reference were kept, not made again")
    }

    /// The school with users, where kim's `Honor Roll (2026-2027)` comes from her student
    /// and from her household (H1), after a run that computed roles for another school
    /// year, so that the run with users recomputes everyone, as a district's first does.
    /// Returns the workspace and the current year's configuration.
    private func schoolWhereKimsHonorRollComesTwice() throws -> (Workspace, Configuration) {
        let w = try workspace()
        let earlier = w.configure(sync: "school_year = 2025-2026", entities: RolesTests.allEntities)
        RolesTests.writeSchool(w)
        w.write("attributes.csv", """
            record_type,record_id,attribute,school_year
            student,ST1,Honor Roll,2026-2027
            household,H1,Honor Roll,2026-2027
            household,H1,Volunteer,

            """)
        XCTAssertEqual(w.sync(earlier).summary.outcome, .applied)
        RolesTests.addUsers(w)
        XCTAssertEqual(w.ctl(["user", "attach", "kim", "--household", "H1"]).code, 0)
        return (w, w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities))
    }

    private func dryAndFirstRunGrantTheSame(_ w: Workspace, extraAttribute: String? = nil) throws {
        // The records' run computed roles for another school year, so that the run with
        // users recomputes everyone, as a district's first linking run does.
        let earlier = w.configure(sync: "school_year = 2025-2026", entities: RolesTests.allEntities)
        RolesTests.writeSchool(w)
        if let extraAttribute {
            let path = w.exportDir + "/attributes.csv"
            var text = try String(contentsOfFile: path, encoding: .utf8)
            if !text.hasSuffix("\n") { text += "\n" }
            try (text + extraAttribute + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        XCTAssertEqual(w.sync(earlier).summary.outcome, .applied)
        RolesTests.addUsers(w)
        let c = w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        let dry = w.sync(c, dryRun: true)
        XCTAssertEqual(dry.plan?.roles.grantsStored, false, "planned, not written")
        XCTAssertGreaterThan(dry.summary.rolesGranted, 0, dry.summary.error ?? "")
        let first = w.sync(c)
        XCTAssertEqual(first.plan?.roles.grantsStored, true, "the run writes them")
        XCTAssertEqual(dry.plan?.roles.granted, first.plan?.roles.granted)
        XCTAssertEqual(dry.summary.rolesGranted, first.summary.rolesGranted)
    }

    /// A full recompute's rules join as each says (`RoleRules.Statement.joins`): the
    /// Student rule merged along its tables' keys' indexes, and the planner's
    /// settings back as they were after each; and PostgreSQL's Parent rule looks at each
    /// attached household in turn through the relationships' key, so that its first
    /// qualifying child answers for it. On tables of a district's shape the planner alone
    /// hashes all of them (checked first, so that the test tells the two apart).
    func testAFullRecomputesRulesJoinAsEachRuleSays() throws {
        let w = try workspace()
        w.configure()
        let db = try Workspace.rawPostgres(w)
        try db.execute("""
            INSERT INTO users (username, email, created_at) SELECT 'u' || n, 'u' || n || '@district.org', now() FROM generate_series(1, 30000) n;
            INSERT INTO students (student_id, enrollment_status, school_year, added_run, updated_run, fingerprint)
              SELECT 's' || n, 'Enrolled', '2026-2027', 1, 1, 0 FROM generate_series(1, 40000) n;
            INSERT INTO household_relationships (household_id, record_type, record_id, relationship, added_run, updated_run, fingerprint)
              SELECT 'h' || (n % 15000), 'student', 's' || n, 'Parent', 1, 1, 0 FROM generate_series(1, 40000) n;
            INSERT INTO attributes (record_type, record_id, attribute, school_year, added_run, updated_run, fingerprint)
              SELECT 'student', 's' || n, 'Honor Roll', '2026-2027', 1, 1, 0 FROM generate_series(1, 40000) n;
            INSERT INTO user_attachments (username, kind, record_id) SELECT 'u' || n, 'student', 's' || n FROM generate_series(1, 15000) n;
            INSERT INTO user_attachments (username, kind, record_id) SELECT 'u' || n, 'household', 'h' || (n - 15000) FROM generate_series(15001, 30000) n;
            ANALYZE users; ANALYZE students; ANALYZE household_relationships; ANALYZE attributes; ANALYZE user_attachments;
            CREATE TEMP TABLE desired_roles (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL, seq bigint GENERATED BY DEFAULT AS IDENTITY);
            CREATE TEMP TABLE evaluator_staff (staff_id TEXT NOT NULL PRIMARY KEY);
            """)
        func plan(_ sql: SQLQuery) throws -> String {
            var lines: [String] = []
            try db.forEachRow("EXPLAIN \(sql: sql)") { lines.append($0.text(0)) }
            return lines.joined(separator: "\n")
        }
        func settings() throws -> [String?] {
            try ["enable_hashjoin", "enable_mergejoin"].map { try db.connection.execute("SHOW \($0)").value(0, 0) }
        }
        let rules = RoleRules.statements(scoped: false, schoolYear: "2026-2027", parentRelationships: #"["parent"]"#, householdsOneByOne: true)
        XCTAssertEqual(rules.filter { $0.joins == .inKeyOrder }.count, 1, "Student")
        for rule in rules where rule.joins == .inKeyOrder {
            let planned = try plan(rule.sql)
            XCTAssertTrue(planned.contains("Hash Join"), "the planner alone hashes: \(planned)")
            let joined = try rule.withJoins(on: db, scoped: false) { try plan(rule.sql) }
            XCTAssertTrue(joined.contains("Merge Join"), joined)
            XCTAssertFalse(joined.contains("Hash Join"), joined)
            XCTAssertEqual(try settings(), ["on", "on"], "the planner's settings as they were")
            // A recompute for a few users keeps the plan it is given.
            XCTAssertEqual(try rule.withJoins(on: db, scoped: true) { try plan(rule.sql) }, planned)
        }

        func parentRule(_ statements: [RoleRules.Statement]) throws -> SQLQuery {
            let found = statements.filter { $0.sql.sql.contains("'Parent'") && $0.sql.sql.contains("household_relationships") }
            XCTAssertEqual(found.count, 1)
            return try XCTUnwrap(found.first).sql
        }
        let asked = try plan(try parentRule(RoleRules.statements(scoped: false, schoolYear: "2026-2027", parentRelationships: #"["parent"]"#)))
        XCTAssertTrue(asked.contains("Seq Scan on household_relationships") && asked.contains("Hash"), "EXISTS: every relationship at once: \(asked)")
        let oneByOne = try plan(try parentRule(rules))
        XCTAssertTrue(oneByOne.contains("SubPlan") && oneByOne.contains("Limit"), oneByOne)
        XCTAssertTrue(oneByOne.contains("Index Scan using household_relationships_pkey"), oneByOne)
        XCTAssertFalse(oneByOne.contains("Seq Scan on household_relationships") || oneByOne.contains("hashed SubPlan"), oneByOne)
    }

    /// A COPY row the server refuses, far into the stream (after several 64 KiB chunks have
    /// gone), is a typed error with the server's SQLSTATE and the statement, the
    /// transaction rolls back with the rows written before it, and the session goes on.
    func testACopyRowTheServerRefusesIsATypedErrorAndTheTransactionWritesNothing() throws {
        let w = try workspace()
        w.configure()
        let db = try Workspace.rawPostgres(w)
        try db.execute("CREATE TABLE copied (n integer NOT NULL, t text NOT NULL)")
        XCTAssertThrowsError(try db.transaction {
            try db.execute("INSERT INTO copied (n, t) VALUES (0, 'before the copy')")
            try db.insertRows(into: "copied", columns: ["n", "t"]) { rows in
                for i in 1...50_000 {
                    try rows.add(i == 40_000 ? "forty thousand" : String(i))
                    try rows.add(String(repeating: "x", count: 20)); try rows.endRow()
                }
            }
        }) { e in
            guard case .query(_, "22P02", let message, _, let sql)? = e as? PostgresError else { return XCTFail("\(e)") }
            XCTAssertTrue(sql.hasPrefix("COPY copied (n, t) FROM STDIN"), sql)
            XCTAssertTrue(message.contains("forty thousand"), message)
        }
        XCTAssertEqual(try db.connection.execute("SELECT count(*) FROM copied").value(0, 0), "0", "nothing half-written")
        try db.transaction { try db.insertRows(into: "copied", columns: ["n", "t"]) { rows in try rows.add("1"); try rows.add("after"); try rows.endRow() } }
        XCTAssertEqual(try db.connection.execute("SELECT t FROM copied").rows, [["after"]], "the session goes on")
    }

    /// A writer that stops in the middle of a COPY (a daemon told to stop): its own error
    /// comes out, not the server's, the copy is ended and rolled back, and the session is
    /// out of COPY mode for the next statement.
    func testACopyItsWriterStopsRollsBackAndTheSessionGoesOn() throws {
        let w = try workspace()
        w.configure()
        let db = try Workspace.rawPostgres(w)
        try db.execute("CREATE TABLE copied (n integer NOT NULL)")
        XCTAssertThrowsError(try db.transaction {
            try db.insertRows(into: "copied", columns: ["n"]) { rows in
                for i in 1...100_000 {
                    if i == 30_000 { throw StoreError.interrupted }
                    try rows.add(String(i)); try rows.endRow()
                }
            }
        }) { e in
            XCTAssertEqual(e as? StoreError, .interrupted, "\(e)")
        }
        XCTAssertEqual(try db.connection.execute("SELECT count(*) FROM copied").value(0, 0), "0")
        XCTAssertEqual(try db.connection.execute("SELECT 1").value(0, 0), "1", "out of COPY mode")
    }

    /// The first grants' dedupe sorts the usernames by their bytes only when every desired
    /// username is made of `0`-`9` and `a`-`z`, which the server's `nocase` collation orders,
    /// and tells apart, as their bytes (checked here over every such string of up to two
    /// characters); it then keeps the same rows in the same order as the collation's sort.
    /// A capital, a dot, a space or an accent anywhere keeps the collation's sort, so that
    /// two spellings of one user stay one role, the first desired.
    func testFirstGrantsSortPlainUsernamesByTheirBytesAndAnyOtherThroughTheCollation() throws {
        let w = try workspace()
        w.configure()
        let raw = try Workspace.rawPostgres(w)
        let icu = try raw.connection.execute("""
            WITH c AS (SELECT chr(n) AS ch FROM generate_series(48, 57) n UNION ALL SELECT chr(n) FROM generate_series(97, 122) n),
            s AS (SELECT ch COLLATE nocase AS t FROM c UNION ALL SELECT (a.ch || b.ch) COLLATE nocase FROM c a, c b)
            SELECT convert_to((SELECT string_agg(t, ',' ORDER BY t) FROM s), 'UTF8') = convert_to((SELECT string_agg(t, ',' ORDER BY t COLLATE "C") FROM s), 'UTF8'),
                   (SELECT count(DISTINCT t) FROM s) = (SELECT count(*) FROM s)
            """).rows
        XCTAssertEqual(icu.first, ["t", "t"], "plain usernames: ICU's order and equality are their bytes'")

        let store = try w.store()
        let db = store.database
        try db.execute("""
            CREATE TEMP TABLE desired_roles (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL COLLATE BINARY, school_year TEXT NOT NULL COLLATE BINARY,
              seq bigint GENERATED BY DEFAULT AS IDENTITY);
            INSERT INTO temp.desired_roles (username, role, school_year) VALUES ('st2', 'Student', ''), ('st10', 'Student', ''),
              ('family1', 'Parent', ''), ('st10', 'Honor Roll', '2026-2027'), ('st2', 'Student', ''), ('family1', 'Applicant', ''), ('st1', 'Student', '');
            """)
        func rows(_ sql: String) throws -> [String] {
            var found: [String] = []
            try db.forEachRow("\(unescaped: sql)") { found.append("\($0.text(0)) \($0.text(1)) \($0.text(2))") }
            return found
        }
        func plan(_ sql: String) throws -> String {
            var lines: [String] = []
            try db.forEachRow("EXPLAIN \(unescaped: sql)") { lines.append($0.text(0)) }
            return lines.joined(separator: "\n")
        }
        let byBytes = store.roles.grantsSQL(anyGranted: false, usernamesByTheirBytes: true)
        let collated = store.roles.grantsSQL(anyGranted: false)
        XCTAssertTrue(try store.roles.desiredUsernamesSortByTheirBytes())
        XCTAssertEqual(try rows(byBytes), ["family1 Applicant ", "family1 Parent ", "st1 Student ", "st10 Honor Roll 2026-2027", "st10 Student ", "st2 Student "])
        XCTAssertEqual(try rows(byBytes), try rows(collated))
        let sortedByBytes = try plan(byBytes), sortedCollated = try plan(collated)
        XCTAssertTrue(sortedByBytes.contains(#"username COLLATE "C""#), sortedByBytes)
        XCTAssertFalse(sortedCollated.contains(#"username COLLATE "C""#), sortedCollated)

        for other in ["Kim", "kim.lee", "kim lee", "kim_lee", "kim-lee", "zoë"] {
            try db.run("INSERT INTO temp.desired_roles (username, role, school_year) VALUES (\(other), 'Staff', '')")
            XCTAssertFalse(try store.roles.desiredUsernamesSortByTheirBytes(), other)
            try db.run("DELETE FROM temp.desired_roles WHERE username COLLATE BINARY = \(other)")
        }
        try db.execute("INSERT INTO temp.desired_roles (username, role, school_year) VALUES ('Kim', 'Staff', ''), ('kim', 'Staff', ''), ('KIM', 'Staff', '')")
        XCTAssertFalse(try store.roles.desiredUsernamesSortByTheirBytes())
        XCTAssertEqual(try rows(collated).filter { $0.lowercased().hasPrefix("kim ") }, ["Kim Staff "], "one role, the first spelling")
    }

    /// A first run's grants into an empty `user_roles`, every username plain: read once
    /// from the rules (`RoleRules.everyRole`) into the table, nothing staged in
    /// `temp.desired_roles`, and the same rows (username, role, source, school year, run)
    /// as the staged path writes, whose dedupe keeps the first row of each role. kim's
    /// `Honor Roll (2026-2027)` comes from her student and her household, and mom is a
    /// Parent through her household and through a pairing: each is one grant either way.
    func testFirstGrantsOfPlainUsernamesIntoAnEmptyTableAreTheStagedOnesWithoutStaging() throws {
        let (w, c) = try schoolWhereKimsHonorRollComesTwice()
        let settings = RoleSettings(schoolYear: "2026-2027", parentRelationships: c.parentRelationships)
        let store = try w.store()
        let db = store.database
        try db.execute("INSERT INTO access_pairings (username, student_id, paired_at) VALUES ('mom', 'ST1', '2026-09-01T00:00:00Z')")
        func grants() throws -> [String] {
            var rows: [String] = []
            try db.forEachRow("""
                SELECT username, role, source, school_year, granted_run FROM user_roles WHERE source = 'calculated'
                ORDER BY username COLLATE BINARY, role COLLATE BINARY, school_year COLLATE BINARY
                """) { rows.append("\($0.text(0)) \($0.text(1)) \($0.text(2)) \($0.text(3)) \($0.text(4))") }
            return rows
        }
        func staged() throws -> Int { try db.int("SELECT count(*) FROM temp.desired_roles") ?? -1 }

        let (unstaged, plan, stagedRows) = try db.transaction(commit: false) {
            XCTAssertTrue(try store.roles.ruleUsernamesSortByTheirBytes())
            let plan = try store.roles.planRoles(settings, grantingRun: 7)
            return (try grants(), plan, try staged())
        }
        XCTAssertTrue(plan.grantsStored)
        XCTAssertEqual(stagedRows, 0, "nothing staged")
        XCTAssertEqual(plan.grantedCount, unstaged.count)
        XCTAssertEqual(unstaged.filter { $0.hasPrefix("kim Honor Roll ") }, ["kim Honor Roll calculated 2026-2027 7"])
        XCTAssertEqual(unstaged.filter { $0.hasPrefix("mom Parent ") }, ["mom Parent calculated  7"])

        // A manual role in the table: the staged path, with the same grants.
        let (withStaging, stagedPlan, stagedCount) = try db.transaction(commit: false) {
            try db.run("INSERT INTO user_roles (username, role, source) VALUES ('ana', 'Finance', 'manual')")
            let plan = try store.roles.planRoles(settings, grantingRun: 7)
            return (try grants(), plan, try staged())
        }
        XCTAssertTrue(stagedPlan.grantsStored)
        XCTAssertGreaterThan(stagedCount, unstaged.count, "staged: a row for each role each rule found")
        XCTAssertEqual(unstaged, withStaging)
        XCTAssertEqual(plan.granted, stagedPlan.granted)
        XCTAssertEqual(plan.grantedCount, stagedPlan.grantedCount)
    }

    /// Whether the rules' usernames are plain is asked of every table a rule reads them
    /// from: one capital, dot or accent in any of `user_attachments`, `links` and
    /// `access_pairings` keeps the first grants staged (and sorted through the collation).
    func testFirstGrantsAreStagedWhenAnyTableTheRulesReadHasAUsernameThatIsNotPlain() throws {
        let w = try workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        RolesTests.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        RolesTests.addUsers(w)
        let store = try w.store()
        let db = store.database
        XCTAssertTrue(try store.roles.ruleUsernamesSortByTheirBytes())
        let spellings: [SQLQuery] = [
            "INSERT INTO user_attachments (username, kind, record_id) VALUES ('Kim', 'student', 'ST2')",
            "INSERT INTO links (username, staff_id, kind, created_at, created_by) VALUES ('Cleo', 'S2', 'manual', '2026-09-01T00:00:00Z', 'test')",
            "INSERT INTO access_pairings (username, student_id, paired_at) VALUES ('LEE', 'ST1', '2026-09-01T00:00:00Z')",
        ]
        for spelling in spellings {
            try db.transaction(commit: false) {
                try db.run(spelling)
                XCTAssertFalse(try store.roles.ruleUsernamesSortByTheirBytes(), spelling.sql)
                let plan = try store.roles.planRoles(RoleSettings(schoolYear: "2026-2027", parentRelationships: c.parentRelationships), grantingRun: 7)
                XCTAssertTrue(plan.grantsStored)
                XCTAssertGreaterThan(try db.int("SELECT count(*) FROM temp.desired_roles") ?? 0, 0, "staged: \(spelling.sql)")
            }
        }
    }

    /// PostgreSQL's Parent rule, asking each household in turn, reads the relationship
    /// names once (an InitPlan's array), not in a semi-join of each household's own; and
    /// finds the same parents as the rule asked of every household at once.
    func testTheParentRuleReadsTheRelationshipNamesOnceAndFindsTheSameParents() throws {
        let w = try workspace()
        w.configure()
        let db = try Workspace.rawPostgres(w)
        try db.execute("""
            INSERT INTO users (username, email, created_at) VALUES ('mom', 'mom@home.org', now()), ('aunt', 'aunt@home.org', now()), ('dad', 'dad@home.org', now());
            INSERT INTO students (student_id, enrollment_status, school_year, added_run, updated_run, fingerprint)
              VALUES ('s1', 'Enrolled', '2026-2027', 1, 1, 0), ('s2', 'Withdrawn', '2026-2027', 1, 1, 0);
            INSERT INTO household_relationships (household_id, record_type, record_id, relationship, added_run, updated_run, fingerprint)
              VALUES ('h1', 'student', 's1', 'Guardian', 1, 1, 0), ('h2', 'student', 's1', 'Aunt', 1, 1, 0), ('h3', 'student', 's2', 'Parent', 1, 1, 0);
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('mom', 'household', 'h1'), ('aunt', 'household', 'h2'), ('dad', 'household', 'h3');
            CREATE TEMP TABLE desired_roles (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL, seq bigint GENERATED BY DEFAULT AS IDENTITY);
            CREATE TEMP TABLE evaluator_staff (staff_id TEXT NOT NULL PRIMARY KEY);
            """)
        func parentRule(oneByOne: Bool) throws -> SQLQuery {
            let found = RoleRules.statements(scoped: false, schoolYear: "2026-2027", parentRelationships: #"["parent","guardian"]"#, householdsOneByOne: oneByOne)
                .filter { $0.sql.sql.contains("'Parent'") && $0.sql.sql.contains("household_relationships") }
            XCTAssertEqual(found.count, 1)
            return try XCTUnwrap(found.first).sql
        }
        var lines: [String] = []
        try db.forEachRow("EXPLAIN \(sql: try parentRule(oneByOne: true))") { lines.append($0.text(0)) }
        let plan = lines.joined(separator: "\n")
        XCTAssertTrue(plan.contains("InitPlan"), plan)
        XCTAssertFalse(plan.contains("json_array_elements_text") && plan.contains("Semi Join"), plan)
        func parents(oneByOne: Bool) throws -> [String] {
            try db.execute("DELETE FROM temp.desired_roles")
            try db.run(try parentRule(oneByOne: oneByOne))
            var found: [String] = []
            try db.forEachRow("SELECT username FROM temp.desired_roles ORDER BY username COLLATE BINARY") { found.append($0.text(0)) }
            return found
        }
        XCTAssertEqual(try parents(oneByOne: true), ["mom"])
        XCTAssertEqual(try parents(oneByOne: true), try parents(oneByOne: false))
    }

}
