/// What went wrong talking to PostgreSQL, with the server and database it was about and
/// what to do. Messages come from libpq and the server, which never echo the password.
public enum PostgresError: Error, CustomStringConvertible, Sendable, Equatable {
    case cannotConnect(target: PostgresTarget, message: String)
    case connectionLost(target: PostgresTarget, message: String)
    case query(target: PostgresTarget, sqlstate: String?, message: String, hint: String?, sql: String)

    /// An unreachable server or a refused login: the source of trouble is outside sisync
    /// (exit 69 for `--once`, retried by the daemon).
    public var isUnavailable: Bool {
        switch self {
        case .cannotConnect, .connectionLost: return true
        case .query(_, let state, _, _, _): return state.map { $0.hasPrefix("08") || $0.hasPrefix("57P") || $0 == "28P01" || $0 == "28000" } ?? false
        }
    }

    public var description: String {
        switch self {
        case .cannotConnect(let target, let message):
            let host = "\(target.host ?? "localhost"):\(target.port ?? 5432)"
            let lower = message.lowercased()
            if lower.contains("password authentication failed") || lower.contains("no password supplied") {
                return "cannot log in to \(host) as \(target.user ?? "the current user") (authentication failed): check [sync] database_password_file (or ~/.pgpass) and the role's password"
            }
            if lower.contains("does not exist") {
                return "cannot connect to \(target) (\(Self.firstLine(message))): create the database and role first (README \"Running on PostgreSQL\")"
            }
            if lower.contains("certificate") || lower.contains("ssl") {
                return "cannot connect to \(host) (\(Self.firstLine(message))): check sslrootcert in [sync] database and the server's certificate"
            }
            let reason = lower.contains("connection refused") ? "connection refused" : Self.firstLine(message)
            return "cannot connect to \(host) (\(reason)): is PostgreSQL running and is [sync] database right?"
        case .connectionLost(let target, let message):
            return "lost the connection to \(target) (\(Self.firstLine(message))); nothing of the transaction in progress was applied"
        case .query(let target, let state, let message, let hint, let sql):
            var s = "\(target): \(message)"
            if let state { s += " (SQLSTATE \(state))" }
            if let hint { s += "; \(hint)" }
            if state == "42501" {
                s += message.contains("for database")
                    ? "; the role may not create the schema: GRANT CREATE ON DATABASE \(target.database ?? "…") TO \(target.user ?? "the sisync role") (or create the schema for it)"
                    : "; the role needs rights on the schema, e.g. GRANT CREATE, USAGE ON SCHEMA … TO the sisync role"
            }
            let statement = sql.count > 120 ? String(sql.prefix(120)) + "…" : sql
            return s + " in `\(statement)`"
        }
    }

    private static func firstLine(_ s: String) -> String {
        let line = s.split(separator: "\n").first.map(String.init) ?? s
        // libpq prefixes "connection to server at "h" (addr), port p failed: ".
        if let r = line.range(of: "failed: ") { return String(line[r.upperBound...]) }
        return line
    }
}
