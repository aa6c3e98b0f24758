import Foundation

/// The calculated roles (R7), recomputed on every run from the records and links, and the
/// basis they were last computed from. It owns `user_roles`' calculated rows and `role_basis`.
public final class RoleStore {
    let database: any StoreDatabase
    let events: EventStore

    init(database: any StoreDatabase, events: EventStore) {
        self.database = database
        self.events = events
    }

    /// Above this many changed inputs a full recompute is cheaper than finding the users.
    static let incrementalLimit = 50_000

    /// Plans R7 against the database as it is now (inside the run's transaction, after the
    /// records and links were written): the calculated roles to grant and to revoke.
    /// With `changes`, and when the school year, parent relationships and rules are those of
    /// the last computation, only users whose inputs changed (this run's records and links,
    /// and administrators' changes since) are recomputed; otherwise every user is. Both give
    /// the same result (tested).
    /// `grantingRun` is the run this plan is for, when one is: a full recompute while no
    /// calculated role is stored yet (a district's first run) then writes its grants at
    /// once (`grantEveryDesiredRole`; PostgreSQL: `grantEachDesiredRoleOnce`), and
    /// `applyRoles` has only their events left to write.
    func planRoles(_ settings: RoleSettings, changes: RoleInputChanges? = nil, onlyUsers: [String]? = nil, grantingRun: Int64? = nil) throws -> RolePlan {
        let relationships = settings.relationshipsKey
        try database.execute("""
            \(keepsDesiredRolesUnkeyed ? Self.unkeyedDesiredRoles : Self.keyedDesiredRoles);
            CREATE TEMP TABLE IF NOT EXISTS dirty_users (username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS evaluator_staff (staff_id TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
            DELETE FROM temp.evaluator_staff;
            DELETE FROM temp.desired_roles;
            DELETE FROM temp.dirty_users;
            """)
        var scoped = false
        if let onlyUsers {
            // A refresh for a few users (a pairing made now), whatever the last run saw.
            scoped = true
            for u in onlyUsers { try database.run("INSERT INTO temp.dirty_users (username) VALUES (\(u)) ON CONFLICT DO NOTHING") }
            try database.refreshStatistics(["temp.dirty_users"])
        } else if let changes, !changes.exceedsLimit, changes.count <= Self.incrementalLimit, let basis = try roleBasis(),
           basis.schoolYear == settings.schoolYear, basis.parentRelationships == relationships, basis.rulesVersion == RoleRules.version {
            // After a user import (one change row per user and attachment) recomputing
            // everyone is cheaper than finding who is dirty and joining from them.
            let administered = try database.int("SELECT count(*) FROM changes WHERE change_id > \(basis.lastChangeID) AND run_id IS NULL") ?? 0
            if administered > Self.incrementalLimit { return try computeRoles(settings, scoped: false, grantingRun: grantingRun) }
            try markDirtyUsers(changes, sinceChange: basis.lastChangeID)
            let dirty = try database.int("SELECT count(*) FROM temp.dirty_users") ?? 0
            if dirty == 0 { return RolePlan() }
            if dirty > Self.incrementalLimit { return try computeRoles(settings, scoped: false, grantingRun: grantingRun) }
            // A scoped recompute starts from the users whose inputs changed and joins by
            // username. (Finding them joins by record ids, where hashing is cheap.)
            return try database.preferringIndexLookups { try computeRoles(settings, scoped: true, grantingRun: nil) }
        }
        return try computeRoles(settings, scoped: scoped, grantingRun: grantingRun)
    }

    /// `temp.desired_roles` as SQLite keeps it: the key makes each role once (the rules'
    /// `ON CONFLICT DO NOTHING` keeps the first).
    private static let keyedDesiredRoles = """
        CREATE TEMP TABLE IF NOT EXISTS desired_roles (
          username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL,
          PRIMARY KEY (username, role, school_year)) WITHOUT ROWID
        """

    /// `temp.desired_roles` as PostgreSQL keeps it: without a key, each row numbered in the
    /// order the rules wrote it (`seq`), the first of each role picked when the grants are
    /// (`grantsSQL`). Roles sort by their bytes (`COLLATE BINARY`, PostgreSQL's "C"), as
    /// `user_roles` and SQLite sort them, whatever the cluster's locale: a staged plan and
    /// a first run's grants read from `user_roles` list them, and number their events, alike. A key on a `nocase` username costs some twenty ICU comparisons a row:
    /// the first run's 294,716 desired roles took three times as long to write with it.
    private static let unkeyedDesiredRoles = """
        CREATE TEMP TABLE IF NOT EXISTS desired_roles (
          username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL COLLATE BINARY, school_year TEXT NOT NULL COLLATE BINARY,
          seq bigint GENERATED BY DEFAULT AS IDENTITY)
        """

