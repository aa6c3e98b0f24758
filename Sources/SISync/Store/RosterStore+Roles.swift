import Foundation

extension RosterStore {
    /// Plans R7 against the database as it is now (inside the run's transaction, after the
    /// records and links were written): the calculated roles to grant and to revoke.
    func planRoles(schoolYear: String, parentRelationships: [String]) throws -> RolePlan {
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS desired_roles (
              username TEXT NOT NULL COLLATE NOCASE, role TEXT NOT NULL, school_year TEXT NOT NULL,
              PRIMARY KEY (username, role, school_year)) WITHOUT ROWID;
            DELETE FROM temp.desired_roles;
            """)
        let relationships = String(decoding: try JSONEncoder().encode(parentRelationships.map { $0.lowercased() }), as: UTF8.self)
        for sql in RoleRules.statements {
            let s = try database.prepare(sql)
            if sql.contains("?1") { try s.bind(1, schoolYear) }
            if sql.contains("?2") { try s.bind(2, relationships) }
            try s.run()
        }
        var plan = RolePlan()
        let grants = try database.prepare("""
            SELECT d.username, d.role, d.school_year FROM temp.desired_roles d
            WHERE NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.username = d.username AND r.source = 'calculated'
                              AND r.role = d.role AND r.school_year = d.school_year)
            ORDER BY d.username COLLATE NOCASE, d.role, d.school_year
            """)
        try grants.forEachRow { plan.granted.append(CalculatedRole(username: $0.text(0), role: $0.text(1), schoolYear: $0.text(2))) }
        let revokes = try database.prepare("""
            SELECT r.username, r.role, r.school_year FROM user_roles r
            WHERE r.source = 'calculated' AND NOT EXISTS (
              SELECT 1 FROM temp.desired_roles d WHERE d.username = r.username AND d.role = r.role AND d.school_year = r.school_year)
            ORDER BY r.username COLLATE NOCASE, r.role, r.school_year
            """)
        try revokes.forEachRow { plan.revoked.append(CalculatedRole(username: $0.text(0), role: $0.text(1), schoolYear: $0.text(2))) }
        return plan
    }

    /// Writes a role plan and its audit entries (inside the run's transaction).
    func applyRoles(_ plan: RolePlan, runID: Int64?) throws {
        guard !plan.isEmpty else { return }
        let grant = try database.prepare("INSERT OR IGNORE INTO user_roles (username, role, source, school_year) VALUES (?, ?, 'calculated', ?)")
        let revoke = try database.prepare("DELETE FROM user_roles WHERE username = ? AND role = ? AND source = 'calculated' AND school_year = ?")
        let log = try database.prepare("""
            INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind) VALUES (?, 'users', ?, 'role', ?, ?, ?)
            """)
        for r in plan.granted {
            try grant.bind(1, r.username); try grant.bind(2, r.role); try grant.bind(3, r.schoolYear)
            try grant.run()
            try log.bind(1, runID); try log.bind(2, r.username); try log.bind(3, nil as String?); try log.bind(4, r.label); try log.bind(5, ChangeKind.roleGranted.rawValue)
            try log.run()
        }
        for r in plan.revoked {
            try revoke.bind(1, r.username); try revoke.bind(2, r.role); try revoke.bind(3, r.schoolYear)
            try revoke.run()
            try log.bind(1, runID); try log.bind(2, r.username); try log.bind(3, r.label); try log.bind(4, nil as String?); try log.bind(5, ChangeKind.roleRevoked.rawValue)
            try log.run()
        }
    }

    /// A user's roles: manual ones, and calculated ones with their school year.
    public func roles(of username: String) throws -> (manual: [String], calculated: [CalculatedRole]) {
        let s = try database.prepare("SELECT role, source, school_year, username FROM user_roles WHERE username = ? ORDER BY source, role, school_year")
        try s.bind(1, username)
        var manual: [String] = [], calculated: [CalculatedRole] = []
        try s.forEachRow { r in
            if r.text(1) == "manual" { manual.append(r.text(0)) } else { calculated.append(CalculatedRole(username: r.text(3), role: r.text(0), schoolYear: r.text(2))) }
        }
        return (manual, calculated)
    }
}
