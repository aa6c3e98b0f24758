import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// R9's one-daemon lock: an exclusive `flock` on `<database>.lock`, held for a sisyncd's
/// whole life (and by `sisyncd --once`), so a second daemon on the same database refuses to
/// start and names the holder's pid. Administrators' writes do not take it: they wait for
/// the `RunLock` instead, so they work while the service runs.
public final class DaemonLock {
    public let path: String
    private let file: LockFile

    public init(databasePath: String) throws(StoreError) {
        path = databasePath + ".lock"
        file = try LockFile(path: path)
        guard file.tryLock() else {
            let who = file.holder()
            throw .locked(path: databasePath, holder: who.allSatisfy(\.isNumber) ? "pid \(who)" : who)
        }
        // A bare pid, as earlier versions wrote it.
        file.describe("\(getpid())")
    }
}
