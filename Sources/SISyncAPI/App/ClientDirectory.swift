import Foundation
import SISync

/// One tenant's API clients as this process knows them: read from the store at most every
/// `maximumAge` (5 s), so a revoked token stops working within that; found by the SHA-256
/// of the token. Each client's last use is kept in memory and written at most once a
/// minute, never waiting for a run.
package final class ClientDirectory: @unchecked Sendable {
    package static let maximumAge: TimeInterval = 5
    package static let useWriteInterval: TimeInterval = 60

    private let lock = NSLock()
    private let reloading = NSLock()
    private var clients: [String: APIClient] = [:]
    private var loadedAt: Date?
    private var uses: [String: Date] = [:]
    private var usesWrittenAt: Date

    package init(now: Date = Date()) {
        usesWrittenAt = now
    }

    /// The client whose token this is, or nil. No token and a wrong one take the same path:
    /// the digest of what was sent, one dictionary lookup.
    package func client(token: String, now: Date, pool: StorePool) throws -> APIClient? {
        let digest = APIToken.digest(token)
        let table = try current(now: now, pool: pool)
        guard let client = table[digest] else { return nil }
        lock.withLock { uses[client.name] = now }
        return client
    }

    private func current(now: Date, pool: StorePool) throws -> [String: APIClient] {
        func fresh() -> [String: APIClient]? {
            lock.withLock { loadedAt.map { now.timeIntervalSince($0) < Self.maximumAge && $0 <= now } == true ? clients : nil }
        }
        if let table = fresh() { return table }
        // One thread reads the store; the others wait for it rather than read it too.
        reloading.lock()
        defer { reloading.unlock() }
        if let table = fresh() { return table }
        let table = try pool.withStore { try $0.apiClients.clientsByDigest() }
        lock.withLock { clients = table; loadedAt = now }
        return table
    }

    /// The last uses to write, when a minute has passed since the last write (and they are
    /// taken out; `putBack` returns them when the write could not happen).
    package func usesDue(now: Date, force: Bool = false) -> [String: Date] {
        lock.withLock {
            guard force || now.timeIntervalSince(usesWrittenAt) >= Self.useWriteInterval, !uses.isEmpty else { return [:] }
            let due = uses
            uses = [:]
            usesWrittenAt = now
            return due
        }
    }

    package func putBack(_ due: [String: Date]) {
        lock.withLock { uses.merge(due) { max($0, $1) } }
    }
}
