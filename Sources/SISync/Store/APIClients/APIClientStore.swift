import Foundation

/// What the throttle counts per client: failed logins and failed pairings, apart.
public enum APIFailureKind: String, Sendable, CaseIterable {
    case login, pairing
}

/// The HTTP API's clients (`api_clients`) and the throttle's failure counter
/// (`api_failures`), which every `sisync-api` over this store shares (issue 30). Adding and
/// revoking a client are an administrator's changes, in the change log like any other.
public final class APIClientStore {
    let database: any StoreDatabase
    let auditTrail: AuditTrail

    init(database: any StoreDatabase, auditTrail: AuditTrail) {
        self.database = database
        self.auditTrail = auditTrail
    }

    /// How long a failure counts toward the per-client limit.
    public static let failureWindow: TimeInterval = 60

    /// Adds a client and returns its token, which exists nowhere else from then on: the
    /// store keeps its SHA-256 only (`sisyncctl api client add` prints it once).
    public func add(name: String, scopes: Set<APIScope>, actor: String, now: Date) throws -> (client: APIClient, token: String) {
        guard APIClient.isValidName(name) else { throw APIClientError.invalidName(name) }
        guard !scopes.isEmpty else { throw APIClientError.unknownScope("") }
        let token = APIToken.generate()
        let client = APIClient(name: name, scopes: scopes, createdAt: Timestamp.format(now), createdBy: actor)
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard try database.int("SELECT 1 FROM api_clients WHERE name = \(name)") == nil else { throw APIClientError.exists(name) }
            try database.run("""
                INSERT INTO api_clients (name, token_sha256, scopes, created_at, created_by)
                VALUES (\(name), \(APIToken.digest(token)), \(APIScope.list(scopes)), \(client.createdAt), \(actor))
                """)
            return [Change(entity: "api_clients", id: name, field: "scopes", old: nil, new: APIScope.list(scopes), kind: .added)]
        }
        return (client, token)
    }

    /// Every client, by name (`sisyncctl api client list`).
    public func list() throws -> [APIClient] {
        try clients(where: "").map(\.client)
    }

    /// Every client by the digest of its token: what a `sisync-api` process caches.
    public func clientsByDigest() throws -> [String: APIClient] {
        Dictionary(try clients(where: "").map { ($0.digest, $0.client) }, uniquingKeysWith: { a, _ in a })
    }

    public func client(named name: String) throws -> APIClient? {
        try clients(where: name).first?.client
    }

    private func clients(where name: String) throws -> [(client: APIClient, digest: String)] {
        var out: [(APIClient, String)] = []
        let only: String? = name.isEmpty ? nil : name
        try database.forEachRow("""
            SELECT name, scopes, created_at, created_by, last_used_at, token_sha256 FROM api_clients
            WHERE \(only) IS NULL OR name = \(only) ORDER BY name
            """) { r in
            // A scope a newer sisync added is left out rather than refusing the client.
            let scopes = Set(r.text(1).split(separator: ",").compactMap { APIScope(rawValue: String($0)) })
            out.append((APIClient(name: r.text(0), scopes: scopes, createdAt: r.text(2), createdBy: r.text(3), lastUsedAt: r.string(4)), r.text(5)))
        }
        return out
    }

    /// Removes a client; its token stops working once each process's cache expires (5 s).
    public func revoke(name: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let c = try client(named: name) else { throw APIClientError.noSuchClient(name) }
            try database.run("DELETE FROM api_clients WHERE name = \(name)")
            try database.run("DELETE FROM api_failures WHERE client = \(name)")
            return [Change(entity: "api_clients", id: name, field: "scopes", old: APIScope.list(c.scopes), new: nil, kind: .deactivated)]
        }
    }

    /// Writes the last use each process kept in memory; never moves a time backwards (another
    /// process may have written a later one). Not in the change log: it is no decision.
    public func recordUse(_ uses: [String: Date]) throws {
        guard !uses.isEmpty else { return }
        try database.transaction {
            for (name, at) in uses.sorted(by: { $0.key < $1.key }) {
                let stamp = Timestamp.format(at)
                try database.run("UPDATE api_clients SET last_used_at = \(stamp) WHERE name = \(name) AND (last_used_at IS NULL OR last_used_at < \(stamp))")
            }
        }
    }

    /// The client's failures of this kind within the last minute, and when the oldest of
    /// them stops counting (for `Retry-After`).
    public func recentFailures(client: String, kind: APIFailureKind, now: Date) throws -> (count: Int, oldest: Date?) {
        let since = Timestamp.format(now.addingTimeInterval(-Self.failureWindow))
        let s = try database.query("SELECT count(*), min(at) FROM api_failures WHERE client = \(client) AND kind = \(kind.rawValue) AND at > \(since)")
        defer { s.reset() }
        _ = try s.step()
        return (s.int(0), s.string(1).flatMap(Timestamp.parse))
    }

    /// Counts one failure, and forgets the client's failures that no longer count.
    public func recordFailure(client: String, kind: APIFailureKind, now: Date) throws {
        let since = Timestamp.format(now.addingTimeInterval(-Self.failureWindow))
        try database.transaction {
            try database.run("DELETE FROM api_failures WHERE client = \(client) AND at <= \(since)")
            try database.run("INSERT INTO api_failures (client, kind, at) VALUES (\(client), \(kind.rawValue), \(Timestamp.format(now)))")
        }
    }
}
