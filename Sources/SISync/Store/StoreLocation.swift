import Foundation

/// Where the store lives: a SQLite file (the embedded default) or a schema in a PostgreSQL
/// database (what a deployment whose applications read the mirror picks). Read from
/// `[sync] database`: a `postgresql://` or `postgres://` value is a libpq URI, anything
/// else a file path.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresStoreSettings)

    public init(database: String, schema: String = PostgresStoreSettings.defaultSchema, passwordFile: String? = nil) {
        self = PostgresTarget.isURI(database)
            ? .postgres(PostgresStoreSettings(uri: database, schema: schema, passwordFile: passwordFile))
            : .sqlite(path: database)
    }

    /// For messages, `status` and lock holders: the path, or the URI without a password
    /// and with the schema.
    public var display: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let s): return s.display
        }
    }

    public var isPostgres: Bool { if case .postgres = self { return true } else { return false } }
}

/// A PostgreSQL store: the connection URI (never with a password), the schema that holds
/// sisync's tables, and the file the password is read from (nil: libpq's `.pgpass`).
public struct PostgresStoreSettings: Sendable, Equatable {
    public static let defaultSchema = "sisync"
    public var uri: String
    public var schema: String
    public var passwordFile: String?

    public init(uri: String, schema: String = defaultSchema, passwordFile: String? = nil) {
        self.uri = uri
        self.schema = schema
        self.passwordFile = passwordFile
    }

    public var target: PostgresTarget { PostgresTarget(uri: uri) }

    /// `postgresql://sisync@db.district.org/sis (schema sisync)`.
    public var display: String { "\(target.display) (schema \(schema))" }

    /// The password from `database_password_file`, without its line end; nil when none is
    /// configured. A relative name is looked up as every secret file is.
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> String? {
        guard let passwordFile else { return nil }
        let path = ExportFetcher.credentialPath(passwordFile, environment: environment)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .secretFile(path: path, key: "database_password_file",
                              reason: SourceCredentials.notLoaded(passwordFile, environment: environment) ?? "cannot be read")
        }
        var text = String(decoding: data, as: UTF8.self)
        while let last = text.last, last == "\n" || last == "\r" { text.removeLast() }
        return text
    }
}

extension StoreLocation {
    /// `sisyncd/HOST/PID` (or `sisyncctl/…`): how a PostgreSQL session names its process,
    /// so that a lock's holder can be named from `pg_stat_activity`.
    public static func applicationName(program: String = ProcessInfo.processInfo.processName) -> String {
        let name = program.hasPrefix("sisync") ? program : "sisync"
        return String("\(name)/\(ProcessInfo.processInfo.hostName)/\(getpid())".prefix(63))
    }
}
