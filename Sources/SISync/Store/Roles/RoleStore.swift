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
    func planRoles(_ settings: RoleSettings, changes: RoleInputChanges? = nil, onlyUsers: [String]? = nil) throws -> RolePlan {
        let relationships = settings.relationshipsKey
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS desired_roles (
              username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL,
              PRIMARY KEY (username, role, school_year)) WITHOUT ROWID;
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
            if administered > Self.incrementalLimit { return try computeRoles(settings, scoped: false) }
            try markDirtyUsers(changes, sinceChange: basis.lastChangeID)
            let dirty = try database.int("SELECT count(*) FROM temp.dirty_users") ?? 0
            if dirty == 0 { return RolePlan() }
            if dirty > Self.incrementalLimit { return try computeRoles(settings, scoped: false) }
            // A scoped recompute starts from the users whose inputs changed and joins by
            // username. (Finding them joins by record ids, where hashing is cheap.)
            return try database.preferringIndexLookups { try computeRoles(settings, scoped: true) }
        }
        return try computeRoles(settings, scoped: scoped)
    }

    private func computeRoles(_ settings: RoleSettings, scoped: Bool) throws -> RolePlan {
        for statement in RoleRules.statements(scoped: scoped, schoolYear: settings.schoolYear, parentRelationships: settings.relationshipsKey) {
            try database.run(statement)
        }
        try database.refreshStatistics(["temp.desired_roles", "temp.evaluator_staff"])
        let users = scoped ? "AND d.username IN (SELECT username FROM temp.dirty_users)" : ""
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS role_grants (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL);
            CREATE TEMP TABLE IF NOT EXISTS role_revokes (username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL);
            DELETE FROM temp.role_grants;
            DELETE FROM temp.role_revokes;
            INSERT INTO temp.role_grants
            SELECT d.username, d.role, d.school_year FROM temp.desired_roles d
            WHERE NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.username = d.username AND r.source = 'calculated'
                              AND r.role = d.role AND r.school_year = d.school_year)
            ORDER BY d.username COLLATE NOCASE, d.role, d.school_year;
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
                SELECT x.username, x.role, 'calculated', x.school_year, \(runID) FROM temp.role_grants x ORDER BY x.username COLLATE NOCASE, x.role, x.school_year
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
