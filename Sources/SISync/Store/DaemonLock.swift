import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// R9's one-daemon lock: an exclusive `flock` on `<database>.lock` (or a PostgreSQL
/// advisory lock on the schema), held for a sisyncd's
/// whole life (and by `sisyncd --once`), so a second daemon on the same database refuses to
/// start and names the holder's pid. Administrators' writes do not take it: they wait for
/// the `RunLock` instead, so they work while the service runs.
public final class DaemonLock {
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
    }
}
