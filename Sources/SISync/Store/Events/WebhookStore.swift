import Foundation

/// The delivery state of the `[webhook.NAME]` endpoints (`webhook_state`), written by the
/// deliverer after each acknowledged or failed request, and by `sisyncctl webhook resume`.
/// Each write is a transaction of its own: a delivery is acknowledged, then recorded, so a
/// crash in between sends that one event again (at least once), never skips it.
public final class WebhookStore {
    let database: any StoreDatabase

    init(database: any StoreDatabase) {
        self.database = database
    }

    private static let columns = "name, delivered_through, delivered_at, failures, failing_since, last_error, paused_at"

    private func state(_ r: any StoreStatement) -> WebhookState {
        WebhookState(name: r.text(0), deliveredThrough: r.int64(1), deliveredAt: r.string(2), failures: r.int(3),
                     failingSince: r.string(4), lastError: r.string(5), pausedAt: r.string(6))
    }

    public func state(_ name: String) throws -> WebhookState? {
        let s = try database.query("SELECT \(unescaped: Self.columns) FROM webhook_state WHERE name = \(name)")
        defer { s.reset() }
        return try s.step() ? state(s) : nil
    }

    public func all() throws -> [WebhookState] {
        var out: [WebhookState] = []
        try database.forEachRow("SELECT \(unescaped: Self.columns) FROM webhook_state ORDER BY name") { out.append(state($0)) }
        return out
    }

    /// The state of an endpoint, made when it is first seen: it starts at the feed's head
    /// (what was before it was configured is not sent).
    public func start(_ name: String, head: Int64) throws -> WebhookState {
        // Read first: a pass of the deliverer every second must not take SQLite's write lock.
        if let known = try state(name) { return known }
        try database.run("INSERT INTO webhook_state (name, delivered_through) VALUES (\(name), \(head)) ON CONFLICT (name) DO NOTHING")
        guard let s = try state(name) else { throw StoreError.notFound(what: "webhook \(name)") }
        return s
    }

    /// An acknowledged event (or the last id a `types` filter skipped): failures end.
    func delivered(_ name: String, through id: Int64, at: String) throws {
        try database.run("""
            UPDATE webhook_state SET delivered_through = \(id), delivered_at = \(at), failures = 0, failing_since = NULL, last_error = NULL
            WHERE name = \(name) AND delivered_through < \(id)
            """)
    }

    /// A failed attempt; the first of a row starts `failing_since`.
    func failed(_ name: String, error: String, at: String) throws {
        try database.run("""
            UPDATE webhook_state SET failures = failures + 1, failing_since = coalesce(failing_since, \(at)), last_error = \(String(error.prefix(500)))
            WHERE name = \(name)
            """)
    }

    func pause(_ name: String, at: String) throws {
        try database.run("UPDATE webhook_state SET paused_at = \(at) WHERE name = \(name) AND paused_at IS NULL")
    }

    /// `sisyncctl webhook resume NAME [--from ID]`: sending starts again (from `from`, which
    /// replays what was delivered already, or from where it stopped), with a fresh backoff.
    public func resume(_ name: String, from: Int64?, head: Int64) throws -> WebhookState {
        _ = try start(name, head: head)
        try database.run("""
            UPDATE webhook_state SET paused_at = NULL, failures = 0, failing_since = NULL, last_error = NULL,
              delivered_through = coalesce(\(from.map { $0 - 1 }), delivered_through)
            WHERE name = \(name)
            """)
        return try state(name)!
    }
}
