import Foundation

/// The sessions that hold the tenants' daemon locks in `sisyncd --tenants`: one per
/// PostgreSQL server and database, whatever the number of tenants there, so that 200
/// tenants on one server take one connection for their locks, not 200. A session that
/// ended (a server restart, a cut connection) took all its locks with it; the next claim
/// opens a new one. Used from the supervisor's thread only.
public final class PostgresLockSessions {
    private var sessions: [String: (connection: PostgresConnection, checked: Date)] = [:]
    /// A server that could not be reached is not tried again for a few seconds: one dead
    /// server must not make the supervisor wait once per tenant on it.
    private var failures: [String: (at: Date, error: Error)] = [:]

    public init() {}

    /// The live session for the server and database of `settings` (its URI), opened on
    /// first use or after the last one ended.
    func session(for settings: PostgresStoreSettings) throws -> PostgresConnection {
        // Asked whether it still answers at most once a second, however many tenants claim through it.
        if let s = sessions[settings.uri], s.connection.isConnected {
            if Date().timeIntervalSince(s.checked) < 1 { return s.connection }
            if (try? s.connection.execute("SELECT 1")) != nil {
                sessions[settings.uri] = (s.connection, Date())
                return s.connection
            }
        }
        if let f = failures[settings.uri], Date().timeIntervalSince(f.at) < 5 { throw f.error }
        do {
            let fresh = try PostgresConnection(uri: settings.uri, password: try settings.password(), applicationName: StoreLocation.applicationName())
            sessions[settings.uri] = (fresh, Date())
            failures[settings.uri] = nil
            return fresh
        } catch {
            failures[settings.uri] = (Date(), error)
            throw error
        }
    }

    /// Sessions open now (for the STATUS line and the benchmark's connection count).
    public var count: Int { sessions.count }
}