    private var keepsDesiredRolesUnkeyed: Bool { database is PostgresDatabase }

    /// How the grants are read into `user_roles`: in key order for SQLite, whose b-tree
    /// takes them fastest so. On PostgreSQL `temp.role_grants` was filled in key order
    /// (`grantsSQL`) and a heap keeps the order rows came in, so sorting again only compared
    /// every username through ICU once more (a tenth of a second of CPU on a first run's
    /// 294,716 grants); the key, when a first run makes it again, is still built from rows
    /// already in its order.
    private var grantsInKeyOrder: String {
        keepsDesiredRolesUnkeyed ? "" : "ORDER BY x.username COLLATE NOCASE, x.role, x.school_year"
    }

    /// The roles to grant, in key order, each once: on PostgreSQL the first of the rows
    /// `desired_roles` holds for it (the one SQLite's key kept). On PostgreSQL, when no
    /// calculated role is granted yet (a first run), every desired role is missing and
    /// none is looked for: its planner, which sees an empty `user_roles`, would otherwise
    /// scan it once for each of the 300,000 desired roles (a fifth of the statement's CPU).
    /// `usernamesByTheirBytes` (PostgreSQL, when `desiredUsernamesSortByTheirBytes`) sorts
    /// and compares the usernames by their bytes: for such usernames the same order and the
    /// same roles as the `nocase` collation gives, without ICU.
    func grantsSQL(anyGranted: Bool, usernamesByTheirBytes: Bool = false) -> String {
        let username = usernamesByTheirBytes ? "d.username COLLATE BINARY" : "d.username"
        let missing = """
            NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.username = d.username AND r.source = 'calculated'
                              AND r.role = d.role AND r.school_year = d.school_year)
            """
        return keepsDesiredRolesUnkeyed ? """
            SELECT DISTINCT ON (\(username), d.role, d.school_year) d.username, d.role, d.school_year FROM temp.desired_roles d
            WHERE \(anyGranted ? missing : "TRUE")
            ORDER BY \(username), d.role, d.school_year, d.seq
            """ : """
            SELECT d.username, d.role, d.school_year FROM temp.desired_roles d
            WHERE \(missing)
            ORDER BY d.username COLLATE NOCASE, d.role, d.school_year
            """
    }

