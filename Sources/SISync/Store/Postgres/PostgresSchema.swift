import Foundation

/// The PostgreSQL form of the store's schema (issue 14): the same tables and column names as
/// the SQLite schema of the same version, with PostgreSQL's types where they differ
/// (`boolean`, `timestamptz`, `date`, `bigint`), and SQLite's `COLLATE NOCASE` as the
/// collation `nocase`. It lives in one schema
/// (`[sync] database_schema`, default `sisync`), created if missing, and is created or
/// migrated in one transaction, so a failure leaves nothing half made.
public enum PostgresSchema {
    /// The schema version these tables correspond to (SQLite's `PRAGMA user_version`).
    public static let version = 8

    /// The first version of the PostgreSQL schema (SQLite's 6); `migrations[0]` starts there.
    static let firstVersion = 6

    /// A schema name sisync accepts: a lower-case identifier. It is still quoted wherever
    /// it meets SQL (`quoted`), because a reserved word such as `user` or `order` is one too;
    /// quoting a lower-case name names the same schema as writing it bare, so schemas made
    /// before the quoting are found as they were.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        guard !name.hasPrefix("pg_") else { return false }  // PostgreSQL keeps pg_ for itself
        return ("a"..."z").contains(first) || first == "_"
            ? name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            : false
    }

    /// `schema` as a quoted SQL identifier (`"user"`), for the statements that name it.
    public static func quoted(_ schema: String) -> String {
        "\"" + schema.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `"schema".name`, as `to_regclass` and `pg_get_serial_sequence` read a table's name.
    public static func qualified(_ schema: String, _ name: String) -> String {
        quoted(schema) + "." + name
    }

    /// The `migrations` to run on a schema at `found` (not 0, a new schema): none at the
    /// current version. A newer one (a newer sisync migrated it in a rolling upgrade) and one
    /// below the first version are refused, never used as a range or an index.
    static func migrationSteps(from found: Int, location: String) throws(StoreError) -> Range<Int> {
        if found > version { throw .newerSchema(path: location, found: found, supported: version) }
        if found < firstVersion { throw .unknownSchemaVersion(path: location, found: found, oldest: firstVersion) }
        return (found - firstVersion)..<(version - firstVersion)
    }

    /// Creates the schema and its tables when missing; returns the version found before
    /// (0 for a new schema). A newer version than this sisync knows is refused, also when
    /// a newer sisync migrates it while this one waits for the migration lock.
    @discardableResult
    public static func prepare(_ connection: PostgresConnection, schema: String) throws -> Int {
        guard isValidName(schema) else {
            throw PostgresError.query(target: connection.target, sqlstate: "42602", message: "invalid schema name `\(schema)`",
                                      hint: "use lower-case letters, digits and _ ([sync] database_schema)", sql: "")
        }
        let location = "\(connection.target.display) (schema \(schema))"
        try connection.execute("BEGIN")
        do {
            // Only what is missing is created: a role that may not create (an existing
            // schema an administrator made, a read-only `sisyncctl --db`) still opens it.
            if try connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]).rowCount == 0 {
                try connection.execute("CREATE SCHEMA \(quoted(schema))")
            }
            try connection.execute("SET LOCAL search_path TO \(quoted(schema))")
            if try connection.execute("SELECT to_regclass($1)", [qualified(schema, "schema_version")]).value(0, 0) == nil {
                try connection.execute("CREATE TABLE schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)")
            }
            let found = Int(try connection.execute("SELECT version FROM schema_version WHERE id = 1").value(0, 0) ?? "0") ?? 0
            if found == 0 {
                try connection.execute(collation)
                for sql in tables { try connection.execute(sql) }
                try connection.execute("INSERT INTO schema_version (id, version) VALUES (1, $1::integer)", [String(version)])
            } else if try !migrationSteps(from: found, location: location).isEmpty {
                // One migrator: a second process opening now waits here, then finds the
                // schema migrated, perhaps by a newer sisync (a read-only role at the
                // current version never gets here).
                let locked = Int(try connection.execute("SELECT version FROM schema_version WHERE id = 1 FOR UPDATE").value(0, 0) ?? "0") ?? 0
                for step in try migrationSteps(from: locked, location: location) {
                    for sql in migrations[step] { try connection.execute(sql) }
                }
                try connection.execute("UPDATE schema_version SET version = $1::integer WHERE id = 1", [String(version)])
            }
            try connection.execute("COMMIT")
            return found
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// The steps from `firstVersion` (6, the first PostgreSQL version) on, the same as SQLite's
    /// (`Schema.migrateToVersion7` ...): `migrations[0]` takes a schema from 6 to 7.
    static var migrations: [[String]] {
        [
            [
                "ALTER TABLE users ADD COLUMN added_by text COLLATE \"C\"",
                "ALTER TABLE user_attachments ADD COLUMN added_by text COLLATE \"C\"",
                "ALTER TABLE user_attachments ADD COLUMN added_at timestamptz",
                "ALTER TABLE user_attachments ADD COLUMN added_seq integer",
                "DROP VIEW change_log",
                tables.last { $0.contains("CREATE VIEW change_log") }!,
            ],
            [
                "ALTER TABLE runs ADD COLUMN approves bigint REFERENCES runs (run_id)",
                tables.first { $0.contains("CREATE TABLE held_plans") }!,
            ],
        ]
    }

    /// The tables of the mirrored entities share their bookkeeping columns.
    private static func entity(_ name: String, _ columns: String, key: String) -> [String] {
        [
            """
            CREATE TABLE \(name) (
              \(columns),
              active boolean NOT NULL DEFAULT true,
              deactivated_at timestamptz,
              missing_since timestamptz,
              added_run bigint NOT NULL,
              updated_run bigint NOT NULL,
              fingerprint bigint NOT NULL,
              PRIMARY KEY (\(key))
            )
            """,
            "CREATE INDEX \(name)_missing ON \(name) (missing_since) WHERE missing_since IS NOT NULL",
        ]
    }

    /// Text compares as SQLite compares it: byte for byte (`COLLATE "C"`, whatever the
    /// database's locale), and case-insensitively where SQLite says `COLLATE NOCASE`, with
    /// a nondeterministic ICU collation `nocase` made in the schema.
    static let collation = """
        CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)
        """

    static let tables: [String] = rawTables.map { sql in
        sql.replacingOccurrences(of: #"\btext\b"#, with: "text COLLATE \"C\"", options: .regularExpression)
            .replacingOccurrences(of: "nocase_text", with: "text COLLATE nocase")
    }

    private static let rawTables: [String] = [
        """
        CREATE TABLE runs (
          run_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
          started_at timestamptz NOT NULL,
          finished_at timestamptz,
          outcome text NOT NULL CHECK (outcome IN ('running', 'applied', 'unchanged', 'blocked', 'failed')),
          error text,
          actor text NOT NULL,
          trigger text NOT NULL DEFAULT 'schedule',
          content_hash text,
          staff_added integer NOT NULL DEFAULT 0,
          staff_updated integer NOT NULL DEFAULT 0,
          staff_deactivated integer NOT NULL DEFAULT 0,
          staff_reactivated integer NOT NULL DEFAULT 0,
          links_made integer NOT NULL DEFAULT 0,
          links_removed integer NOT NULL DEFAULT 0,
          links_ambiguous integer NOT NULL DEFAULT 0,
          roles_granted integer NOT NULL DEFAULT 0,
          roles_revoked integer NOT NULL DEFAULT 0,
          records_changed integer NOT NULL DEFAULT 0,
          entity_counts text NOT NULL DEFAULT '{}',
          problems text NOT NULL DEFAULT '[]',
          reverts bigint REFERENCES runs (run_id),
          approves bigint REFERENCES runs (run_id)
        )
        """,
        """
        CREATE TABLE held_plans (
          run_id bigint PRIMARY KEY REFERENCES runs (run_id),
          held_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          change_mark bigint NOT NULL,
          settings_digest text,
          plan text NOT NULL,
          ended text CHECK (ended IN ('approved', 'discarded', 'superseded')),
          ended_at timestamptz,
          ended_by text,
          ended_run bigint REFERENCES runs (run_id)
        )
        """,
        """
        CREATE TABLE source_state (
          url text PRIMARY KEY,
          etag text,
          last_modified text,
          sha256 text,
          run_id bigint REFERENCES runs (run_id)
        )
        """,
        "CREATE TABLE export_files (entity text PRIMARY KEY, sha256 text NOT NULL, run_id bigint NOT NULL)",
        """
        CREATE TABLE changes (
          change_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
          run_id bigint REFERENCES runs (run_id),
          entity text NOT NULL,
          record_id text NOT NULL,
          field text,
          old_value text,
          new_value text,
          kind text NOT NULL,
          actor text,
          at timestamptz
        )
        """,
        "CREATE INDEX changes_by_record ON changes (entity, record_id)",
        "CREATE INDEX changes_by_run ON changes (run_id)",
    ]
    + entity("staff", """
          staff_id text NOT NULL,
          first_name text NOT NULL DEFAULT '',
          last_name text NOT NULL DEFAULT '',
          email text NOT NULL DEFAULT '',
          title text NOT NULL DEFAULT '',
          school_ids text NOT NULL DEFAULT '',
          enabled text NOT NULL DEFAULT ''
        """, key: "staff_id")
    + ["CREATE INDEX staff_by_email ON staff (email COLLATE nocase)"]
    + entity("students", """
          student_id text NOT NULL,
          first_name text NOT NULL DEFAULT '',
          last_name text NOT NULL DEFAULT '',
          email text NOT NULL DEFAULT '',
          school_id text NOT NULL DEFAULT '',
          grade text NOT NULL DEFAULT '',
          enrollment_status text NOT NULL DEFAULT '',
          school_year text NOT NULL DEFAULT ''
        """, key: "student_id")
    + entity("households", """
          household_id text NOT NULL,
          name text NOT NULL DEFAULT ''
        """, key: "household_id")
    + entity("household_relationships", """
          household_id text NOT NULL,
          record_type text NOT NULL,
          record_id text NOT NULL,
          relationship text NOT NULL DEFAULT ''
        """, key: "household_id, record_type, record_id")
    + entity("applicants", """
          applicant_id text NOT NULL,
          first_name text NOT NULL DEFAULT '',
          last_name text NOT NULL DEFAULT '',
          status text NOT NULL DEFAULT '',
          evaluator_staff_ids text NOT NULL DEFAULT ''
        """, key: "applicant_id")
    + entity("donors", """
          donor_id text NOT NULL,
          name text NOT NULL DEFAULT '',
          email text NOT NULL DEFAULT ''
        """, key: "donor_id")
    + entity("attributes", """
          record_type text NOT NULL,
          record_id text NOT NULL,
          attribute text NOT NULL,
          school_year text NOT NULL
        """, key: "record_type, record_id, attribute, school_year")
    // R7's joins filter on these expressions. Without statistics on them PostgreSQL guesses
    // that 0.5% of the students are enrolled (it is most of them) and plans the Student and
    // Parent roles as 300,000 index probes.
    + [
        "CREATE STATISTICS students_by_enrollment ON (lower(enrollment_status)) FROM students",
        "CREATE STATISTICS applicants_by_status ON (lower(status)) FROM applicants",
        "CREATE STATISTICS relationships_by_kind ON (lower(relationship)) FROM household_relationships",
    ]
    + [
        """
        CREATE TABLE users (
          username nocase_text NOT NULL PRIMARY KEY,
          email nocase_text NOT NULL UNIQUE,
          name text NOT NULL DEFAULT '',
          approved boolean NOT NULL DEFAULT false,
          locked boolean NOT NULL DEFAULT false,
          failed_logins integer NOT NULL DEFAULT 0,
          password_hash text,
          created_at timestamptz NOT NULL,
          email_key text,
          added_by text
        )
        """,
        "CREATE INDEX users_by_email_key ON users (email_key)",
        """
        CREATE TABLE links (
          username nocase_text NOT NULL PRIMARY KEY REFERENCES users (username),
          staff_id text NOT NULL,
          kind text NOT NULL CHECK (kind IN ('auto', 'manual')),
          reason text,
          until date,
          created_at timestamptz NOT NULL,
          created_by text NOT NULL
        )
        """,
        "CREATE INDEX links_by_staff ON links (staff_id)",
        """
        CREATE TABLE user_attachments (
          username nocase_text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          kind text NOT NULL CHECK (kind IN ('student', 'household', 'donor')),
          record_id text NOT NULL,
          added_by text,
          added_at timestamptz,
          added_seq integer,
          PRIMARY KEY (username, kind, record_id)
        )
        """,
        "CREATE INDEX user_attachments_by_record ON user_attachments (kind, record_id)",
        """
        CREATE TABLE user_roles (
          username nocase_text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          role text NOT NULL,
          source text NOT NULL CHECK (source IN ('manual', 'calculated')),
          school_year text NOT NULL DEFAULT '',
          granted_run bigint,
          PRIMARY KEY (username, source, role, school_year)
        )
        """,
        """
        CREATE TABLE user_schools (
          username nocase_text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          school_id text NOT NULL,
          PRIMARY KEY (username, school_id)
        )
        """,
        """
        CREATE TABLE user_ledgers (
          username nocase_text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          ledger text NOT NULL,
          PRIMARY KEY (username, ledger)
        )
        """,
        """
        CREATE TABLE role_basis (
          id integer PRIMARY KEY CHECK (id = 1),
          school_year text NOT NULL,
          parent_relationships text NOT NULL,
          rules_version integer NOT NULL,
          last_change_id bigint NOT NULL
        )
        """,
        "CREATE TABLE email_key_basis (id integer PRIMARY KEY CHECK (id = 1), aliases text NOT NULL)",
        """
        CREATE TABLE access_codes (
          student_id text NOT NULL PRIMARY KEY,
          code text NOT NULL UNIQUE,
          created_at timestamptz NOT NULL,
          created_by text NOT NULL
        )
        """,
        """
        CREATE TABLE access_pairings (
          username nocase_text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          student_id text NOT NULL,
          paired_at timestamptz NOT NULL,
          PRIMARY KEY (username, student_id)
        )
        """,
        "CREATE INDEX access_pairings_by_student ON access_pairings (student_id)",
        "CREATE TABLE access_attempts (username nocase_text NOT NULL, at timestamptz NOT NULL)",
        "CREATE INDEX access_attempts_by_user ON access_attempts (username, at)",
        """
        CREATE TABLE forms (
          name nocase_text NOT NULL PRIMARY KEY,
          form_group text NOT NULL DEFAULT '',
          deleted_at timestamptz,
          created_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE permission_roles (
          name nocase_text NOT NULL PRIMARY KEY,
          deleted_at timestamptz,
          merged_into text,
          created_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE role_form_settings (
          role nocase_text NOT NULL,
          form nocase_text NOT NULL,
          default_level integer NOT NULL CHECK (default_level BETWEEN 0 AND 3),
          max_level integer NOT NULL CHECK (max_level BETWEEN 0 AND 3),
          PRIMARY KEY (role, form),
          CHECK (default_level <= max_level)
        )
        """,
        """
        CREATE TABLE role_assignments (
          username nocase_text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
          role nocase_text NOT NULL,
          buildings text NOT NULL DEFAULT '',
          suspended boolean NOT NULL DEFAULT false,
          PRIMARY KEY (username, role)
        )
        """,
        "CREATE INDEX role_assignments_by_role ON role_assignments (role)",
        """
        CREATE VIEW change_log (run_id, entity, record_id, field, old_value, new_value, kind) AS
          SELECT run_id, entity, record_id, field, old_value, new_value, kind FROM changes
          UNION ALL SELECT added_run, 'staff', staff_id, NULL, NULL, NULL, 'added' FROM staff
          UNION ALL SELECT added_run, 'students', student_id, NULL, NULL, NULL, 'added' FROM students
          UNION ALL SELECT added_run, 'households', household_id, NULL, NULL, NULL, 'added' FROM households
          UNION ALL SELECT added_run, 'household_relationships', household_id || '/' || record_type || '/' || record_id, NULL, NULL, NULL, 'added' FROM household_relationships
          UNION ALL SELECT added_run, 'applicants', applicant_id, NULL, NULL, NULL, 'added' FROM applicants
          UNION ALL SELECT added_run, 'donors', donor_id, NULL, NULL, NULL, 'added' FROM donors
          UNION ALL SELECT added_run, 'attributes', record_type || '/' || record_id || '/' || attribute || '/' || school_year, NULL, NULL, NULL, 'added' FROM attributes
          UNION ALL SELECT granted_run, 'users', r.username COLLATE "C", 'role', NULL, CASE WHEN r.school_year = '' THEN r.role ELSE r.role || ' (' || r.school_year || ')' END, 'role_granted' FROM user_roles r WHERE granted_run IS NOT NULL
          UNION ALL SELECT NULL, 'users', u.username COLLATE "C", NULL, NULL, coalesce((SELECT c.old_value FROM changes c WHERE c.entity = 'users' AND c.record_id = u.username COLLATE "C" AND c.field = 'email' AND c.at >= u.created_at ORDER BY c.change_id LIMIT 1), u.email COLLATE "C"), 'added' FROM users u WHERE u.added_by IS NOT NULL
          UNION ALL SELECT NULL, 'users', a.username COLLATE "C", a.kind, NULL, a.record_id, 'updated' FROM user_attachments a WHERE a.added_by IS NOT NULL
        """,
    ]
}
