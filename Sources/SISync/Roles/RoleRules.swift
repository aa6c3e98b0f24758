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
    static func listItems(_ column: String, rows: String) -> SQLQuery {
        """
        WITH RECURSIVE list_items(rest, value) AS (
          SELECT \(unescaped: column) || ';', substr(\(unescaped: column), 1, 0) \(unescaped: rows)
          UNION ALL
          SELECT substr(rest, instr(rest, ';') + 1), substr(rest, 1, instr(rest, ';') - 1) FROM list_items WHERE rest <> ''
        )
        """
    }

    /// One statement of the rules, with the joins a full recompute should make for it on
    /// PostgreSQL. Its planner hashes both sides of every join of whole tables; for the
    /// Student rule, reading both tables along their keys' indexes costs less: the server's
    /// CPU for it in a district's first linking run, 0.22–0.24 → 0.20–0.21 s (four runs
    /// each, load about 7). (The attribute roles, merged so, took 0.19–0.21 s against
    /// 0.13–0.15 s hashed, and are left to the planner.) A recompute for a few users
    /// (`scoped`) already probes indexes throughout, and SQLite plans its own joins: both
    /// run `sql` as it is.
    struct Statement {
        enum Joins {
            /// As the planner chooses.
            case planned
            /// Merged along both tables' indexes, or looked up in them, not hashed
            /// (`preferringIndexLookups`).
            case inKeyOrder
        }
        var joins: Joins
        var sql: SQLQuery

        init(joins: Joins = .planned, _ sql: SQLQuery) {
            self.joins = joins
            self.sql = sql
        }

        /// Runs the statement on `database` with its joins (`scoped`: as planned).
        func run(on database: any StoreDatabase, scoped: Bool) throws {
            try withJoins(on: database, scoped: scoped) { try database.run(sql) }
        }

        /// `body` with the planner set for this statement's joins, and as it was after.
        func withJoins<T>(on database: any StoreDatabase, scoped: Bool, _ body: () throws -> T) throws -> T {
            switch scoped ? .planned : joins {
            case .planned: return try body()
            case .inKeyOrder: return try database.preferringIndexLookups(body)
            }
        }
    }

    /// The staff ids that the `;`-separated lists of evaluators name, on every active
    /// applicant not yet copied (`EvaluatorNames`), are what `temp.evaluator_staff`
    /// must hold before the statements run.
    static let evaluatorLists: SQLQuery = """
        SELECT a.evaluator_staff_ids FROM applicants a WHERE a.active = TRUE AND lower(a.status) <> 'copied' AND a.evaluator_staff_ids <> ''
        """

    /// The statements that fill `temp.desired_roles (username, role, school_year)` for every
    /// user, or (`scoped`) only for the users in `temp.dirty_users`; `parentRelationships`
    /// is a JSON array of lower-case names. The first row written for a role is the one
    /// kept (`ON CONFLICT DO NOTHING` on the table's key). (In the Parent rule,
    /// `+r.record_type` keeps SQLite on the household key: the index by record would be
    /// chosen without statistics and scan every relationship of that type per user.)
    /// `householdsOneByOne` (PostgreSQL) asks the Parent rule's question of each attached
    /// household in turn, stopping at its first qualifying child (a subquery with `LIMIT
    /// 1`, which the planner can neither join nor hash): asked as `EXISTS`, PostgreSQL
    /// hashes every relationship joined to every student to answer all the households at
    /// once: 0.53–0.56 s of the server's CPU in a district's first linking run, against
    /// 0.42 s one by one (four runs each, load about 7), for the same roles. SQLite asks `EXISTS` one household at a time already.
    static func statements(scoped: Bool, schoolYear: String, parentRelationships: String,
                           householdsOneByOne: Bool = false) -> [Statement] {
        rules(scoped: scoped, schoolYear: schoolYear, parentRelationships: parentRelationships, householdsOneByOne: householdsOneByOne).map {
            Statement(joins: $0.joins, """
                INSERT INTO temp.desired_roles
                \(sql: $0.sql)
                ON CONFLICT DO NOTHING
                """)
        }
    }

    /// SQLite's first grants (no calculated role stored, a full recompute): one statement
    /// that writes every desired role into `user_roles` as a calculated grant of `run`,
    /// the rules' rows merged in username order. Each rule reads its rows in username order
    /// (the attachments, pairings and links along their keys; `+a.kind` keeps SQLite off
    /// the attachments' index by record), and `UNION ALL … ORDER BY` merges them without
    /// sorting, so the grants arrive in username order (one user's roles in rule order)
    /// and each is added at the end of its b-tree or near it, on a page SQLite holds: written
    /// rule by rule in record order, each of a district's 294,716 grants was sought from
    /// the root through case-insensitive comparisons. A district's first linking run
    /// (`sisync-bench measure first-link`, callgrind): 8.79 → 8.20 billion instructions,
    /// though reading the attachments along their key reads the other kinds' rows too.
    /// SQLite leaves the pages it fills by appending less full (12% unused against 8%:
    /// `user_roles` is 0.55 MB larger). The role kept is the one the rules written one by
    /// one keep: the merge gives an earlier rule's row first when usernames are equal, and
    /// within a rule two spellings of one user come in the order of the attachment's (or
    /// pairing's) record, as the statements read them (`RolesTests`).
    ///
    /// `failingInPlace`: `INSERT OR FAIL`, which SQLite runs without a statement journal.
    /// After a user import (whose indexes were dropped and made again) the grants fill pages
    /// of the database's free list, and a statement that may be taken back copies each of
    /// them to the journal first: 2,803 pages (11 MB) of a district's first link. A failing
    /// grant fails the run, whose transaction is rolled back whole, so nothing is lost. Not
    /// with an application's trigger on `user_roles`: the statement's `OR FAIL` would
    /// override the conflict clauses of the trigger's own statements.
    static func firstGrants(schoolYear: String, parentRelationships: String, run: Int64, failingInPlace: Bool = false) -> SQLQuery {
        let arms = rules(scoped: false, schoolYear: schoolYear, parentRelationships: parentRelationships,
                         adding: ", 'calculated', \(run)", byUsername: true)
        var merged: SQLQuery = ""
        for (i, arm) in arms.enumerated() {
            merged = i == 0 ? arm.sql : "\(sql: merged)\nUNION ALL\n\(sql: arm.sql)"
        }
        return """
            INSERT \(unescaped: failingInPlace ? "OR FAIL " : "")INTO user_roles (username, role, school_year, source, granted_run)
            \(sql: merged)
            ORDER BY 1 COLLATE NOCASE
            ON CONFLICT DO NOTHING
            """
    }

    /// Every rule's roles as one SELECT of (username, role, school_year), a row for each
    /// role each rule finds (a role two rules or two records give, once for each), for every
    /// user: PostgreSQL's first grants when every username is plain (`RoleStore`), read
    /// once into `user_roles` without staging them. Its Parent rule asks of each household in
    /// turn, as `householdsOneByOne` does.
    static func everyRole(schoolYear: String, parentRelationships: String) -> SQLQuery {
        let arms = rules(scoped: false, schoolYear: schoolYear, parentRelationships: parentRelationships, householdsOneByOne: true)
        var union: SQLQuery = ""
        for (i, arm) in arms.enumerated() { union = i == 0 ? arm.sql : "\(sql: union)\nUNION ALL\n\(sql: arm.sql)" }
        return union
    }

    /// `lower(column) op 'constant'` (`constant` in lower case, ASCII letters only), or
    /// (`byCollation`, SQLite's first grants) `column op 'constant' COLLATE NOCASE`: the
    /// same test there, without a new string per row (a district's first grants called
    /// `lower` some 400,000 times, each a malloc and a free: 0.27 of 4.94 billion
    /// instructions). SQLite's `lower` and its `nocase` both fold the ASCII letters only,
    /// so a value equals the lower-case constant either way exactly when its bytes do once
    /// folded. (PostgreSQL's `lower` folds every letter and its `nocase` is ICU's: its
    /// rules keep `lower`, and so do SQLite's staged ones, which a later run compares.)
    static func caseFolded(_ column: String, _ op: String, _ constant: String, byCollation: Bool) -> SQLQuery {
        byCollation ? "\(unescaped: column) \(unescaped: op) '\(unescaped: constant)' COLLATE NOCASE"
            : "lower(\(unescaped: column)) \(unescaped: op) '\(unescaped: constant)'"
    }

    /// Whether the parent relationships (`RoleSettings.relationshipsKey`: a JSON array of
    /// names Swift made lower case, so with no ASCII capital) can be matched with `nocase`
    /// as `lower` matches them: not when a name holds a NUL, where SQLite's `nocase` stops
    /// comparing (`a`, NUL, `b` would equal `a`, NUL, `c`). A name spelled with a backslash
    /// before `u0000` is matched with `lower` too, which is only slower.
    static func namesFoldByCollation(_ parentRelationships: String) -> Bool {
        !parentRelationships.contains("\\u0000")
    }

    /// Each rule as a `SELECT` of (`username`, `role`, `school_year`) and then `adding`'s
    /// columns, with the joins a full recompute should make for it on PostgreSQL.
    /// `byUsername` (SQLite's first grants) reads the attachments along their key, in
    /// username order, compares statuses and relationships with `nocase` (`caseFolded`),
    /// and looks for attribute roles only on the kinds of record that have attributes.
    private static func rules(scoped: Bool, schoolYear: String, parentRelationships: String, adding: SQLQuery = "",
                              householdsOneByOne: Bool = false, byUsername: Bool = false) -> [(joins: Statement.Joins, sql: SQLQuery)] {
        // CROSS JOIN fixes the join order in SQLite: start from the few changed users.
        func from(_ table: String, _ alias: String) -> SQLQuery {
            scoped ? "FROM temp.dirty_users d CROSS JOIN \(unescaped: table) \(unescaped: alias) ON \(unescaped: alias).username = d.username"
                : "FROM \(unescaped: table) \(unescaped: alias)"
        }
        let attachments = from("user_attachments", "a"), links = from("links", "l"), pairings = from("access_pairings", "p")
        let kind: SQLQuery = byUsername ? "+a.kind" : "a.kind"
        let enrolled = caseFolded("st.enrollment_status", "=", "enrolled", byCollation: byUsername)
        let notCopied = caseFolded("ap.status", "<>", "copied", byCollation: byUsername)
        let relationship: SQLQuery = byUsername && namesFoldByCollation(parentRelationships) ? "r.relationship COLLATE NOCASE" : "lower(r.relationship)"
        // SQLite's first grants look for attribute roles only on the kinds of record that
        // have any attribute, found with a few seeks along the attributes' key: in a
        // district, the 87,000 households' lookups found none.
        let attributedKinds: SQLQuery = byUsername ? """
            +a.kind IN (WITH RECURSIVE kinds(kind) AS (
                SELECT min(record_type) FROM attributes
                UNION ALL
                SELECT (SELECT min(x.record_type) FROM attributes x WHERE x.record_type > kinds.kind) FROM kinds WHERE kinds.kind IS NOT NULL)
              SELECT kind FROM kinds) AND
            """ : ""
        // PostgreSQL asks each household's question with the relationship names as one
        // array, read once (an InitPlan): as `IN (SELECT … json_each)` each of a district's
        // 87,000 households ran a hash semi-join of its own (8% of the rule's CPU).
        let parentNames: SQLQuery = householdsOneByOne
            ? "= ANY (ARRAY(SELECT value FROM json_each(\(parentRelationships))))"
            : "IN (SELECT value FROM json_each(\(parentRelationships)))"
        return [
            // Staff: linked to an active staff member.
            (.planned, """
            SELECT l.username, 'Staff', '' \(sql: adding) \(sql: links) JOIN staff s ON s.staff_id = l.staff_id WHERE s.active = TRUE
            """),
            // Student: attached to a student enrolled for the current school year.
            (.inKeyOrder, """
            SELECT a.username, 'Student', '' \(sql: adding) \(sql: attachments)
            JOIN students st ON st.student_id = a.record_id
            WHERE \(sql: kind) = 'student' AND st.active = TRUE AND \(sql: enrolled) AND st.school_year = \(schoolYear)
            """),
            // Parent: attached to a household related as a parent to such a student. One
            // such student is enough: a join would find every child of the household and
            // write the role once for each (a district: 130,431 rows for 84,462 roles).
            (.planned, """
            SELECT a.username, 'Parent', '' \(sql: adding) \(sql: attachments)
            WHERE \(sql: kind) = 'household' AND \(unescaped: householdsOneByOne ? "(SELECT TRUE" : "EXISTS (SELECT 1")
              FROM household_relationships r JOIN students st ON st.student_id = r.record_id
              WHERE r.household_id = a.record_id AND +r.record_type = 'student' AND r.active = TRUE
                AND st.active = TRUE AND \(sql: enrolled) AND st.school_year = \(schoolYear)
                AND \(sql: relationship) \(sql: parentNames)\(unescaped: householdsOneByOne ? " LIMIT 1" : ""))
            """),
            // Parent: paired with an enrolled student through the portal's access code. (From
            // the pairings: without statistics SQLite would scan every student, 0.16 s a run.)
            (.planned, """
            SELECT p.username, 'Parent', '' \(sql: adding) \(sql: pairings)
            CROSS JOIN students st ON st.student_id = p.student_id
            WHERE st.active = TRUE AND \(sql: enrolled) AND st.school_year = \(schoolYear)
            """),
            // Applicant: attached to a household related as a parent to an applicant not yet copied.
            // Its relationships are sought by household and type, both in the key: most
            // households have none to an applicant, and reading each household's every
            // relationship (`+r.record_type`) took twice the CPU (SQLite, a district).
            (.planned, """
            SELECT a.username, 'Applicant', '' \(sql: adding) \(sql: attachments)
            JOIN household_relationships r ON r.household_id = a.record_id AND r.record_type = 'applicant' AND r.active = TRUE
            JOIN applicants ap ON ap.applicant_id = r.record_id
            WHERE \(sql: kind) = 'household' AND ap.active = TRUE AND \(sql: notCopied)
              AND \(sql: relationship) IN (SELECT value FROM json_each(\(parentRelationships)))
            """),
            // Admissions Evaluator: linked to an active staff member named by an active applicant.
            // The named staff are collected once (`temp.evaluator_staff`), then joined.
            // (`WHERE TRUE`, so that SQLite does not read ON CONFLICT as this join's ON; said
            // here, not in the SQL: a comment there would end the rule's text wherever the
            // rules are joined on one line.)
            (.planned, """
            SELECT l.username, 'Admissions Evaluator', '' \(sql: adding) \(sql: links)
            JOIN staff s ON s.staff_id = l.staff_id AND s.active = TRUE
            JOIN temp.evaluator_staff e ON e.staff_id = l.staff_id
            WHERE TRUE
            """),
            // Attribute roles: every active attribute on an attached student, household or donor.
            // From the attachments (`CROSS JOIN`), along their index by record, each looked up
            // in the attributes' key: SQLite otherwise reads every attribute and looks for its
            // attachment, nearly twice the CPU (a district: 200,000 attributes, 66,668 of
            // attached records). Both read in record order, so a role two attachments give
            // is written first from the same one.
            (.planned, """
            SELECT a.username, t.attribute, t.school_year \(sql: adding) \(sql: attachments)
            CROSS JOIN attributes t ON t.record_type = a.kind AND t.record_id = a.record_id
            WHERE \(sql: attributedKinds) t.active = TRUE
            """),
        ]
    }
}