    private func computeRoles(_ settings: RoleSettings, scoped: Bool, grantingRun: Int64?) throws -> RolePlan {
        try collectEvaluators()
        if !scoped, let run = grantingRun, !keepsDesiredRolesUnkeyed, try !hasCalculatedRoles() {
            return try grantEveryDesiredRole(settings, run: run)
        }
        if !scoped, let run = grantingRun, keepsDesiredRolesUnkeyed, try rolesTableIsEmpty(), try ruleUsernamesSortByTheirBytes() {
            return try grantEveryRuleRoleOnceUnstaged(settings, run: run)
        }
        for statement in RoleRules.statements(scoped: scoped, schoolYear: settings.schoolYear, parentRelationships: settings.relationshipsKey,
                                              householdsOneByOne: keepsDesiredRolesUnkeyed) {
            try statement.run(on: database, scoped: scoped)
        }
        let anyGranted = try !keepsDesiredRolesUnkeyed || hasCalculatedRoles()
        if !scoped, let run = grantingRun, !anyGranted { return try grantEachDesiredRoleOnce(run: run) }
        // The statistics are for the joins of `desired_roles` with the roles granted; with
        // none granted yet there are none to plan (a first run's ANALYZE sorted a sample
        // of 30,000 usernames through ICU for nothing).
        if anyGranted { try database.refreshStatistics(["temp.desired_roles", "temp.evaluator_staff"]) }
        let users = scoped ? "AND d.username IN (SELECT username FROM temp.dirty_users)" : ""
        let grants = grantsSQL(anyGranted: anyGranted)
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS role_grants (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL COLLATE BINARY, school_year TEXT NOT NULL COLLATE BINARY);
            CREATE TEMP TABLE IF NOT EXISTS role_revokes (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL COLLATE BINARY, school_year TEXT NOT NULL COLLATE BINARY);
            DELETE FROM temp.role_grants;
            DELETE FROM temp.role_revokes;
            INSERT INTO temp.role_grants
            \(grants);
            INSERT INTO temp.role_revokes
            SELECT d.username, d.role, d.school_year FROM user_roles d
            WHERE d.source = 'calculated' \(users) AND NOT EXISTS (
              SELECT 1 FROM temp.desired_roles w WHERE w.username = d.username AND w.role = d.role AND w.school_year = d.school_year)
            ORDER BY d.username COLLATE NOCASE, d.role, d.school_year;
            """)
        var plan = RolePlan()
        for (table, isGrant) in [("role_grants", true), ("role_revokes", false)] {
            let count = try database.int("SELECT count(*) FROM temp.\(unescaped: table)") ?? 0
            var roles: [CalculatedRole] = []
            try database.forEachRow("SELECT username, role, school_year FROM temp.\(unescaped: table) ORDER BY username COLLATE NOCASE, role, school_year LIMIT \(RolePlan.listed)") {
                roles.append(CalculatedRole(username: $0.text(0), role: $0.text(1), schoolYear: $0.text(2)))
            }
            if isGrant { plan.granted = roles; plan.grantedCount = count } else { plan.revoked = roles; plan.revokedCount = count }
        }
        return plan
    }

    /// Fills `temp.evaluator_staff` (empty) with the staff the applicants name, each once
    /// (`EvaluatorNames`), for the Admissions Evaluator rule. The lists are split
    /// here: split in SQL (a recursive `WITH` of `substr` and `instr`), a district's 22,500
    /// lists took 0.72 billion instructions of SQLite's (0.12 s of CPU), against 0.25 billion
    /// read, split and written so; on PostgreSQL 288 ms of the server's against 70 ms (one
    /// run each, load 6). (Every recompute reads every list: scoped ones too.)
    private func collectEvaluators() throws {
        var named = EvaluatorNames()
        try database.forEachRow(RoleRules.evaluatorLists) { row in row.withText(0) { named.add(list: $0) } }
        guard !named.isEmpty else { return }
        try database.insertRows(into: "temp.evaluator_staff", columns: ["staff_id"]) { rows in
            try named.forEachOnce { id in
                try rows.add(utf8: id)
                try rows.endRow()
            }
        }
    }

    /// A full recompute with no calculated role stored: each desired role is a grant and
    /// nothing is revoked, so the rules write straight into `user_roles` as grants of `run`,
    /// each kept once by the table's key as `temp.desired_roles`' key would keep it. A
    /// district's first run grants 294,716 roles: staged, each went into
    /// `temp.desired_roles`, was copied to `temp.role_grants`, sorted and inserted again:
    /// written once instead, the run took 1.21 s instead of 1.55 s. The rules' rows are
    /// merged in the key's order by one statement (`RoleRules.firstGrants`), so that each
    /// grant is added at the end of the table's b-tree. SQLite only: PostgreSQL keeps its
    /// desired roles unkeyed and loads each once with `user_roles`' key and reference
    /// dropped (`grantEachDesiredRoleOnce`), which a key the rules must write through
    /// would not allow.
    private func grantEveryDesiredRole(_ settings: RoleSettings, run: Int64) throws -> RolePlan {
        // Each rule's username comes from a row that refers to its user (R7's inputs).
        // With none stored before, the roles the statement adds are every calculated one
        // there is: counted as they are added, not by reading them all again.
        // (An application's trigger on `user_roles` could write elsewhere, or drop a grant:
        // then every reference is checked, as a later run's are.)
        // Without such a trigger the rows' `CHECK`s are not evaluated either: each grant's
        // source is the constant `'calculated'`.
        let triggered = try database.hasTriggers(on: ["user_roles"])
        let grant: () throws -> Int = { [database] in
            try database.run(RoleRules.firstGrants(schoolYear: settings.schoolYear, parentRelationships: settings.relationshipsKey, run: run,
                                                   failingInPlace: !triggered))
            return database.changes
        }
        // Every stored role is then one of these grants until their events are read
        // (`applyRoles`), unless an application's trigger on any table (`changes`, written
        // in between; `events`, written while they are read) adds a role of its own.
        let wasEmpty = try !triggered && rolesTableIsEmpty()
            && database.int("SELECT count(*) FROM (SELECT 1 FROM sqlite_master WHERE type = 'trigger' UNION ALL SELECT 1 FROM sqlite_temp_master WHERE type = 'trigger' LIMIT 1) x") == 0
        let added = triggered ? try grant() : try database.trustingReferences { try database.trustingChecks(grant) }
        var plan = try storedGrants(count: added)
        plan.grantsAreEveryStoredRole = wasEmpty
        return plan
    }

    /// PostgreSQL's first grants (a full recompute while no calculated role is stored):
    /// each desired role, the first of its rows, goes from `temp.desired_roles` straight
    /// into `user_roles` as a grant of `run`, loaded in bulk, as the staged plan would have
    /// granted it (tested), and `applyRoles` has only their events left to write. Staged,
    /// the district's 294,716 grants were written to `temp.role_grants`, read back and
    /// sorted once more through ICU for the plan's list: about 0.12 s of the server's CPU
    /// (load 6). Whether the load makes the key and reference again is judged by the desired
    /// rows, which a first run's grants are nearly all of (before: by the grants).
    private func grantEachDesiredRoleOnce(run: Int64) throws -> RolePlan {
        // The roles it adds are every calculated one there is (none was stored): counted
        // as they are added, not by reading them all again.
        var added = 0
        let grants = grantsSQL(anyGranted: false, usernamesByTheirBytes: try desiredUsernamesSortByTheirBytes())
        try database.bulkLoading("user_roles", adding: try desiredRolesCountedForTheLoad()) {
            try database.run("""
                INSERT INTO user_roles (username, role, source, school_year, granted_run)
                SELECT x.username, x.role, 'calculated', x.school_year, \(run) FROM (\(unescaped: grants)) x
                ON CONFLICT DO NOTHING
                """)
            added = database.changes
        }
        // Read back in the key's order, through the key just made: without statistics the
        // planner would take the grants for a few hundred rows and sort them through ICU.
        // (The run's own refresh after `applyRoles` is then left out: `RosterStore`.)
        try database.refreshStatistics(["user_roles"])
        return try storedGrants(count: added)
    }

    /// PostgreSQL's first grants into an empty `user_roles` when every username the rules
    /// read is plain (`ruleUsernamesSortByTheirBytes`): one statement reads every rule's roles
    /// (`RoleRules.everyRole`), keeps each once by its bytes, and writes them in the key's
    /// order into the table, loaded in bulk. Two rows for one role are then the same bytes
    /// (no two spellings of a plain username are nocase-equal), so which of them is kept
    /// changes nothing: the grants are the staged path's, row for row (tested). Staged, each
    /// of a district's 294,716 roles was written to `temp.desired_roles`, read back and
    /// sorted: the first grants took 7-12% more of the server's CPU (three pairs, load 5).
    /// Any username with another character, or a table holding manual roles (whose count
    /// the bulk load's rule weighs against the grants', unknown before they are written),
    /// keeps the staged path (`grantEachDesiredRoleOnce`).
    private func grantEveryRuleRoleOnceUnstaged(_ settings: RoleSettings, run: Int64) throws -> RolePlan {
        var added = 0
        let roles = RoleRules.everyRole(schoolYear: settings.schoolYear, parentRelationships: settings.relationshipsKey)
        // The table is empty, so the roles, however many, are all it will hold: the bulk
        // load's rule (a quarter of the rows) holds for any one of them.
        let load = { [database] in
            try database.bulkLoading("user_roles", adding: 1) {
                try database.run("""
                    INSERT INTO user_roles (username, role, source, school_year, granted_run)
                    SELECT DISTINCT ON (x.username COLLATE BINARY, x.role COLLATE BINARY, x.school_year COLLATE BINARY)
                      x.username, x.role, 'calculated', x.school_year, \(run)
                    FROM (\(sql: roles)) x (username, role, school_year)
                    ORDER BY x.username COLLATE BINARY, x.role COLLATE BINARY, x.school_year COLLATE BINARY
                    """)
                added = database.changes
            }
        }
        if try ruleUsernamesReferToUsersChecked() { try database.trustingReferences(load) } else { try load() }
        try database.refreshStatistics(["user_roles"])
        return try storedGrants(count: added)
    }

    /// Whether every username the first grants' one statement writes (PostgreSQL) is known
    /// to be a user's, so that the load's reference to `users` is made again `NOT VALID`
    /// instead of joining all 294,716 grants of a district with `users` through ICU
    /// (`trustingReferences`): each is read, in that statement, from `links`,
    /// `user_attachments` or `access_pairings`, whose references to `users` are in force
    /// (validated, their triggers enabled); the bulk load took `users` in ACCESS EXCLUSIVE
    /// mode before it, so no user goes away until the commit. An application's trigger on
    /// `user_roles` could change what is written: then the reference is checked. "In force"
    /// is the reference of the `username` column itself, whose triggers fire on every
    /// session (`O`, `A`: a trigger set to `REPLICA` or `D` does not check an ordinary
    /// writer's rows).
    private func ruleUsernamesReferToUsersChecked() throws -> Bool {
        guard try !database.hasTriggers(on: ["user_roles"]) else { return false }
        return try database.int("""
            SELECT count(DISTINCT c.conrelid) FROM pg_constraint c
            WHERE c.contype = 'f' AND c.convalidated AND c.confrelid = to_regclass('users')
              AND c.conrelid IN (to_regclass('links'), to_regclass('user_attachments'), to_regclass('access_pairings'))
              AND \(unescaped: PostgresDatabase.referenceByUsername("c"))
              AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgconstraint = c.oid AND t.tgenabled NOT IN ('O', 'A'))
            """) == 3
    }

    /// Whether `user_roles` holds no row at all, manual or calculated.
    private func rolesTableIsEmpty() throws -> Bool {
        try database.int("SELECT count(*) FROM (SELECT 1 FROM user_roles LIMIT 1) x") == 0
    }

    /// Whether every username the rules read (`links`, `user_attachments`, `access_pairings`)
    /// is plain, as `desiredUsernamesSortByTheirBytes` asks of the desired roles, before any
    /// rule runs: every role's username is one of them.
    func ruleUsernamesSortByTheirBytes() throws -> Bool {
        try database.int("""
            SELECT count(*) FROM (SELECT 1 FROM user_attachments WHERE username COLLATE BINARY ~ '[^0-9a-z]'
              UNION ALL SELECT 1 FROM links WHERE username COLLATE BINARY ~ '[^0-9a-z]'
              UNION ALL SELECT 1 FROM access_pairings WHERE username COLLATE BINARY ~ '[^0-9a-z]' LIMIT 1) x
            """) == 0
    }

    /// Whether every username in `temp.desired_roles` (PostgreSQL) is made of `0`-`9` and
    /// `a`-`z` only. The `nocase` collation (ICU's root order at secondary strength) orders
    /// those characters as their bytes, one weight each and none ignorable, so such usernames
    /// sort, and are equal, by their bytes exactly as through the collation (tested against
    /// the server's ICU): the first grants' dedupe then keeps the same rows in the same order
    /// without ICU. A district's first run's 294,716 desired roles sorted in 0.31 s through
    /// ICU; the check reads them once (54 ms). Any other username (a capital, a dot, an
    /// accent: two spellings of one user) keeps the collation's sort.
    func desiredUsernamesSortByTheirBytes() throws -> Bool {
        try database.int("SELECT count(*) FROM (SELECT 1 FROM temp.desired_roles WHERE username COLLATE BINARY ~ '[^0-9a-z]' LIMIT 1) x") == 0
    }

    /// How many rows the first grants add, as the bulk load's rule needs it: the desired
    /// rows, unless they alone would make the key and reference again over manual roles
    /// already stored. A role may be desired more than once (Parent through a household and
    /// a pairing), so the roles are then counted once each, lest readers be held (R9) for a
    /// load under the documented quarter. A first run with no role stored counts no more.
    private func desiredRolesCountedForTheLoad() throws -> Int {
        let desired = try database.int("SELECT count(*) FROM temp.desired_roles") ?? 0
        let stored = try database.int("SELECT count(*) FROM user_roles") ?? 0
        guard stored > 0, UserBulkLoad.rebuilds(adding: desired, existing: stored) else { return desired }
        return try database.int("SELECT count(*) FROM (SELECT DISTINCT username, role, school_year FROM temp.desired_roles) x") ?? 0
    }

    /// The plan of a first run whose grants are written: they are every calculated role
    /// there is, listed in the key's order as staged ones are (`source` is one value here).
    private func storedGrants(count: Int) throws -> RolePlan {
        var plan = RolePlan()
        plan.grantsStored = true
        plan.grantedCount = count
        try database.forEachRow("""
            SELECT username, role, school_year FROM user_roles WHERE source = 'calculated'
            ORDER BY username COLLATE NOCASE, source, role, school_year LIMIT \(RolePlan.listed)
            """) {
            plan.granted.append(CalculatedRole(username: $0.text(0), role: $0.text(1), schoolYear: $0.text(2)))
        }
        return plan
    }

    /// Every calculated role (`username`, `role`, `school_year`) in the order of the table's
    /// key, read along the key. With the source compared as it is (`x.source = …`), SQLite
    /// took it for a term of the key and sorted each user's roles again in a temporary
    /// b-tree: 0.77 of the 1.53 billion instructions of a district's first grants' events
    /// (issue 34: events on cost that run 19%, over issue 31's 15%). `|| ''` makes it a
    /// filter on the rows the scan reads, on both stores.
    static let calculatedRolesInKeyOrder: SQLQuery = """
        SELECT x.username, x.role, x.school_year FROM user_roles x WHERE x.source || '' = 'calculated'
        ORDER BY x.username COLLATE NOCASE, x.source, x.role, x.school_year
        """

    /// `calculatedRolesInKeyOrder` as SQLite reads it best: `+x.source` is its documented
    /// way to keep a term off the key, and compares the value as it is, where `|| ''` made
    /// a new string of each row's source (a district's first grants' events: 0.74 → 0.57
    /// billion instructions for the read; the CLI, one run each). PostgreSQL has no unary
    /// `+` for text.
    static let calculatedRolesInKeyOrderOnSQLite: SQLQuery = """
        SELECT x.username, x.role, x.school_year FROM user_roles x WHERE +x.source = 'calculated'
        ORDER BY x.username COLLATE NOCASE, x.source, x.role, x.school_year
        """

    /// `calculatedRolesInKeyOrderOnSQLite` when every stored role is calculated (a first run's
    /// grants into an empty table): the same rows in the same order, without reading and
    /// comparing each row's `source`, a seventh of the scan (a district's first grants'
    /// events: 60 of their 565 million instructions; issue 34).
    static let everyRoleInKeyOrderOnSQLite: SQLQuery = """
        SELECT x.username, x.role, x.school_year FROM user_roles x
        ORDER BY x.username COLLATE NOCASE, x.source, x.role, x.school_year
        """

    /// Whether any calculated role is stored (one row read, where counting reads them all).
    private func hasCalculatedRoles() throws -> Bool {
        try database.int("SELECT count(*) FROM (SELECT 1 FROM user_roles WHERE source = 'calculated' LIMIT 1) x") == 1
    }

    /// The calculated role grants there are (what the revoke guard weighs a run against).
    public func calculatedGrantCount() throws -> Int {
        try database.int("SELECT count(*) FROM user_roles WHERE source = 'calculated'") ?? 0
    }

    /// What roles were last computed from.
    struct RoleBasis {
        var schoolYear: String
        var parentRelationships: String
        var rulesVersion: Int
        var lastChangeID: Int64
    }

    func roleBasis() throws -> RoleBasis? {
        let s = try database.query("SELECT school_year, parent_relationships, rules_version, last_change_id FROM role_basis WHERE id = 1")
        defer { s.reset() }
        return try s.step() ? RoleBasis(schoolYear: s.text(0), parentRelationships: s.text(1), rulesVersion: s.int(2), lastChangeID: s.int64(3)) : nil
    }

    /// Records the basis of the roles just applied (inside the same transaction).
    func recordRoleBasis(_ settings: RoleSettings) throws {
        try database.run("""
            INSERT INTO role_basis (id, school_year, parent_relationships, rules_version, last_change_id)
            VALUES (1, \(settings.schoolYear), \(settings.relationshipsKey), \(RoleRules.version), (SELECT coalesce(max(change_id), 0) FROM changes))
            ON CONFLICT (id) DO UPDATE SET school_year = excluded.school_year, parent_relationships = excluded.parent_relationships,
              rules_version = excluded.rules_version, last_change_id = excluded.last_change_id
            """)
    }

    /// Fills `temp.dirty_users` with the users the changed inputs reach.
    private func markDirtyUsers(_ changes: RoleInputChanges, sinceChange: Int64) throws {
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS changed_staff (id TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS changed_students (id TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS changed_households (id TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS changed_applicants (id TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS changed_attribute_records (type TEXT, id TEXT, PRIMARY KEY (type, id)) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS dirty_user_input (username TEXT NOT NULL);
            DELETE FROM temp.dirty_user_input;
            DELETE FROM temp.changed_staff; DELETE FROM temp.changed_students; DELETE FROM temp.changed_households;
            DELETE FROM temp.changed_applicants; DELETE FROM temp.changed_attribute_records;
            """)
        // The tables are empty and the sets hold each value once: COPY on PostgreSQL.
        func fill(_ table: String, _ values: Set<String>, column: String = "id") throws {
            guard !values.isEmpty else { return }
            try database.insertRows(into: "temp." + table, columns: [column]) { rows in
                for v in values { try rows.add(v); try rows.endRow() }
            }
        }
        try fill("changed_staff", changes.staff.union(changes.formerEvaluators))
        try fill("changed_students", changes.students)
        try fill("changed_households", changes.households)
        try fill("changed_applicants", changes.applicants)
        if !changes.attributeRecords.isEmpty {
            // Record types in lower case as SQL's `lower` gives them (ASCII only), each pair once.
            var pairs = Set<[String]>()
            for r in changes.attributeRecords {
                pairs.insert([String(decoding: r.type.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self), r.id])
            }
            try database.insertRows(into: "temp.changed_attribute_records", columns: ["type", "id"]) { rows in
                for p in pairs { try rows.add(p[0]); try rows.add(p[1]); try rows.endRow() }
            }
        }
        // Two spellings of one username are one user: through a table without a key.
        // (`WHERE TRUE` before `ON CONFLICT`: without a WHERE, SQLite would read that ON as
        // the last join's; its documentation asks for one in every INSERT … SELECT upsert.)
        try fill("dirty_user_input", changes.users, column: "username")
        if !changes.users.isEmpty { try database.execute("INSERT INTO temp.dirty_users SELECT username FROM temp.dirty_user_input WHERE TRUE ON CONFLICT DO NOTHING") }
        try database.refreshStatistics(["temp.changed_staff", "temp.changed_students", "temp.changed_households",
                                        "temp.changed_applicants", "temp.changed_attribute_records"])
        var statements: [SQLQuery] = [
            // Administrators' changes since the last computation (attachments, links, new users).
            "INSERT INTO temp.dirty_users SELECT record_id FROM changes WHERE change_id > \(sinceChange) AND run_id IS NULL AND entity = 'users' ON CONFLICT DO NOTHING",
        ]
        if !changes.applicants.isEmpty {
            statements += [
                // Evaluators the changed applicants name now (their former ones are already in).
                """
                \(sql: RoleRules.listItems("ap.evaluator_staff_ids", rows: "FROM temp.changed_applicants c CROSS JOIN applicants ap ON ap.applicant_id = c.id"))
                INSERT INTO temp.changed_staff
                SELECT DISTINCT value FROM list_items WHERE value <> ''
                ON CONFLICT DO NOTHING
                """,
                """
                INSERT INTO temp.dirty_users
                SELECT a.username FROM user_attachments a
                JOIN household_relationships r ON r.household_id = a.record_id AND r.record_type = 'applicant'
                JOIN temp.changed_applicants c ON c.id = r.record_id
                WHERE a.kind = 'household'
                ON CONFLICT DO NOTHING
                """,
            ]
        }
        if !changes.students.isEmpty {
            statements += [
                "INSERT INTO temp.dirty_users SELECT a.username FROM temp.changed_students c CROSS JOIN user_attachments a ON a.kind = 'student' AND a.record_id = c.id WHERE TRUE ON CONFLICT DO NOTHING",
                "INSERT INTO temp.dirty_users SELECT p.username FROM temp.changed_students c CROSS JOIN access_pairings p ON p.student_id = c.id WHERE TRUE ON CONFLICT DO NOTHING",
                """
                INSERT INTO temp.dirty_users
                SELECT a.username FROM user_attachments a
                JOIN household_relationships r ON r.household_id = a.record_id AND r.record_type = 'student'
                JOIN temp.changed_students c ON c.id = r.record_id
                WHERE a.kind = 'household'
                ON CONFLICT DO NOTHING
                """,
            ]
        }
        // Only from tables that have rows, starting from them: joined the other way round
        // (SQLite has no statistics of temporary tables) each scanned every attachment, 40 ms
        // of an unchanged run.
        if !changes.staff.isEmpty || !changes.formerEvaluators.isEmpty || !changes.applicants.isEmpty {
            statements.append("INSERT INTO temp.dirty_users SELECT l.username FROM temp.changed_staff c CROSS JOIN links l ON l.staff_id = c.id WHERE TRUE ON CONFLICT DO NOTHING")
        }
        if !changes.households.isEmpty {
            statements.append("INSERT INTO temp.dirty_users SELECT a.username FROM temp.changed_households c CROSS JOIN user_attachments a ON a.kind = 'household' AND a.record_id = c.id WHERE TRUE ON CONFLICT DO NOTHING")
        }
        if !changes.attributeRecords.isEmpty {
            statements.append("INSERT INTO temp.dirty_users SELECT a.username FROM temp.changed_attribute_records c CROSS JOIN user_attachments a ON a.kind = c.type AND a.record_id = c.id WHERE TRUE ON CONFLICT DO NOTHING")
        }
        for statement in statements { try database.run(statement) }
        try database.refreshStatistics(["temp.dirty_users"])
    }

    /// Writes the role changes `planRoles` left in `temp.role_grants` and `temp.role_revokes`
    /// (inside the run's transaction), set-based. A grant is recorded by the role's
    /// `granted_run` (as additions are by `added_run`); when a role is revoked, its grant
    /// moves into the change log next to the revocation, so the history stays whole.
    /// Their `role.granted` and `role.revoked` events go into `batch`, set-based.
    func applyRoles(_ plan: RolePlan, runID: Int64?, actor: String? = nil, at: String? = nil, events batch: EventBatch) throws {
        guard !plan.isEmpty else { return }
        if plan.grantsStored {
            // The first grants are written (`grantEveryDesiredRole`, `grantEachDesiredRoleOnce`) and they are every
            // calculated role there is: their events, in the key's order as staged ones are.
            let query = keepsDesiredRolesUnkeyed ? Self.calculatedRolesInKeyOrder
                : plan.grantsAreEveryStoredRole ? Self.everyRoleInKeyOrderOnSQLite : Self.calculatedRolesInKeyOrderOnSQLite
            try batch.writeCalculatedRoles("role.granted", reading: query)
            return
        }
        if batch.isOn {
            for (table, type) in [("role_grants", "role.granted"), ("role_revokes", "role.revoked")] {
                // In the order the table was filled (it was emptied for this plan): a scan of
                // it gives its rowids' order on SQLite, the order of its pages on PostgreSQL.
                try batch.writeCalculatedRoles(type, reading: "SELECT x.username, x.role, x.school_year FROM temp.\(unescaped: table) x")
            }
        }
        let label = RoleRules.labelSQL("x")
        if let runID {
            // A revoked role's grant moves into the change log under its own run first.
            try database.execute("""
                INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind)
                SELECT x.granted_run, 'users', x.username, 'role', NULL, \(label), 'role_granted'
                FROM temp.role_revokes v JOIN user_roles x ON x.username = v.username AND x.source = 'calculated' AND x.role = v.role AND x.school_year = v.school_year
                WHERE x.granted_run IS NOT NULL ORDER BY x.granted_run
                """)
            try database.run("""
                INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind)
                SELECT \(runID), 'users', x.username, 'role', \(unescaped: label), NULL, 'role_revoked' FROM temp.role_revokes x ORDER BY x.username COLLATE NOCASE, x.role, x.school_year
                """)
        } else {
            // Outside a run (a refresh by sisyncctl): every grant and revoke is a change of its own.
            for (table, kind) in [("role_grants", "role_granted"), ("role_revokes", "role_revoked")] {
                try database.run("""
                    INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind, actor, at)
                    SELECT NULL, 'users', x.username, 'role', \(unescaped: kind == "role_revoked" ? label : "NULL"), \(unescaped: kind == "role_granted" ? label : "NULL"),
                      '\(unescaped: kind)', \(actor ?? "sisyncctl"), \(at)
                    FROM temp.\(unescaped: table) x ORDER BY x.username COLLATE NOCASE, x.role, x.school_year
                    """)
            }
        }
        if plan.revokedCount > 0 {
            // One DELETE that probes the primary key for each revoked role (SQLite searches
            // it by username and source; PostgreSQL is kept from hashing every role).
            try database.preferringIndexLookups {
                try database.execute("""
                    DELETE FROM user_roles WHERE source = 'calculated'
                    AND (username, role, school_year) IN (SELECT username, role, school_year FROM temp.role_revokes)
                    """)
            }
        }
        // A grant of a run is recorded by `granted_run`; one made outside a run has its change row above.
        // The grants are of users this transaction sees: when they are most of the table (a
        // first run), PostgreSQL checks their key and reference once, after them.
        try database.bulkLoading("user_roles", adding: plan.grantedCount) {
            try database.run("""
                INSERT INTO user_roles (username, role, source, school_year, granted_run)
                SELECT x.username, x.role, 'calculated', x.school_year, \(runID) FROM temp.role_grants x \(unescaped: grantsInKeyOrder)
                ON CONFLICT DO NOTHING
                """)
        }
    }

    /// Recomputes the calculated roles of a few users now (after a pairing), as an
    /// administrator's change; the next run recomputes them again and agrees.
    public func refreshRoles(of users: [String], settings: RoleSettings, actor: String, now: Date) throws -> RolePlan {
        try database.transaction {
            let batch = try events.batch(runID: nil, actor: actor, at: Timestamp.format(now))
            let plan = try planRoles(settings, onlyUsers: users)
            try applyRoles(plan, runID: nil, actor: actor, at: Timestamp.format(now), events: batch)
            try batch.finish()
            return plan
        }
    }

    /// A user's roles: manual ones, and calculated ones with their school year.
    public func of(_ username: String) throws -> (manual: [String], calculated: [CalculatedRole]) {
        var manual: [String] = [], calculated: [CalculatedRole] = []
        try database.forEachRow("SELECT role, source, school_year, username FROM user_roles WHERE username = \(username) ORDER BY source, role, school_year") { r in
            if r.text(1) == "manual" { manual.append(r.text(0)) } else { calculated.append(CalculatedRole(username: r.text(3), role: r.text(0), schoolYear: r.text(2))) }
        }
        return (manual, calculated)
    }
}
