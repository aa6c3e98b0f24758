import Foundation

/// `sisyncctl store copy --to URL`: moves a SQLite deployment to PostgreSQL whole (runs,
/// the change log, mirror, users, links, roles, codes, pairings, forms, validators), in
/// one transaction, into a schema that holds no data yet, and checks every table's row
/// count before it commits. The SQLite file is only read.
public enum StoreCopy {
    /// Every table, parents before the tables that refer to them.
    public static let tables = [
        "runs", "held_plans", "source_state", "export_files", "changes",
        "staff", "students", "households", "household_relationships", "applicants", "donors", "attributes",
        "users", "links", "user_attachments", "user_roles", "user_schools", "user_ledgers", "role_basis", "email_key_basis",
        "access_codes", "access_pairings", "access_attempts",
        "forms", "permission_roles", "role_form_settings", "role_assignments",
    ]

    /// Tables whose id PostgreSQL generates: their sequences continue after the copied ids.
    static let identities = [("runs", "run_id"), ("changes", "change_id")]

    public enum CopyError: Error, CustomStringConvertible {
        case notEmpty(target: String, table: String, rows: Int)
        case countMismatch(table: String, source: Int, target: Int)
        case notSQLite(String)

        public var description: String {
            switch self {
            case .notEmpty(let target, let table, let rows):
                return "\(target) already holds data (\(table): \(rows) rows); store copy only fills an empty schema: name a new one with --schema, or drop this one first"
            case .countMismatch(let table, let source, let target):
                return "\(table): copied \(target) rows of \(source); nothing was kept (the copy was rolled back)"
            case .notSQLite(let what):
                return "store copy reads a SQLite database, and \(what) is not one: use --db PATH or a configuration whose database is a file"
            }
        }
    }

    /// Copies `source` into `target`; returns the rows per table, in copy order.
    public static func copy(from source: SQLiteDatabase, to target: PostgresDatabase) throws -> [(table: String, rows: Int)] {
        for table in tables {
            let n = try count(target, table)
            if n > 0 { throw CopyError.notEmpty(target: target.location, table: table, rows: n) }
        }
        return try target.transaction {
            var copied: [(table: String, rows: Int)] = []
            for table in tables {
                var columns: [String] = []
                let list = try target.connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                    [target.settings.schema, table])
                for r in 0..<list.rowCount { if let c = list.value(r, 0) { columns.append(c) } }
                let read = try source.query("SELECT \(unescaped: columns.joined(separator: ", ")) FROM \(unescaped: table)")
                try target.insertRows(into: table, columns: columns) { sink in
                    try read.forEachRow { row in
                        for c in 0..<Int32(columns.count) {
                            if row.isNull(c) { try sink.add(nil as String?) } else { try row.withText(c) { try sink.add(utf8: $0) } }
                        }
                        try sink.endRow()
                    }
                }
                let expected = try count(source, table), found = try count(target, table)
                guard expected == found else { throw CopyError.countMismatch(table: table, source: expected, target: found) }
                copied.append((table, found))
            }
            for (table, column) in identities {
                try target.connection.execute(
                    "SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(\(column)) FROM \(table)), 0) + 1, false)",
                    [PostgresSchema.qualified(target.settings.schema, table), column])
            }
            return copied
        }
    }

    static func count(_ db: any StoreDatabase, _ table: String) throws -> Int {
        try db.int("SELECT count(*) FROM \(unescaped: table)") ?? 0
    }
}
