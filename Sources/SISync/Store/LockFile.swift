import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A lock only one process holds at a time, that says who holds it, and that goes with
/// its holder however the holder ends: a `flock` file beside a SQLite database, or a
/// PostgreSQL advisory lock held by a session.
protocol ExclusiveLock: AnyObject {
    /// Takes the lock if nobody holds it; never waits.
    func tryLock() throws -> Bool
    /// Who holds it ("sisyncd pid 812, run 42"), or "unknown".
    func holder() -> String
    /// Says who holds the lock (only while holding it).
    func describe(_ text: String)
    func unlock()
    /// Whether this process still holds it. A `flock` is held for the process's life; a
    /// PostgreSQL session lock goes with its session (a server restart, a cut connection,
    /// `pg_terminate_backend`).
    func isStillHeld() -> Bool
    /// Asked inside a run's transaction on `database`, just before it commits: false when
    /// the lock is no longer this process's, so the run must not commit.
    func isHeld(accordingTo database: any StoreDatabase) throws -> Bool
    /// The holder, and since when it has held the database when the lock can tell.
    func holderAndSince() -> (holder: String, since: Date?)
}

extension ExclusiveLock {
    func holderAndSince() -> (holder: String, since: Date?) { (holder(), nil) }
    func isStillHeld() -> Bool { true }
    func isHeld(accordingTo database: any StoreDatabase) throws -> Bool { true }
}

/// One `flock` lock file beside the database, holding a line that says who holds it, so
/// that whoever finds it taken can say whom they wait for. The kernel drops the lock when
/// the holder dies, so a crash never leaves a stale lock behind.
final class LockFile: ExclusiveLock {
    let path: String
    private let file: StateFile
    private var fd: Int32 { file.fd }
    private var held = false

    /// Opens the file, creating it 0644 whatever the umask, so that whoever waits can read
    /// who holds it. Root's `sisyncctl` may be the first to create a lock file in the
    /// service's state directory: the file then goes to the directory's owner (the service
    /// user), so the daemon can still open it to say who it is. A file found there is
    /// never re-owned, re-moded or followed through a link (`StateFile`). An
    /// administrator's shell may only read a file the daemon created: `flock` works on a
    /// read-only descriptor too, it just cannot say who it is.
    init(path: String) throws(StoreError) {
        self.path = path
        file = try StateFile(path: path, creatingWith: 0o644, readOnlyFallback: true)
    }

    /// Takes the lock if nobody holds it; never waits.
    func tryLock() -> Bool {
        if held { return true }
        held = flock(fd, LOCK_EX | LOCK_NB) == 0
        return held
    }

    /// What the holder wrote about itself ("sisyncd pid 812, run 42"), or "unknown".
    func holder() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buffer, 255, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return text.isEmpty ? "unknown" : text
    }

    /// Says who holds the lock (only while holding it).
    func describe(_ text: String) {
        guard held, file.writable else { return }
        let bytes = Array((text + "\n").utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, bytes, bytes.count, 0)
    }

    func unlock() {
        guard held else { return }
        if file.writable { _ = ftruncate(fd, 0) }
        flock(fd, LOCK_UN)
        held = false
    }

    deinit { unlock() }
}
