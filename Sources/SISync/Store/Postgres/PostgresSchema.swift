import Foundation

/// Where the PostgreSQL store lives (issue 14): one schema (`[sync] database_schema`, default
/// `sisync`), created if missing, holding the same tables and column names as the SQLite
/// store of the same version, with PostgreSQL's types where they differ (`boolean`,
/// `timestamptz`, `date`, `bigint`) and SQLite's `COLLATE NOCASE` as the collation `nocase`
/// (`Migration.all` has both forms of each step). It is created or migrated in one
/// transaction, so a failure leaves nothing half made.
public enum PostgresSchema {
    /// The schema version a new schema gets (SQLite's `PRAGMA user_version` of the same tables).
    public static var version: Int { Migration.all.count }

    /// The first version of the PostgreSQL schema (SQLite's 6): a lower stored one is refused.
    static var firstVersion: Int { Migrator.oldestPostgresVersion }

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
            let found = try Migrator().migrate(connection, location: location)
            try connection.execute("COMMIT")
            return found
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
