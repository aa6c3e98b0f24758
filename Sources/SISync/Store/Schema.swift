/// The database schema, versioned with `PRAGMA user_version` and migrated forward at open.
/// `docs/schema.md` documents the tables for the web application that reads them.
public enum Schema {
    /// Each migration takes the schema from version `index` to `index + 1`.
    nonisolated(unsafe) static let migrations: [(SQLiteDatabase) throws -> Void] = [
        migrateToVersion1,
        migrateToVersion2,
        migrateToVersion3,
        migrateToVersion4,
        migrateToVersion5,
        migrateToVersion6,
        migrateToVersion7,
        migrateToVersion8,
    ]

    public static var currentVersion: Int32 { Int32(migrations.count) }

    /// Brings the database up to the current version, one migration per transaction.
    /// A version above the current one (a newer sisync's database) or below 0 is refused
    /// before any migration, never used as an index (issue 26 item 16).
    public static func migrate(_ db: SQLiteDatabase) throws {
        let found = Int(try db.userVersion)
        if found > migrations.count { throw StoreError.newerSchema(path: db.path, found: found, supported: migrations.count) }
        if found < 0 { throw StoreError.unknownSchemaVersion(path: db.path, found: found, oldest: 0) }
        for version in found..<migrations.count {
            try db.transaction {
                try migrations[version](db)
                try db.setUserVersion(Int32(version + 1))
            }
        }
    }

    /// The CREATE TABLE statement of an entity's mirror table.
    /// Version 1 tables have the value columns of version 1; later columns come with their
    /// own migrations (staff `enabled` in version 6).
    static func entityTable(_ kind: EntityKind) -> String {
        var columns = kind.keyColumns.map { "\($0) TEXT NOT NULL" }
        columns += kind.valueColumns.filter { !(kind == .staff && $0 == "enabled") }.map { "\($0) TEXT NOT NULL DEFAULT ''" }
        columns += [
            "active INTEGER NOT NULL DEFAULT 1",
            "deactivated_at TEXT",
            "missing_since TEXT",
            "added_run INTEGER NOT NULL",
            "updated_run INTEGER NOT NULL",
            "fingerprint INTEGER NOT NULL",
            "PRIMARY KEY (\(kind.keyColumns.joined(separator: ", ")))",
        ]
        return "CREATE TABLE \(kind.table) (\n  " + columns.joined(separator: ",\n  ") + "\n) WITHOUT ROWID"
    }

    /// Additions are not copied into `changes`: a record's `added_run` says which run added
    /// it (a first import of a million rows would otherwise double the database). The view
    /// `change_log` shows both as one audit trail.
    static func changeLogView(rolesGrantedByRun: Bool = false, bulkAdditions: Bool = false) -> String {
        var parts = ["SELECT run_id, entity, record_id, field, old_value, new_value, kind FROM changes"]
        // (Version 1 had the same columns; administrator changes have a NULL run_id.)
        for kind in EntityKind.allCases {
            let id = kind.keyColumns.count == 1 ? kind.keyColumns[0] : kind.keyColumns.joined(separator: " || '/' || ")
            parts.append("SELECT added_run, '\(kind.rawValue)', \(id), NULL, NULL, NULL, 'added' FROM \(kind.table)")
        }
        if rolesGrantedByRun {
            parts.append("""
                SELECT granted_run, 'users', r.username, 'role', NULL, \(RoleRules.labelSQL("r")), 'role_granted' FROM user_roles r WHERE granted_run IS NOT NULL
                """)
        }
        if bulkAdditions {
            // `bulkAddedUsers` and `bulkAttachments` in the view's columns.
            parts += [
                "SELECT NULL, 'users', u.username, NULL, NULL, \(addedEmailSQL("u")), 'added' FROM users u WHERE u.added_by IS NOT NULL",
                "SELECT NULL, 'users', a.username, a.kind, NULL, a.record_id, 'updated' FROM user_attachments a WHERE a.added_by IS NOT NULL",
            ]
        }
        return "CREATE VIEW change_log (run_id, entity, record_id, field, old_value, new_value, kind) AS\n  " + parts.joined(separator: "\n  UNION ALL ")
    }

