import Foundation

/// Where a PostgreSQL store lives, read from a libpq URI for messages and `status`: host,
/// port, database, user and the query parameters. It never keeps a password: `display`
/// is the URI with any password removed, safe to log.
public struct PostgresTarget: Sendable, Equatable, CustomStringConvertible {
    public var user: String?
    /// Whether the URI carried a password (refused by the configuration: use a file).
    public var hadPassword = false
    public var host: String?
    public var port: Int?
    public var database: String?
    public var parameters: [(key: String, value: String)] = []

    public static func == (a: PostgresTarget, b: PostgresTarget) -> Bool { a.display == b.display }

    /// Whether `text` names a PostgreSQL store (`postgresql://` or `postgres://`).
    public static func isURI(_ text: String) -> Bool {
        let t = text.lowercased()
        return t.hasPrefix("postgresql://") || t.hasPrefix("postgres://")
    }

    public init(uri: String) {
        var rest = Substring(uri)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] }
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.decode(kv[0]), value = kv.count > 1 ? Self.decode(kv[1]) : ""
                if key == "password" { hadPassword = true; continue }
                parameters.append((key, value))
            }
            rest = rest[..<q]
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let db = Self.decode(rest[rest.index(after: slash)...])
            database = db.isEmpty ? nil : db
        }
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                hadPassword = true
                user = Self.decode(userInfo[..<colon])
            } else {
                user = Self.decode(userInfo)
            }
        }
        // host[:port], or [v6]:port; several hosts (libpq's failover list) are kept as written.
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), !authority[authority.index(after: colon)...].contains(",") {
            port = Int(authority[authority.index(after: colon)...])
            authority = authority[..<colon]
        }
        let h = Self.decode(authority)
        host = h.isEmpty ? nil : h
        if host == nil, let p = parameter("host") { host = p }
        if port == nil, let p = parameter("port").flatMap({ Int($0) }) { port = p }
        if database == nil { database = parameter("dbname") }
        if user == nil { user = parameter("user") }
    }

    public func parameter(_ key: String) -> String? { parameters.last { $0.key == key }?.value }

    /// `host:port/database`, for messages.
    public var description: String {
        "\(host ?? "localhost"):\(port ?? 5432)/\(database ?? user ?? "postgres")"
    }

    /// The URI as written, less any password: for `status`, logs and errors.
    public var display: String {
        var s = "postgresql://"
        if let user { s += Self.encode(user) + "@" }
        if let host, !host.hasPrefix("/") { s += host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host }
        if let port, parameter("port") == nil { s += ":\(port)" }
        if let database, parameter("dbname") == nil { s += "/" + Self.encode(database) }
        // `sslpassword` unlocks the client key (`sslkey`): a secret like the password, but
        // libpq takes it only here, so it is kept and shown masked.
        let query = parameters.map { "\($0.key)=\($0.key == "sslpassword" ? DisplayedURL.mask : Self.encode($0.value))" }
        if !query.isEmpty { s += "?" + query.joined(separator: "&") }
        return s
    }

    private static func decode<S: StringProtocol>(_ s: S) -> String { String(s).removingPercentEncoding ?? String(s) }
    private static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}
