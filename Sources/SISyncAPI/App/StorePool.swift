import Foundation
import SISync

/// Open stores of one tenant for the server's worker threads: each request borrows one and
/// gives it back, so a connection is used by one thread at a time and a busy process keeps
/// about as many as it has workers. Reads on them never wait for a run (SQLite WAL,
/// PostgreSQL MVCC). A store whose PostgreSQL session went away is dropped, not returned.
package final class StorePool: @unchecked Sendable {
    package let location: StoreLocation
    /// `[events]`: the API's writes (logins, pairings) are in the change feed like any other.
    package let events: EventSettings
    private let lock = NSLock()
    private var idle: [RosterStore] = []
    /// Idle stores kept beyond this are closed.
    private let keep: Int

    package init(location: StoreLocation, events: EventSettings = EventSettings(), keep: Int = 64) {
        self.location = location
        self.events = events
        self.keep = keep
    }

    /// Runs `body` with a store of its own; opening one fails as the store does (no
    /// database yet, the server down).
    package func withStore<T>(_ body: (RosterStore) throws -> T) throws -> T {
        let store = try take()
        var healthy = true
        defer { if healthy && store.isConnected { give(store) } }
        do { return try body(store) } catch {
            healthy = !(error is PostgresError)
            throw error
        }
    }

    private func take() throws -> RosterStore {
        if let s = lock.withLock({ idle.popLast() }) { return s }
        let store = try RosterStore(location: location, mustExist: true, applicationName: "sisync-api")
        store.events.settings = events
        return store
    }

    private func give(_ store: RosterStore) {
        lock.withLock { if idle.count < keep { idle.append(store) } }
    }
}
