/// Brings a store's schema to the current version by applying the steps of `Migration.all`
/// it has not had, on SQLite or on PostgreSQL. The version is kept where sisync 0.1 and 0.2
/// kept it, so their databases migrate: SQLite's `PRAGMA user_version`, PostgreSQL's table
/// `schema_version` (one row, `id` = 1). A stored version above the newest step (a newer
/// sisync migrated it) or below the oldest a release wrote is refused before any step,
/// never used as an index (issue 26 item 16).
public struct Migrator {
    public let migrations: [Migration]

    public init(_ migrations: [Migration] = Migration.all) { self.migrations = migrations }

    /// The version a new store gets, and the newest this sisync understands.
    public var latestVersion: Int { migrations.count }

    /// The oldest version a released sisync left a PostgreSQL schema at (the SQLite
    /// schema's 6, where PostgreSQL came in); 0 is a schema with no tables yet.
    public static let oldestPostgresVersion = 6

    /// The indexes of the steps that take a store at `found` to `target`: none at the
    /// target. `oldest` is the lowest version a release left behind, besides 0 (nothing yet).
    func steps(from found: Int, oldest: Int, to target: Int? = nil, location: String) throws(StoreError) -> Range<Int> {
        if found > latestVersion { throw .newerSchema(path: location, found: found, supported: latestVersion) }
        if found < 0 || (found != 0 && found < oldest) { throw .unknownSchemaVersion(path: location, found: found, oldest: oldest) }
        return found..<max(found, min(target ?? latestVersion, latestVersion))
    }

    /// SQLite: one transaction per step, so an interrupted upgrade stops at a whole version.
    /// `target` (tests) stops at an older version, as an older sisync left it.
    public func migrate(_ db: SQLiteDatabase, to target: Int? = nil) throws {
        for index in try steps(from: Int(try db.userVersion), oldest: 0, to: target, location: db.path) {
            let step = migrations[index]
            // (The pragma is a no-op inside a transaction: it is set around it.)
            let enforced = try step.sqliteForeignKeysOff && db.int("PRAGMA foreign_keys") == 1
            if enforced { try db.execute("PRAGMA foreign_keys = OFF") }
            defer { if enforced { try? db.execute("PRAGMA foreign_keys = ON") } }
            try db.transaction {
                // Read again under the write lock (BEGIN IMMEDIATE): another connection that
                // opened the same new database at the same moment may have made this step
                // already ("table runs already exists" otherwise).
                guard try db.userVersion <= Int32(index) else { return }
                let kept = try step.sqliteRebuilds.map { try ApplicationObjects.setAside(on: $0, in: db) }
                for sql in step.sqlite { try db.execute(sql) }
                try kept?.restore(in: db, version: index + 1, step: step.name)
                try step.sqliteRows?(db)
                if step.sqliteForeignKeysOff { try Self.checkForeignKeys(db, after: step, version: index + 1) }
                try db.setUserVersion(Int32(index + 1))
            }
        }
    }

    /// A step made with foreign keys off must leave none broken (a row of an older
    /// database that referred to nothing, say): the step is rolled back, with what to fix.
    private static func checkForeignKeys(_ db: SQLiteDatabase, after step: Migration, version: Int) throws {
        let broken = try db.prepare("SELECT \"table\", parent FROM pragma_foreign_key_check LIMIT 1")
        guard try broken.step() else { return }
        throw StoreError.corrupt(path: db.path, message: "rows of \(broken.text(0)) refer to \(broken.text(1)) rows that are not there, found while "
                                 + "upgrading it to version \(version) (\(step.name)), which was rolled back; delete those rows or restore a backup, then start again")
    }

    /// PostgreSQL, inside the caller's transaction with the schema first on the search path
    /// and `schema_version` present (`PostgresSchema.prepare`): a new schema gets every step,
    /// one at an older version the steps it lacks. Returns the version found (0 for a new
    /// schema). A second process migrating at the same time waits for the row lock, then
    /// finds the schema migrated, perhaps by a newer sisync, which is refused.
    func migrate(_ connection: PostgresConnection, location: String) throws -> Int {
        let found = try Self.postgresVersion(connection, lock: false)
        if found == 0 {
            for index in try steps(from: 0, oldest: Self.oldestPostgresVersion, location: location) {
                for sql in migrations[index].postgres { try connection.execute(sql) }
            }
            try connection.execute("INSERT INTO schema_version (id, version) VALUES (1, $1::integer)", [String(latestVersion)])
        } else if try !steps(from: found, oldest: Self.oldestPostgresVersion, location: location).isEmpty {
            // A read-only role at the current version never gets here.
            let locked = try Self.postgresVersion(connection, lock: true)
            for index in try steps(from: locked, oldest: Self.oldestPostgresVersion, location: location) {
                for sql in migrations[index].postgres { try connection.execute(sql) }
            }
            try connection.execute("UPDATE schema_version SET version = $1::integer WHERE id = 1", [String(latestVersion)])
        }
        return found
    }

    private static func postgresVersion(_ connection: PostgresConnection, lock: Bool) throws -> Int {
        Int(try connection.execute("SELECT version FROM schema_version WHERE id = 1" + (lock ? " FOR UPDATE" : "")).value(0, 0) ?? "0") ?? 0
    }
}
