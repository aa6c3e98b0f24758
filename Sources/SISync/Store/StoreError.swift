/// Database failures, with the statement or file that failed.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, message: String)
    case noDatabase(path: String)
    case sqlite(path: String, code: Int32, message: String, sql: String)
    /// A newer sisync migrated the schema (a rolling upgrade of a standby pair): exit 75.
    case newerSchema(path: String, found: Int, supported: Int)
    /// The stored version is one no sisync wrote (below the first, or negative).
    case unknownSchemaVersion(path: String, found: Int, oldest: Int)
    case interrupted
    case locked(path: String, holder: String)
    /// A write waited for the run lock as long as it was allowed to (`--wait`).
    case runInProgress(path: String, holder: String, waited: Double)
    case notFound(what: String)
    /// The daemon lock's session ended while this sisyncd ran: it must not write.
    case lockLost(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let message):
            return "\(path): cannot open the database: \(message); check that the directory exists and is writable"
        case .noDatabase(let path):
            return "\(path): no database here yet; start sisyncd or run `sisyncctl sync` first (or pass --config/--db for another one)"
        case .sqlite(let path, let code, let message, let sql):
            let statement = sql.count > 120 ? String(sql.prefix(120)) + "…" : sql
            return "\(path): database error \(code) (\(message)) in `\(statement)`"
        case .newerSchema(let path, let found, let supported):
            return "\(path): the database schema is version \(found), newer than this sisync understands (sisync \(SisyncVersion.current) knows "
                + "versions up to \(supported)): a newer sisync has migrated it, and this one leaves it alone. Upgrade sisync on this host "
                + "to the release the other hosts run (on a standby pair, upgrade both hosts); nothing was changed"
        case .unknownSchemaVersion(let path, let found, let oldest):
            return "\(path): the database schema says it is version \(found), which no sisync wrote (the oldest is \(oldest)): "
                + "its version record was changed by hand, or the schema is another program's. Restore the database from a backup, "
                + "or point [sync] database (and database_schema) at sisync's own; nothing was changed"
        case .interrupted:
            return "the run was stopped (SIGTERM or SIGINT) before it finished; everything it planned was rolled back"
        case .locked(let path, let holder):
            return "\(path): another sisyncd holds the database (\(holder)); one sisyncd runs per database (R9): use `sisyncctl sync` to run now while the service is up, or stop the other sisyncd"
        case .runInProgress(let path, let holder, let waited):
            return "\(path): still busy after waiting \(ConfigDuration(seconds: waited)) for \(holder) to finish; try again when it is done, or wait longer with --wait (e.g. --wait 10m)"
        case .lockLost(let path):
            return "\(path): this sisyncd no longer holds the database's lock (its PostgreSQL session ended, and another sisyncd may have taken over); the run was rolled back and nothing was applied"
        case .notFound(let what):
            return "\(what) not found"
        }
    }
}
