/// Database failures, with the statement or file that failed.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, message: String)
    case noDatabase(path: String)
    case sqlite(path: String, code: Int32, message: String, sql: String)
    case newerSchema(path: String, found: Int32, supported: Int32)
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
            return "\(path): the database schema is version \(found), newer than this sisync understands (\(supported)); upgrade sisync"
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
