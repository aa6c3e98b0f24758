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
    private let fd: Int32
    private let writable: Bool
    private var held = false

    /// Opens (creating) the file. An administrator's shell may only read a file the daemon
    /// created: `flock` works on a read-only descriptor too, it just cannot say who it is.
    init(path: String) throws(StoreError) {
        self.path = path
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        var writable = true
        if fd < 0 && errno == EACCES {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            writable = false
        }
        guard fd >= 0 else {
            throw .cannotOpen(path: path, message: "cannot create the lock file: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        self.writable = writable
        if writable { Self.shareWithTheDirectoryOwner(fd: fd, path: path) }
    }

    /// Root's `sisyncctl` may be the first to create a lock file in the service's state
    /// directory. The file then goes to the directory's owner (the service user) with mode
    /// 0644 whatever the umask, so the daemon can still open it to say who it is, as SQLite
    /// does for its `-wal` file.
    private static func shareWithTheDirectoryOwner(fd: Int32, path: String) {
        var file = stat()
        guard fstat(fd, &file) == 0, file.st_uid == geteuid() else { return }
        _ = fchmod(fd, 0o644)
        guard geteuid() == 0 else { return }
        var directory = stat()
        let parent = (path as NSString).deletingLastPathComponent
        guard stat(parent.isEmpty ? "." : parent, &directory) == 0, directory.st_uid != 0 else { return }
        _ = fchown(fd, directory.st_uid, directory.st_gid)
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
        guard held, writable else { return }
        let bytes = Array((text + "\n").utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, bytes, bytes.count, 0)
    }

    func unlock() {
        guard held else { return }
        if writable { _ = ftruncate(fd, 0) }
        flock(fd, LOCK_UN)
        held = false
    }

    deinit {
        unlock()
        close(fd)
    }
}
