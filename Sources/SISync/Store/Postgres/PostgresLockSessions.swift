import Foundation

/// The sessions that hold the tenants' daemon locks in `sisyncd --tenants`: one per
/// PostgreSQL server and database, whatever the number of tenants there, so that 200
/// tenants on one server take one connection for their locks, not 200. A session that
/// ended (a server restart, a cut connection) took all its locks with it; the next claim
/// opens a new one. Used from the supervisor's thread only.
public final class PostgresLockSessions {
    private var sessions: [String: PostgresConnection] = [:]

    public init() {}

    /// The live session for the server and database of `settings` (its URI), opened on
    /// first use or after the last one ended.
    func session(for settings: PostgresStoreSettings) throws -> PostgresConnection {
        if let s = sessions[settings.uri], s.isConnected, (try? s.execute("SELECT 1")) != nil { return s }
        let fresh = try PostgresConnection(uri: settings.uri, password: try settings.password(), applicationName: StoreLocation.applicationName())
        sessions[settings.uri] = fresh
        return fresh
    }

    /// Sessions open now (for the STATUS line and the benchmark's connection count).
    public var count: Int { sessions.count }
}
