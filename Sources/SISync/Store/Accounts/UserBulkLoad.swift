import Foundation

/// A bulk load of users or attachments (a district's first `user import`: 207,000 users and
/// as many attachments) with the tables' secondary indexes built after the rows, not kept up
/// to date row by row.
///
/// An index maintained while rows go in takes one b-tree insert per row, at a random place
/// for a random key (`scim_id`); one built afterwards reads the table once and sorts. So
/// when a load adds at least `share` of the rows a table will have, its full secondary
/// indexes are dropped and made again around the load, inside the caller's transaction: a
/// failed import rolls back to the old indexes, and no reader sees the table without them
/// (PostgreSQL holds the table's exclusive lock from the drop to the commit; a first import
/// is when that matters least). The partial indexes, which hold a few rows, are kept.
/// The definitions are the schema's own (migration 13 makes them from here), so the rebuilt
/// indexes are those of a new store.
enum UserBulkLoad {
    /// The share of a table's rows (after the load) that a load must add for the rebuild.
    static let share = 0.25

    /// `users`' unique email index (its case-insensitive collation is the column's). On
    /// PostgreSQL the `UNIQUE` constraint of the table's first version, kept with its name.
    private static func usersByEmail(_ store: Migration.Store) -> (drop: String, create: String) {
        store == .sqlite
            ? ("DROP INDEX users_by_email", "CREATE UNIQUE INDEX users_by_email ON users (email)")
            : ("ALTER TABLE users DROP CONSTRAINT users_email_key", "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)")
    }

    /// SCIM's id of a user (schema 11): 32 random hex digits, so each insert lands at a
    /// random place of the index. On SQLite since schema 16 the id's bits as two integers
    /// (`UserKeyColumns`), half the bytes of its hex digits.
    private static func usersBySCIMID(_ store: Migration.Store, version: Int) -> (drop: String, create: String) {
        store == .sqlite && version >= 16
            ? ("DROP INDEX users_by_scim_id", "CREATE UNIQUE INDEX users_by_scim_id ON users (scim_id_high, scim_id_low)")
            : ("DROP INDEX users_by_scim_id", "CREATE UNIQUE INDEX users_by_scim_id ON users (scim_id)")
    }

    private static let attachmentsByRecord = ("DROP INDEX user_attachments_by_record", "CREATE INDEX user_attachments_by_record ON user_attachments (kind, record_id)")

    /// The users whose email key is not their email in lower case, or not made yet: a few
    /// in a district (`AccountStore.otherKey` reads them with the same predicate, as it is
    /// written here, so that both planners use the index).
    /// Since schema 16 on SQLite, where the key is generated, the same users are those whose
    /// stored key is not 0 (`UserKeyColumns.otherKey`).
    static func usersByOtherEmailKey(_ store: Migration.Store, version: Int = 13) -> String {
        if store == .sqlite && version >= 16 {
            return "CREATE INDEX users_by_other_email_key ON users (email_key) WHERE stored_email_key IS NOT 0"
        }
        return "CREATE INDEX users_by_other_email_key ON users (email_key) WHERE email_key IS NULL OR email_key <> lower(email) COLLATE "
            + (store == .sqlite ? "BINARY" : "\"C\"")
    }

    /// An identity provider's id of a user: only the users that have one.
    static let usersByExternalID = "CREATE INDEX users_by_external_id ON users (external_id) WHERE external_id IS NOT NULL"

    /// The full secondary indexes of `table` as (drop, create) statements, as schema
    /// `version` makes them (a migration step makes its own version's; a load, the latest).
    static func indexes(of table: String, _ store: Migration.Store, version: Int = Migration.all.count) -> [(drop: String, create: String)] {
        switch table {
        case "users": return [usersByEmail(store), usersBySCIMID(store, version: version)]
        case "user_attachments": return [attachmentsByRecord]
        default: return []
        }
    }

    /// Whether adding `adding` rows to a table of `existing` rows rebuilds its indexes.
    static func rebuilds(adding: Int, existing: Int) -> Bool {
        adding > 0 && Double(adding) >= share * Double(existing + adding)
    }

    /// Runs `load`, which adds `adding` rows to `table`, with the table's secondary indexes
    /// dropped before and built after it when `rebuilds` says so; as it is otherwise.
    static func load(_ table: String, adding: Int, in database: any StoreDatabase, _ load: () throws -> Void) throws {
        let indexes = indexes(of: table, database is PostgresDatabase ? .postgres : .sqlite)
        guard !indexes.isEmpty, adding > 0,
              rebuilds(adding: adding, existing: try database.int("SELECT count(*) FROM \(unescaped: table)") ?? 0) else { return try load() }
        for index in indexes { try database.execute(index.drop) }
        try load()
        for index in indexes { try database.execute(index.create) }
    }
}
