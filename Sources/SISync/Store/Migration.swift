/// One step of the store's schema, in the SQL of each database side by side, so that the
/// two stores cannot drift apart: a step is written once, for both, in `Migration.all`.
/// A step's version is its place in that list (the first is version 1); `Migrator`
/// applies the steps a store has not had yet.
public struct Migration: Sendable {
    /// The two databases a store lives in.
    public enum Store: Sendable { case sqlite, postgres }

    /// What the step is for, in a few words (also the `Migrator`'s name for it in errors).
    public let name: String
    let sqlite: [String]
    let postgres: [String]
    /// Work on the rows that SQL alone cannot do, run after the step's SQLite statements.
    /// SQLite only: PostgreSQL schemas began at version 6 (a lower stored version is
    /// refused), so on PostgreSQL the steps before 7 only ever run on an empty schema.
    let sqliteRows: (@Sendable (SQLiteDatabase) throws -> Void)?
    /// A step that rebuilds a table other tables refer to (SQLite's way to change a table:
    /// make the new one, copy, drop the old, rename). Foreign keys are off while it runs,
    /// or dropping the old table would first delete its rows and cascade to every row that
    /// refers to them; they are checked before the step commits (`Migrator`).
    let sqliteForeignKeysOff: Bool
    /// The table such a step makes again, when it is one applications use (`users`): what
    /// they made on it is kept aside and made again after the step (`ApplicationObjects`).
    let sqliteRebuilds: String?

    /// `postgres` is written with `text` and `nocase_text`; they become `text COLLATE "C"`
    /// (byte for byte, as SQLite compares, whatever the database's locale) and
    /// `text COLLATE nocase` (SQLite's `COLLATE NOCASE`: the collation step 1 makes).
    init(_ name: String, sqlite: [String], postgres: [String], sqliteRows: (@Sendable (SQLiteDatabase) throws -> Void)? = nil,
         sqliteForeignKeysOff: Bool = false, sqliteRebuilds: String? = nil) {
        self.name = name
        self.sqlite = sqlite
        self.postgres = postgres.map { sql in
            sql.replacingOccurrences(of: #"\btext\b"#, with: "text COLLATE \"C\"", options: .regularExpression)
                .replacingOccurrences(of: "nocase_text", with: "text COLLATE nocase")
        }
        self.sqliteRows = sqliteRows
        self.sqliteForeignKeysOff = sqliteForeignKeysOff
        self.sqliteRebuilds = sqliteRebuilds
    }

    func statements(_ store: Store) -> [String] { store == .sqlite ? sqlite : postgres }
}