    /// Version 2: user accounts. Administrator changes (made with sisyncctl, outside any
    /// run) go into the same change log, with their own actor and time, so `changes.run_id`
    /// becomes optional; users gain attachments, roles, schools and ledgers.
    static func migrateToVersion2(_ db: SQLiteDatabase) throws {
        try db.execute("""
            DROP VIEW change_log;
            CREATE TABLE changes_v2 (
              change_id INTEGER PRIMARY KEY,
              run_id INTEGER REFERENCES runs(run_id),
              entity TEXT NOT NULL,
              record_id TEXT NOT NULL,
              field TEXT,
              old_value TEXT,
              new_value TEXT,
              kind TEXT NOT NULL,
              actor TEXT,
              at TEXT
            );
            INSERT INTO changes_v2 (change_id, run_id, entity, record_id, field, old_value, new_value, kind)
              SELECT change_id, run_id, entity, record_id, field, old_value, new_value, kind FROM changes;
            DROP TABLE changes;
            ALTER TABLE changes_v2 RENAME TO changes;
            CREATE INDEX changes_by_record ON changes (entity, record_id);
            CREATE INDEX changes_by_run ON changes (run_id);
            CREATE TABLE user_attachments (
              username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
              kind TEXT NOT NULL CHECK (kind IN ('student', 'household', 'donor')),
              record_id TEXT NOT NULL,
              PRIMARY KEY (username, kind, record_id)
            ) WITHOUT ROWID;
            CREATE INDEX user_attachments_by_record ON user_attachments (kind, record_id);
            CREATE TABLE user_roles (
              username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
              role TEXT NOT NULL,
              source TEXT NOT NULL CHECK (source IN ('manual', 'calculated')),
              school_year TEXT NOT NULL DEFAULT '',
              PRIMARY KEY (username, source, role, school_year)
            ) WITHOUT ROWID;
            CREATE TABLE user_schools (
              username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
              school_id TEXT NOT NULL,
              PRIMARY KEY (username, school_id)
            ) WITHOUT ROWID;
            CREATE TABLE user_ledgers (
              username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
              ledger TEXT NOT NULL,
              PRIMARY KEY (username, ledger)
            ) WITHOUT ROWID;
            """)
        try db.execute(changeLogView())
    }

    static func migrateToVersion1(_ db: SQLiteDatabase) throws {
        try db.execute("""
            CREATE TABLE runs (
              run_id INTEGER PRIMARY KEY,
              started_at TEXT NOT NULL,
              finished_at TEXT,
              outcome TEXT NOT NULL CHECK (outcome IN ('running', 'applied', 'unchanged', 'blocked', 'failed')),
              error TEXT,
              actor TEXT NOT NULL,
              trigger TEXT NOT NULL DEFAULT 'schedule',
              content_hash TEXT,
              staff_added INTEGER NOT NULL DEFAULT 0,
              staff_updated INTEGER NOT NULL DEFAULT 0,
              staff_deactivated INTEGER NOT NULL DEFAULT 0,
              staff_reactivated INTEGER NOT NULL DEFAULT 0,
              links_made INTEGER NOT NULL DEFAULT 0,
              links_removed INTEGER NOT NULL DEFAULT 0,
              links_ambiguous INTEGER NOT NULL DEFAULT 0,
              roles_granted INTEGER NOT NULL DEFAULT 0,
              roles_revoked INTEGER NOT NULL DEFAULT 0,
              records_changed INTEGER NOT NULL DEFAULT 0,
              entity_counts TEXT NOT NULL DEFAULT '{}',
              problems TEXT NOT NULL DEFAULT '[]',
              reverts INTEGER REFERENCES runs(run_id)
            );
            CREATE TABLE changes (
              change_id INTEGER PRIMARY KEY,
              run_id INTEGER NOT NULL REFERENCES runs(run_id),
              entity TEXT NOT NULL,
              record_id TEXT NOT NULL,
              field TEXT,
              old_value TEXT,
              new_value TEXT,
              kind TEXT NOT NULL
            );
            CREATE INDEX changes_by_record ON changes (entity, record_id);
            CREATE INDEX changes_by_run ON changes (run_id);
            CREATE TABLE source_state (
              url TEXT PRIMARY KEY,
              etag TEXT,
              last_modified TEXT,
              sha256 TEXT,
              run_id INTEGER REFERENCES runs(run_id)
            );
            CREATE TABLE users (
              username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
              email TEXT NOT NULL UNIQUE COLLATE NOCASE,
              name TEXT NOT NULL DEFAULT '',
              approved INTEGER NOT NULL DEFAULT 0,
              locked INTEGER NOT NULL DEFAULT 0,
              failed_logins INTEGER NOT NULL DEFAULT 0,
              password_hash TEXT,
              created_at TEXT NOT NULL
            );
            CREATE TABLE links (
              username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE REFERENCES users(username),
              staff_id TEXT NOT NULL,
              kind TEXT NOT NULL CHECK (kind IN ('auto', 'manual')),
              reason TEXT,
              until TEXT,
              created_at TEXT NOT NULL,
              created_by TEXT NOT NULL
            );
            CREATE INDEX links_by_staff ON links (staff_id);
            """)
        for kind in EntityKind.allCases {
            try db.execute(entityTable(kind))
            // Records waiting out `deactivate_after`: a tiny index, so unchanged runs find them at once.
            try db.execute("CREATE INDEX \(kind.table)_missing ON \(kind.table) (missing_since) WHERE missing_since IS NOT NULL")
        }
        try db.execute("CREATE INDEX staff_by_email ON staff (email COLLATE NOCASE)")
        try db.execute(changeLogView())
    }

