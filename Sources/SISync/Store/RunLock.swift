import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The run lock of rule R9 (docs/rules.md): held by whoever
/// writes to the database (a sync run of the daemon, `sisyncd --once`, `sisyncctl sync`,
/// `run revert`, user, access and form commands) only while it writes. Everyone else waits
/// for it, saying what they wait for, so an administrator's command never fails merely
/// because the service is up, and two runs never interleave (R9).
public final class RunLock {
    private let file: any ExclusiveLock

    /// How long a `sisyncctl` write or `sisyncd --once` waits by default (`--wait`).
    public static let defaultWait: Double = 60

    private init(file: any ExclusiveLock) {
        self.file = file
    }

    /// Takes the lock on `<database>.run.lock`, waiting up to `wait` seconds
    /// (`.infinity` for the daemon) while someone else holds it. `waiting` is told once
    /// whom it waits for; `giveUp` is asked while waiting (a stopping daemon). Returns nil
    /// when the database's directory does not exist: nobody can be writing there yet.
    public static func acquire(databasePath: String, holder: String, wait: Double,
                               waiting: (String) -> Void = { _ in }, giveUp: () -> Bool = { false }) throws -> RunLock? {
        try acquire(location: .sqlite(path: databasePath), holder: holder, wait: wait, waiting: waiting, giveUp: giveUp)
    }

    /// For PostgreSQL, an advisory lock keyed by the schema, held by a session of its own.
    public static func acquire(location: StoreLocation, holder: String, wait: Double,
                               waiting: (String) -> Void = { _ in }, giveUp: () -> Bool = { false }) throws -> RunLock? {
        let file: any ExclusiveLock
        switch location {
        case .sqlite(let databasePath):
            let directory = (databasePath as NSString).deletingLastPathComponent
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) { return nil }
            file = try LockFile(path: databasePath + ".run.lock")
        case .postgres(let settings):
            file = try PostgresAdvisoryLock(settings: settings, purpose: "run")
        }
        return try Self.wait(for: file, location: location, holder: holder, wait: wait, waiting: waiting, giveUp: giveUp)
    }

    private static func wait(for file: any ExclusiveLock, location: StoreLocation, holder: String, wait: Double,
                             waiting: (String) -> Void, giveUp: () -> Bool) throws -> RunLock {
        let started = Date()
        var told = false
        var lastHolder = "unknown"
        var polls = 0
        while try !file.tryLock() {
            lastHolder = file.holder()
            polls += 1
            // The holder writes who it is just after it takes the lock: give it a moment
            // before saying "unknown".
            if !told && (lastHolder != "unknown" || polls > 20) { waiting(lastHolder); told = true }
            if giveUp() { throw StoreError.interrupted }
            if Date().timeIntervalSince(started) >= wait {
                throw StoreError.runInProgress(path: location.display, holder: lastHolder, waited: wait)
            }
            usleep(50_000)
        }
        file.describe(holder)
        return RunLock(file: file)
    }

    /// The run lock of a tenant's run, taken on the run's own store session (PostgreSQL) so
    /// that a run costs one connection; on SQLite the usual lock file. Waits like `acquire`.
    public static func acquire(on store: RosterStore, holder: String, wait: Double,
                               waiting: (String) -> Void = { _ in }, giveUp: () -> Bool = { false }) throws -> RunLock? {
        guard case .postgres(let settings) = store.location, let database = store.database as? PostgresDatabase else {
            return try acquire(location: store.location, holder: holder, wait: wait, waiting: waiting, giveUp: giveUp)
        }
        let lock = try PostgresAdvisoryLock(settings: settings, purpose: "run", session: database.connection)
        return try Self.wait(for: lock, location: store.location, holder: holder, wait: wait, waiting: waiting, giveUp: giveUp)
    }

    /// Updates what waiters are told ("sisyncd pid 812, run 42").
    public func describe(_ holder: String) { file.describe(holder) }

    /// Releases the lock before the object goes (it is also released on deinit).
    public func release() { file.unlock() }
}
