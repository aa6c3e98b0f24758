import Foundation

/// The schema version a store is at, read without changing anything: no migration, no
/// file created, no lock taken (`sisyncd --check-config` says whether a migration is due
/// before the daemon's start would run it).
public enum StoreSchemaVersion {
    /// The version found, or nil when there is no store yet (no SQLite file, no PostgreSQL
    /// schema): the daemon's first start creates it.
    public static func found(at location: StoreLocation) throws -> Int? {
        switch location {
        case .sqlite(let path):
            // Looked for as the store looks for it: a link another user could change is refused.
            guard try SQLiteFiles.exists(path) else { return nil }
            return Int(try SQLiteDatabase(path: path, readOnly: true).userVersion)
        case .postgres(let settings):
            let connection = try PostgresConnection(uri: settings.uri, password: try settings.password(), applicationName: StoreLocation.applicationName())
            let table = PostgresSchema.qualified(settings.schema, "schema_version")
            guard try connection.execute("SELECT to_regclass($1)", [table]).value(0, 0) != nil else { return nil }
            return Int(try connection.execute("SELECT version FROM \(table) WHERE id = 1").value(0, 0) ?? "0") ?? 0
        }
    }
}
