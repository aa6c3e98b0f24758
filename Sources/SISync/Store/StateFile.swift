import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file sisync keeps in the database's folder (a lock file, the database itself), opened
/// the way root may safely open a file in a folder that belongs to the service's user.
/// That user can put a symbolic link (or another name of a file) there in place of the
/// file, pointing at a file of root's, and wait for `sudo sisyncctl` to write, truncate,
/// re-own or re-mode it (issue 26 item 1). So the file is reached only through its folder,
/// held open, with `O_NOFOLLOW`; what was opened must be a regular file with one link;
/// and only a file this process has just created (`O_EXCL`) has its owner or mode set.
/// Owns the descriptor. The folder is reached through `StateFolder`: its path may lead
/// through root's symbolic links (systemd's `DynamicUser=` makes `/var/lib/sisync` one),
/// never through the service's. A hard link needs no more than the check of the file
/// opened (one link): the other name of a file of root's is in a folder of root's, which
/// the service cannot change (unlike SQLite's `-wal` and `-shm`, which SQLite opens by
/// name after sisync looked; see `SQLiteFiles.requireProtectedHardLinks`).
final class StateFile {
    let path: String
    let fd: Int32
    /// Whether this process created the file: only then were its owner and mode set.
    let created: Bool
    /// False when this user may only read the file (the read-only fallback).
    let writable: Bool

    /// Opens the file for reading and writing, creating it with `mode` (whatever the umask)
    /// when it is missing. A file root creates in a folder of another user goes to that
    /// user, so that the service can still use it. With `readOnlyFallback`, a file this
    /// user may not write is opened for reading: an administrator's shell may only read a
    /// file the daemon created.
    init(path: String, creatingWith mode: mode_t, readOnlyFallback: Bool) throws(StoreError) {
        self.path = path
        let folder = try StateFolder(holding: path)
        let name = (path as NSString).lastPathComponent
        var attempts = 0
        while true {
            attempts += 1
            let fresh = openat(folder.fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fresh >= 0 {
                // Set on the descriptor of the file just made: no name is looked up again.
                _ = fchmod(fresh, mode)
                if geteuid() == 0 && folder.owner != 0 { _ = fchown(fresh, folder.owner, folder.group) }
                fd = fresh; created = true; writable = true
                return
            }
            let createErrno = errno
            // Never created here: a name that is not there now is made above, or not at all.
            var found = openat(folder.fd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            var canWrite = true
            if found < 0 && errno == EACCES && readOnlyFallback {
                found = openat(folder.fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                canWrite = false
            }
            if found < 0 {
                let openErrno = errno
                // Removed between the two opens: make it again (a few times at most).
                if openErrno == ENOENT && createErrno == EEXIST && attempts < 5 { continue }
                throw Self.error(path: path, errno: openErrno == ENOENT ? createErrno : openErrno, doing: "open")
            }
            do throws(StoreError) {
                try Self.verify(fd: found, path: path)
            } catch {
                close(found)
                throw error
            }
            fd = found; created = false; writable = canWrite
            return
        }
    }

    /// Opens an existing file without reading or writing it (`O_PATH`), to look at it and
    /// tighten its mode; nil when there is none. `O_PATH` because closing a descriptor
    /// opened for reading would drop the POSIX locks SQLite holds on the same file in this
    /// process.
    init?(inspecting path: String) throws(StoreError) {
        self.path = path
        guard let found = try Self.openExisting(path, in: try StateFolder(holding: path), flags: Self.pathOnly) else { return nil }
        fd = found; created = false; writable = false
    }

    /// Opens an existing file for reading only, never creating it; nil when there is none.
    /// For those who look at a file another process keeps (`sisyncctl status` reading the
    /// daemon's lock and schedule files): nothing is written, locked or made.
    init?(reading path: String) throws(StoreError) {
        self.path = path
        let folder: StateFolder
        do throws(StoreError) {
            folder = try StateFolder(holding: path)
        } catch .cannotOpen {
            return nil   // no folder yet: no file either
        }
        guard let found = try Self.openExisting(path, in: folder, flags: O_RDONLY | O_NONBLOCK) else { return nil }
        fd = found; created = false; writable = false
    }

    /// A descriptor of the file that is there now (never followed through a link, verified
    /// a plain file with one link), or nil when there is none.
    private static func openExisting(_ path: String, in folder: StateFolder, flags: Int32) throws(StoreError) -> Int32? {
        let found = openat(folder.fd, (path as NSString).lastPathComponent, flags | O_NOFOLLOW | O_CLOEXEC)
        if found < 0 {
            if errno == ENOENT { return nil }
            throw error(path: path, errno: errno, doing: "open")
        }
        do throws(StoreError) {
            try verify(fd: found, path: path)
        } catch {
            close(found)
            throw error
        }
        return found
    }

    /// The file's text (its first `limit` bytes), as read now.
    func text(limit: Int = 4096) -> String {
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = pread(fd, &buffer, limit, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    /// The device and inode of the file as opened, as `/proc/locks` names a locked file.
    var identity: (device: UInt64, inode: UInt64)? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    deinit { close(fd) }

    /// Linux's `O_PATH` (Glibc's module leaves it out: it is a GNU extension).
    private static let pathOnly: Int32 = 0o10000000

    /// The permission bits of the file as opened.
    var mode: mode_t {
        var st = stat()
        return fstat(fd, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    /// Takes group's and others' access away (`0644` becomes `0600`): the database holds
    /// password hashes and access codes. Done on the file already verified, never on a
    /// name looked up again. Returns the mode before, or nil when nothing changed (already
    /// private, or a file of another user when not root).
    func removeGroupAndOtherAccess() -> mode_t? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let before = st.st_mode & 0o7777
        guard before & 0o077 != 0, geteuid() == 0 || st.st_uid == geteuid() else { return nil }
        // fchmod does not take an O_PATH descriptor; its /proc name is the same file, not a path.
        guard chmod("/proc/self/fd/\(fd)", before & 0o7700) == 0 else { return nil }
        return before
    }

    /// A regular file with one link: not a directory, FIFO, socket or device, and not a
    /// second name of a file that lives elsewhere.
    private static func verify(fd: Int32, path: String) throws(StoreError) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw error(path: path, errno: errno, doing: "examine") }
        guard let problem = problem(of: st) else { return }
        throw .unsafeFile(path: path, problem: problem)
    }

    /// What is wrong with a file found where sisync keeps one of its own, or nil.
    static func problem(of st: stat) -> String? {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return st.st_nlink == 1 ? nil : "has \(st.st_nlink) hard links (it is another name of a file kept elsewhere)"
        case S_IFLNK: return "is a symbolic link"
        case S_IFDIR: return "is a directory"
        default: return "is not a regular file (a FIFO, socket or device)"
        }
    }

    private static func error(path: String, errno code: Int32, doing: String) -> StoreError {
        switch code {
        case ELOOP: return .unsafeFile(path: path, problem: "is a symbolic link")
        case EISDIR: return .unsafeFile(path: path, problem: "is a directory")
        case ENXIO, ENODEV: return .unsafeFile(path: path, problem: "is not a regular file (a FIFO, socket or device)")
        default: return .cannotOpen(path: path, message: "cannot \(doing) \((path as NSString).lastPathComponent): \(String(cString: strerror(code)))")
        }
    }
}