    /// Version 3: users carry their R6 email key (`email_key`, NULL until a run computes it;
    /// `email_key_basis` holds the aliases it was made with), so a run reads only the users
    /// that can link. `export_files` keeps each entity file's SHA-256 from the last applied
    /// run, so an unchanged file is not parsed again. A calculated role's `granted_run` records its grant (a first import grants
    /// hundreds of thousands; copying each into `changes` doubled the write). And what the
    /// calculated roles were last computed from (school year, parent
    /// relationships, rules version, and the last change-log entry they saw), so that a run
    /// recomputes only the users whose inputs changed, and everyone when the basis did.
    static func migrateToVersion3(_ db: SQLiteDatabase) throws {
        try db.execute("""
            CREATE TABLE role_basis (
              id INTEGER PRIMARY KEY CHECK (id = 1),
              school_year TEXT NOT NULL,
              parent_relationships TEXT NOT NULL,
              rules_version INTEGER NOT NULL,
              last_change_id INTEGER NOT NULL
            );
            ALTER TABLE user_roles ADD COLUMN granted_run INTEGER;
            ALTER TABLE users ADD COLUMN email_key TEXT;
            CREATE INDEX users_by_email_key ON users (email_key);
            CREATE TABLE email_key_basis (id INTEGER PRIMARY KEY CHECK (id = 1), aliases TEXT NOT NULL);
            CREATE TABLE export_files (entity TEXT PRIMARY KEY, sha256 TEXT NOT NULL, run_id INTEGER NOT NULL);
            DROP VIEW change_log;
            """)
        try db.execute(changeLogView(rolesGrantedByRun: true))
    }

    /// Version 4: parent-portal access codes (one per student), pairings of users with
    /// students, and failed pairing attempts for throttling.
    static func migrateToVersion4(_ db: SQLiteDatabase) throws {
        try db.execute("""
            CREATE TABLE access_codes (
              student_id TEXT NOT NULL PRIMARY KEY,
              code TEXT NOT NULL UNIQUE,
              created_at TEXT NOT NULL,
              created_by TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE access_pairings (
              username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
              student_id TEXT NOT NULL,
              paired_at TEXT NOT NULL,
              PRIMARY KEY (username, student_id)
            ) WITHOUT ROWID;
            CREATE INDEX access_pairings_by_student ON access_pairings (student_id);
            CREATE TABLE access_attempts (
              username TEXT NOT NULL COLLATE NOCASE,
              at TEXT NOT NULL
            );
            CREATE INDEX access_attempts_by_user ON access_attempts (username, at);
            """)
    }

    /// Version 5: form permission roles. Deleting a role keeps its assignments, suspended,
    /// so that undeleting it gives it back to the same users in the same buildings.
    static func migrateToVersion5(_ db: SQLiteDatabase) throws {
        try db.execute("""
            CREATE TABLE forms (
              name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
              form_group TEXT NOT NULL DEFAULT '',
              deleted_at TEXT,
              created_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE permission_roles (
              name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
              deleted_at TEXT,
              merged_into TEXT,
              created_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE role_form_settings (
              role TEXT NOT NULL COLLATE NOCASE,
              form TEXT NOT NULL COLLATE NOCASE,
              default_level INTEGER NOT NULL CHECK (default_level BETWEEN 0 AND 3),
              max_level INTEGER NOT NULL CHECK (max_level BETWEEN 0 AND 3),
              PRIMARY KEY (role, form),
              CHECK (default_level <= max_level)
            ) WITHOUT ROWID;
            CREATE TABLE role_assignments (
              username TEXT NOT NULL COLLATE NOCASE REFERENCES users(username) ON DELETE CASCADE,
              role TEXT NOT NULL COLLATE NOCASE,
              buildings TEXT NOT NULL DEFAULT '',
              suspended INTEGER NOT NULL DEFAULT 0,
              PRIMARY KEY (username, role)
            ) WITHOUT ROWID;
            CREATE INDEX role_assignments_by_role ON role_assignments (role);
            """)
    }

