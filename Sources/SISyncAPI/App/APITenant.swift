import Foundation
import SISync

/// One store the process serves, with what belongs to it alone: its configuration (the store,
/// the role rules pairing uses), its pool of open stores and its clients. A client is found
/// only among its own tenant's clients, so a token of one tenant opens nothing of another.
package final class APITenant: @unchecked Sendable {
    /// nil when the process serves one store (`/v1/…`), else the tenant's name (`/t/NAME/v1/…`).
    package let name: String?
    package let configuration: Configuration
    package let pool: StorePool
    package let clients: ClientDirectory
    /// Its parked long polls, in slots of the process's `LongPollLimit`.
    let waiter: LongPollWaiter
    private let lock = NSLock()
    private var warnedAt: [String: Date] = [:]

    package init(name: String?, configuration: Configuration, longPolls: LongPollLimit = LongPollLimit()) {
        self.name = name
        self.configuration = configuration
        pool = StorePool(location: configuration.store, events: configuration.events)
        clients = ClientDirectory()
        waiter = LongPollWaiter(pool: pool, limit: longPolls)
    }

    /// Whether a throttle warning for this client and kind is due: one a minute at most, so
    /// a client hammering past its limit cannot flood the journal.
    func shouldWarn(_ key: String, now: Date) -> Bool {
        lock.withLock {
            if let last = warnedAt[key], now.timeIntervalSince(last) < APIClientStore.failureWindow { return false }
            warnedAt[key] = now
            return true
        }
    }

    /// Journal fields naming the tenant, as sisyncd's tenants do.
    var fields: [(String, String)] { name.map { [("SISYNC_TENANT", $0)] } ?? [] }
}
