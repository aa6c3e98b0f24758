import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite database file and the files SQLite keeps beside it (`-wal`, `-shm`,
/// `-journal`), in a folder that may belong to the service's user. That user may put links
/// there for root's `sisyncctl` or `sisyncd --once` to follow (issue 26 item 1); and the
/// database holds password hashes and access codes, so it is nobody else's to read
/// (item 12).
struct SQLiteFiles {
    /// The path as configured, for messages.
    let path: String
    /// The same file with its folder's symbolic links resolved, for SQLite: its
    /// `SQLITE_OPEN_NOFOLLOW` refuses a link anywhere in the path, and systemd's
    /// `DynamicUser=` makes `/var/lib/sisync` one (to `/var/lib/private/sisync`). Links in
    /// the folder's path are root's to make; the file's own name is never followed.
    let resolvedPath: String

    /// SQLite's own files beside the database.
    static let companions = ["-wal", "-shm", "-journal"]

    init(path: String) throws(StoreError) {
        self.path = path
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        guard let resolved = realpath(folder, nil) else {
            let code = errno
            if code == ENOTDIR { throw .unusablePath(path: path, problem: "is not in a folder (\(folder) is not a directory)") }
            throw .cannotOpen(path: path, message: "cannot reach its folder \(folder): \(String(cString: strerror(code)))")
        }
        defer { free(resolved) }
        resolvedPath = String(cString: resolved) + "/" + (path as NSString).lastPathComponent
    }

    /// Refuses a database, `-wal`, `-shm` or `-journal` that is a symbolic link or anything
    /// but a regular file with one link, naming it, before SQLite opens anything. (SQLite
    /// would refuse the links itself, with a message naming none of them.)
    func check() throws(StoreError) {
        for suffix in [""] + Self.companions {
            var st = stat()
            guard lstat(resolvedPath + suffix, &st) == 0 else { continue }
            if suffix.isEmpty && st.st_mode & S_IFMT == S_IFDIR {
                throw .unusablePath(path: path, problem: "is a directory")
            }
            if let problem = StateFile.problem(of: st) { throw .unsafeFile(path: path + suffix, problem: problem) }
        }
    }

    /// Makes the database file, empty, 0600 whatever the umask, before SQLite opens it:
    /// SQLite gives `-wal` and `-shm` the database's mode (and, as root, its owner). Root
    /// making it in another user's folder (the service's) hands it to that user, as it
    /// does lock files; otherwise the service could not write its own database.
    func createIfMissing() throws(StoreError) {
        var st = stat()
        guard lstat(resolvedPath, &st) != 0, errno == ENOENT else { return }
        // Closed at once: a file nobody has opened yet holds no SQLite locks to lose.
        _ = try StateFile(path: path, creatingWith: 0o600, readOnlyFallback: false)
    }

    /// Takes group's and others' access away from an existing database and its `-wal` and
    /// `-shm` (a database 0.2 made 0644, as root's umask left it). Only regular files
    /// reached without following a link, changed through the descriptor that was checked;
    /// another user's files only when root. Call it before this process opens the
    /// database: it must not close a descriptor of a file SQLite holds locks on. Returns
    /// what it changed ("/var/lib/sisync/sisync.db from 0644 to 0600"), for the log.
    static func tighten(databasePath path: String) throws(StoreError) -> [String] {
        // A link or a directory is refused as opening it would, naming it.
        try SQLiteFiles(path: path).check()
        var changed: [String] = []
        for suffix in ["", "-wal", "-shm"] {
            guard let file = try StateFile(inspecting: path + suffix), let before = file.removeGroupAndOtherAccess() else { continue }
            changed.append("\(path + suffix) from \(String(before, radix: 8).leftPadded(to: 4)) to \(String(file.mode, radix: 8).leftPadded(to: 4))")
        }
        return changed
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