    /// Version 6: staff `enabled` (OneRoster `enabledUser`): "" means enabled, "false"
    /// disabled. Each staff fingerprint covers its value columns, so it is extended by the
    /// new, empty value here; otherwise every staff record would look changed once.
    static func migrateToVersion6(_ db: SQLiteDatabase) throws {
        try db.execute("ALTER TABLE staff ADD COLUMN enabled TEXT NOT NULL DEFAULT ''")
        let read = try db.prepare("SELECT staff_id, fingerprint FROM staff")
        var fingerprints: [(String, Int64)] = []
        try read.forEachRow { row in
            let extended = (UInt64(bitPattern: row.int64(1)) ^ 0x1F) &* 0x0000_0100_0000_01B3
            fingerprints.append((row.text(0), Int64(bitPattern: extended)))
        }
        let update = try db.prepare("UPDATE staff SET fingerprint = ? WHERE staff_id = ?")
        for (id, fingerprint) in fingerprints {
            try update.bind(1, fingerprint)
            try update.bind(2, id)
            try update.run()
        }
    }

    /// The change-log entries a bulk user import keeps in the rows it adds (version 7), as
    /// rows of `changes`' columns `bulkEntryColumns`: the user's addition (with the email it
    /// was added with) and the new users' attachments, in the file's order. A user's
    /// history and the copy made before those rows go read them from here; `change_log`
    /// shows the same rows in its own columns.
    static let bulkEntryColumns = "run_id, at, actor, entity, record_id, field, old_value, new_value, kind"

    static func bulkAddedUsers(where condition: String) -> String {
        """
        SELECT NULL, u.created_at, u.added_by, 'users', u.username, NULL, NULL, \(addedEmailSQL("u")), 'added'
        FROM users u WHERE u.added_by IS NOT NULL AND \(condition)
        """
    }

    static func bulkAttachments(where condition: String) -> String {
        """
        SELECT NULL, a.added_at, a.added_by, 'users', a.username, a.kind, NULL, a.record_id, 'updated'
        FROM user_attachments a WHERE a.added_by IS NOT NULL AND \(condition) ORDER BY a.added_seq
        """
    }

    /// The email a user was added with: an email change logs the old address, so the first
    /// one's old value since the user was created (not a removed namesake's), or else the
    /// address the user has now.
    static func addedEmailSQL(_ alias: String) -> String {
        """
        coalesce((SELECT c.old_value FROM changes c WHERE c.entity = 'users' AND c.record_id = \(alias).username COLLATE BINARY \
        AND c.field = 'email' AND c.at >= \(alias).created_at ORDER BY c.change_id LIMIT 1), \(alias).email COLLATE BINARY)
        """
    }

    /// Version 7: a user import of many users (issue 16) no longer copies each new user and
    /// each of their attachments into `changes` (400,000 rows for a district, a quarter of
    /// the database): the rows themselves say who added them (`added_by`) and when
    /// (`users.created_at`, `user_attachments.added_at`; `added_seq` keeps the file's order),
    /// and `change_log` and a user's history show them as before. Removing the user or the attachment first copies the
    /// entry into `changes`, so the history stays whole.
    static func migrateToVersion7(_ db: SQLiteDatabase) throws {
        try db.execute("""
            ALTER TABLE users ADD COLUMN added_by TEXT;
            ALTER TABLE user_attachments ADD COLUMN added_by TEXT;
            ALTER TABLE user_attachments ADD COLUMN added_at TEXT;
            ALTER TABLE user_attachments ADD COLUMN added_seq INTEGER;
            DROP VIEW change_log;
            """)
        try db.execute(changeLogView(rolesGrantedByRun: true, bulkAdditions: true))
    }

    /// Held runs (version 8): a run the guard blocks keeps its plan in `held_plans` until it
    /// is approved, discarded, superseded by a later applied run, or expires; the run that
    /// applies an approved plan names it in `runs.approves`.
    static func migrateToVersion8(_ db: SQLiteDatabase) throws {
        try db.execute("""
            ALTER TABLE runs ADD COLUMN approves INTEGER REFERENCES runs(run_id);
            \(heldPlansTable)
            """)
    }

    static let heldPlansTable = """
        CREATE TABLE held_plans (
          run_id INTEGER PRIMARY KEY REFERENCES runs(run_id),
          held_at TEXT NOT NULL,
          expires_at TEXT NOT NULL,
          change_mark INTEGER NOT NULL,
          settings_digest TEXT,
          plan TEXT NOT NULL,
          ended TEXT CHECK (ended IN ('approved', 'discarded', 'superseded')),
          ended_at TEXT,
          ended_by TEXT,
          ended_run INTEGER REFERENCES runs(run_id)
        );
        """
}
