/// The SQL the schema's migrations (`Migration.all`, in `Migrations.swift`) and the stores
/// share: the mirror tables, the change-log view, and a bulk import's kept entries.
/// `docs/schema.md` documents the tables for the web application that reads them.
public enum Schema {
    /// The version a new store is created at, and the newest this sisync understands.
    public static var currentVersion: Int32 { Int32(Migration.all.count) }

    /// The CREATE TABLE statement of an entity's mirror table.
    /// Version 1 tables have the value columns of version 1; later columns come with their
    /// own migrations (staff `enabled` in version 6). PostgreSQL's first version was 6, so
    /// its staff table has `enabled` from the start, where 0.2 made it.
    static func entityTable(_ kind: EntityKind, _ store: Migration.Store = .sqlite) -> String {
        let sqlite = store == .sqlite
        var columns = kind.keyColumns.map { "\($0) \(sqlite ? "TEXT" : "text") NOT NULL" }
        columns += kind.valueColumns.filter { !(sqlite && kind == .staff && $0 == "enabled") }.map { "\($0) \(sqlite ? "TEXT" : "text") NOT NULL DEFAULT ''" }
        columns += sqlite ? [
            "active INTEGER NOT NULL DEFAULT 1",
            "deactivated_at TEXT",
            "missing_since TEXT",
            "added_run INTEGER NOT NULL",
            "updated_run INTEGER NOT NULL",
            "fingerprint INTEGER NOT NULL",
        ] : [
            "active boolean NOT NULL DEFAULT true",
            "deactivated_at timestamptz",
            "missing_since timestamptz",
            "added_run bigint NOT NULL",
            "updated_run bigint NOT NULL",
            "fingerprint bigint NOT NULL",
        ]
        columns.append("PRIMARY KEY (\(kind.keyColumns.joined(separator: ", ")))")
        return "CREATE TABLE \(kind.table) (\n  " + columns.joined(separator: ",\n  ") + "\n)" + (sqlite ? " WITHOUT ROWID" : "")
    }

    /// The mirror tables of version 1 with their indexes: records waiting out
    /// `deactivate_after` in a tiny index, so unchanged runs find them at once.
    static func entityTables(_ store: Migration.Store) -> [String] {
        EntityKind.allCases.flatMap { kind in
            [entityTable(kind, store), "CREATE INDEX \(kind.table)_missing ON \(kind.table) (missing_since) WHERE missing_since IS NOT NULL"]
        }
    }

    /// Additions are not copied into `changes`: a record's `added_run` says which run added
    /// it (a first import of a million rows would otherwise double the database). The view
    /// `change_log` shows both as one audit trail. On PostgreSQL usernames (`nocase`) are
    /// compared byte for byte here, as SQLite's `COLLATE BINARY` does.
    static func changeLogView(rolesGrantedByRun: Bool = false, bulkAdditions: Bool = false, _ store: Migration.Store = .sqlite) -> String {
        let username = { (alias: String) in store == .sqlite ? "\(alias).username" : "\(alias).username COLLATE \"C\"" }
        var parts = ["SELECT run_id, entity, record_id, field, old_value, new_value, kind FROM changes"]
        // (Version 1 had the same columns; administrator changes have a NULL run_id.)
        for kind in EntityKind.allCases {
            let id = kind.keyColumns.count == 1 ? kind.keyColumns[0] : kind.keyColumns.joined(separator: " || '/' || ")
            parts.append("SELECT added_run, '\(kind.rawValue)', \(id), NULL, NULL, NULL, 'added' FROM \(kind.table)")
        }
        if rolesGrantedByRun {
            parts.append("""
                SELECT granted_run, 'users', \(username("r")), 'role', NULL, \(RoleRules.labelSQL("r")), 'role_granted' FROM user_roles r WHERE granted_run IS NOT NULL
                """)
        }
        if bulkAdditions {
            // `bulkAddedUsers` and `bulkAttachments` in the view's columns.
            parts += [
                "SELECT NULL, 'users', \(username("u")), NULL, NULL, \(addedEmailSQL("u", store)), 'added' FROM users u WHERE u.added_by IS NOT NULL",
                "SELECT NULL, 'users', \(username("a")), a.kind, NULL, a.record_id, 'updated' FROM user_attachments a WHERE a.added_by IS NOT NULL",
            ]
        }
        return "CREATE VIEW change_log (run_id, entity, record_id, field, old_value, new_value, kind) AS\n  " + parts.joined(separator: "\n  UNION ALL ")
    }

    /// The change-log entries a bulk user import keeps in the rows it adds (version 7), as
    /// rows of `changes`' columns `bulkEntryColumns`: the user's addition (with the email it
    /// was added with) and the new users' attachments, in the file's order. A user's
    /// history and the copy made before those rows go read them from here; `change_log`
    /// shows the same rows in its own columns.
    static let bulkEntryColumns = "run_id, at, actor, entity, record_id, field, old_value, new_value, kind"

    static func bulkAddedUsers(matching condition: SQLQuery) -> SQLQuery {
        """
        SELECT NULL, u.created_at, u.added_by, 'users', u.username, NULL, NULL, \(unescaped: addedEmailSQL("u")), 'added'
        FROM users u WHERE u.added_by IS NOT NULL AND \(sql: condition)
        """
    }

    static func bulkAttachments(matching condition: SQLQuery) -> SQLQuery {
        """
        SELECT NULL, a.added_at, a.added_by, 'users', a.username, a.kind, NULL, a.record_id, 'updated'
        FROM user_attachments a WHERE a.added_by IS NOT NULL AND \(sql: condition) ORDER BY a.added_seq
        """
    }

    /// The email a user was added with: an email change logs the old address, so the first
    /// one's old value since the user was created (not a removed namesake's), or else the
    /// address the user has now.
    static func addedEmailSQL(_ alias: String, _ store: Migration.Store = .sqlite) -> String {
        let binary = store == .sqlite ? "COLLATE BINARY" : "COLLATE \"C\""
        return """
            coalesce((SELECT c.old_value FROM changes c WHERE c.entity = 'users' AND c.record_id = \(alias).username \(binary) \
            AND c.field = 'email' AND c.at >= \(alias).created_at ORDER BY c.change_id LIMIT 1), \(alias).email \(binary))
            """
    }
}
