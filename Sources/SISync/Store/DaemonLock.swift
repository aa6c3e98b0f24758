import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// R9's one-daemon lock: an exclusive `flock` on `<database>.lock` (or a PostgreSQL
/// advisory lock on the schema), held for a sisyncd's
/// whole life (and by `sisyncd --once`), so a second daemon on the same database refuses to
/// start and names the holder's pid. Administrators' writes do not take it: they wait for
/// the `RunLock` instead, so they work while the service runs.
///
/// `@unchecked Sendable`: one thread uses it at a time. In `sisyncd --tenants` the
/// supervisor hands a tenant's lock to that tenant's run and leaves it alone until the run
/// is over.
public final class DaemonLock: @unchecked Sendable {
    private let lock: any ExclusiveLock

    public convenience init(databasePath: String) throws {
        try self.init(location: .sqlite(path: databasePath))
    }

    /// A `flock` on `<database>.lock` for SQLite; an advisory lock keyed by the schema,
    /// held by a session of its own, for PostgreSQL.
    public init(location: StoreLocation) throws {
        switch location {
        case .sqlite(let databasePath):
            let file = try LockFile(path: databasePath + ".lock")
            guard try file.tryLock() else {
                let who = file.holder()
                throw StoreError.locked(path: databasePath, holder: who.allSatisfy(\.isNumber) ? "pid \(who)" : who)
            }
            // A bare pid, as earlier versions wrote it.
            file.describe("\(getpid())")
            lock = file
        case .postgres(let settings):
            let advisory = try PostgresAdvisoryLock(settings: settings, purpose: "daemon")
            guard try advisory.tryLock() else { throw StoreError.locked(path: settings.display, holder: advisory.holder()) }
            lock = advisory
        }
        path = location.display
    }

    private init(lock: any ExclusiveLock, path: String) {
        self.lock = lock
        self.path = path
    }

    private let path: String

    /// A standby's claim on a PostgreSQL store's lock, not held yet: `tryTakeOver` takes
    /// it once the holder's session is gone.
    public static func standby(settings: PostgresStoreSettings) throws -> DaemonLock {
        DaemonLock(lock: try PostgresAdvisoryLock(settings: settings, purpose: "daemon"), path: settings.display)
    }

    /// A tenant's claim (`sisyncd --tenants`), not held yet: on PostgreSQL held by the one
    /// session of `sessions` for its server and database; on SQLite a `flock` of its own.
    public static func tenant(location: StoreLocation, sessions: PostgresLockSessions) throws -> DaemonLock {
        switch location {
        case .sqlite(let databasePath):
            _ = try StateFolder(holding: databasePath, creating: true)
            return DaemonLock(lock: try LockFile(path: databasePath + ".lock"), path: databasePath)
        case .postgres(let settings):
            return DaemonLock(lock: try PostgresAdvisoryLock(settings: settings, purpose: "daemon", session: try sessions.session(for: settings)),
                              path: settings.display)
        }
    }

    /// Gives the lock up (a tenant removed by a reload, or handed to `--max-tenants`).
    public func release() { lock.unlock() }

    /// Takes the lock if nobody holds it (reconnecting a session that went away); never waits.
    public func tryTakeOver() throws -> Bool { try lock.tryLock() }

    /// Who holds the lock now, and since when (PostgreSQL: the holder's session start).
    public func holder() -> (holder: String, since: Date?) {
        lock.holderAndSince()
    }

    /// Whether this process still holds the lock: false once its PostgreSQL session ended.
    /// The daemon asks before every cycle and goes back to standby (or stops) when not.
    public func isStillHeld() -> Bool { lock.isStillHeld() }

    /// Called inside a run's transaction just before it commits: throws
    /// `StoreError.lockLost` when the lock's session no longer holds it (another sisyncd
    /// may have taken over), so the run rolls back instead of writing beside the new holder.
    public func confirmHeld(in database: any StoreDatabase) throws {
        guard try lock.isHeld(accordingTo: database) else { throw StoreError.lockLost(path: path) }
    }
}
