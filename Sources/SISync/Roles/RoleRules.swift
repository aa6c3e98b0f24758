/// R7 as SQL over the mirror as the run leaves it: which calculated roles every user
/// should hold. Kept as one set of statements so that a full recompute is one pass of
/// SQLite joins (indexes on the keys) instead of a loop over users.
enum RoleRules {
    /// Bumped whenever the rules change, so that the next run recomputes every user.
    static let version = 2  // 2: Parent through portal pairings

    /// SQL for a role's display label (`Honor Roll (2026-2027)`, or `Staff`) from a row of
    /// `alias` with `role` and `school_year`; the same as `CalculatedRole.label`.
    static func labelSQL(_ alias: String) -> String {
        "CASE WHEN \(alias).school_year = '' THEN \(alias).role ELSE \(alias).role || ' (' || \(alias).school_year || ')' END"
    }

    /// A `WITH` clause naming `list_items(value)`: every value of the `;`-separated list
    /// `column` over the rows that `rows` (a `FROM … WHERE …` clause) selects. The list is
    /// split with `instr`/`substr`, never turned into JSON or SQL text, so no byte a list
    /// holds can make the statement fail (values are checked once, when the row is read).
    static func listItems(_ column: String, rows: String) -> String {
        """
        WITH RECURSIVE list_items(rest, value) AS (
          SELECT \(column) || ';', substr(\(column), 1, 0) \(rows)
          UNION ALL
          SELECT substr(rest, instr(rest, ';') + 1), substr(rest, 1, instr(rest, ';') - 1) FROM list_items WHERE rest <> ''
        )
        """
    }

    /// The statements for every user, or (`scoped`) only for the users in `temp.dirty_users`.
    static func statements(scoped: Bool) -> [String] {
        // CROSS JOIN fixes the join order in SQLite: start from the few changed users.
        template.map { sql in
            sql.replacingOccurrences(of: "FROM user_attachments a", with: scoped ? "FROM temp.dirty_users d CROSS JOIN user_attachments a ON a.username = d.username" : "FROM user_attachments a")
                .replacingOccurrences(of: "FROM links l", with: scoped ? "FROM temp.dirty_users d CROSS JOIN links l ON l.username = d.username" : "FROM links l")
                .replacingOccurrences(of: "FROM access_pairings p", with: scoped ? "FROM temp.dirty_users d CROSS JOIN access_pairings p ON p.username = d.username" : "FROM access_pairings p")
        }
    }

    /// Statements that fill `temp.desired_roles (username, role, school_year)`.
    /// Parameters: ?1 the current school year, ?2 the parent relationships as a JSON array
    /// of lower-case names.
    /// (`+r.record_type` keeps SQLite on the household key: the index by record would be
    /// chosen without statistics and scan every relationship of that type per user.)
    static let template: [String] = [
        // Staff: linked to an active staff member.
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT l.username, 'Staff', '' FROM links l JOIN staff s ON s.staff_id = l.staff_id WHERE s.active = TRUE
        """,
        // Student: attached to a student enrolled for the current school year.
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT a.username, 'Student', '' FROM user_attachments a
        JOIN students st ON st.student_id = a.record_id
        WHERE a.kind = 'student' AND st.active = TRUE AND lower(st.enrollment_status) = 'enrolled' AND st.school_year = ?1
        """,
        // Parent: attached to a household related as a parent to such a student.
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT a.username, 'Parent', '' FROM user_attachments a
        JOIN household_relationships r ON r.household_id = a.record_id AND +r.record_type = 'student' AND r.active = TRUE
        JOIN students st ON st.student_id = r.record_id
        WHERE a.kind = 'household' AND st.active = TRUE AND lower(st.enrollment_status) = 'enrolled' AND st.school_year = ?1
          AND lower(r.relationship) IN (SELECT value FROM json_each(?2))
        """,
        // Parent: paired with an enrolled student through the portal's access code. (From
        // the pairings: without statistics SQLite would scan every student, 0.16 s a run.)
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT p.username, 'Parent', '' FROM access_pairings p
        CROSS JOIN students st ON st.student_id = p.student_id
        WHERE st.active = TRUE AND lower(st.enrollment_status) = 'enrolled' AND st.school_year = ?1
        """,
        // Applicant: attached to a household related as a parent to an applicant not yet copied.
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT a.username, 'Applicant', '' FROM user_attachments a
        JOIN household_relationships r ON r.household_id = a.record_id AND +r.record_type = 'applicant' AND r.active = TRUE
        JOIN applicants ap ON ap.applicant_id = r.record_id
        WHERE a.kind = 'household' AND ap.active = TRUE AND lower(ap.status) <> 'copied'
          AND lower(r.relationship) IN (SELECT value FROM json_each(?2))
        """,
        // Admissions Evaluator: linked to an active staff member named by an active applicant.
        // The named staff are collected once (the `;` list split in SQL), then joined.
        listItems("a.evaluator_staff_ids", rows: "FROM applicants a WHERE a.active = TRUE AND lower(a.status) <> 'copied' AND a.evaluator_staff_ids <> ''") + """

        INSERT OR IGNORE INTO temp.evaluator_staff
        SELECT DISTINCT value FROM list_items WHERE value <> ''
        """,
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT l.username, 'Admissions Evaluator', '' FROM links l
        JOIN staff s ON s.staff_id = l.staff_id AND s.active = TRUE
        JOIN temp.evaluator_staff e ON e.staff_id = l.staff_id
        """,
        // Attribute roles: every active attribute on an attached student, household or donor.
        """
        INSERT OR IGNORE INTO temp.desired_roles
        SELECT a.username, t.attribute, t.school_year FROM user_attachments a
        JOIN attributes t ON t.record_type = a.kind AND t.record_id = a.record_id
        WHERE t.active = TRUE
        """,
    ]
}
