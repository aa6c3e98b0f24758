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
    /// `DynamicUser=` makes `/var/lib/sisync` one (to `/var/lib/private/sisync`). Only links
    /// in folders of root's or this user's are followed (`StateFolder`); the file's own
    /// name never is.
    let resolvedPath: String
    /// The real folder and its owner.
    let folder: String
    let folderOwner: uid_t

    /// SQLite's own files beside the database.
    static let companions = ["-wal", "-shm", "-journal"]

    /// Where Linux says whether users may hard-link files they do not own.
    static let protectedHardLinksSetting = "/proc/sys/fs/protected_hardlinks"

    init(path: String) throws(StoreError) {
        self.path = path
        let held = try StateFolder(holding: path)
        folder = held.resolved
        folderOwner = held.owner
        resolvedPath = (held.resolved == "/" ? "" : held.resolved) + "/" + (path as NSString).lastPathComponent
    }

    /// Whether the database file is there, looked for where SQLite would open it: a link in
    /// its folder's path that another user could change is refused (not taken for a missing
    /// database), while a folder that cannot be reached (missing, no access) means none.
    static func exists(_ path: String) throws(StoreError) -> Bool {
        let files: SQLiteFiles
        do throws(StoreError) {
            files = try SQLiteFiles(path: path)
        } catch .cannotOpen {
            return false
        }
        return FileManager.default.fileExists(atPath: files.resolvedPath)
    }

    /// Refuses a database, `-wal`, `-shm` or `-journal` that is a symbolic link or anything
    /// but a regular file with one link, naming it, before SQLite opens anything. (SQLite
    /// would refuse the links itself, with a message naming none of them.) Root refuses a
    /// database in another user's folder unless that user cannot hard-link root's files
    /// (`requireProtectedHardLinks`).
    func check(hardLinkSetting: String = SQLiteFiles.protectedHardLinksSetting) throws(StoreError) {
        try requireProtectedHardLinks(setting: hardLinkSetting)
        for suffix in [""] + Self.companions {
            var st = stat()
            guard lstat(resolvedPath + suffix, &st) == 0 else { continue }
            if suffix.isEmpty && st.st_mode & S_IFMT == S_IFDIR {
                throw .unusablePath(path: path, problem: "is a directory")
            }
            if let problem = StateFile.problem(of: st) { throw .unsafeFile(path: path + suffix, problem: problem) }
        }
    }

    /// Root may open a database in another user's folder only while the kernel keeps users
    /// from hard-linking files they do not own (`fs.protected_hardlinks = 1`, systemd's and
    /// Debian's default). `check` sees a hard link (a second name of root's file) only until
    /// SQLite opens the `-wal`, `-shm` or `-journal` by name; in between, the folder's
    /// owner can rename such a link into place, and SQLite (as root) gives what it opens to
    /// the database's owner and rewrites `-shm` (issue 26 review, F3). With the
    /// protection on, the only files that user can link are ones it owns or may read and
    /// write already, so there is nothing to gain. A setting that cannot be read (no
    /// `/proc`) counts as off: sisync needs `/proc` for its run directories anyway.
    /// Lock files need no such check: `StateFile` opens them by descriptor and refuses a
    /// file with a second link, and the attacker cannot remove the other name of a file of
    /// root's in a folder of root's.
    func requireProtectedHardLinks(setting file: String) throws(StoreError) {
        guard geteuid() == 0, folderOwner != 0 else { return }
        let value = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard value != "1" else { return }
        throw .hardLinksUnprotected(path: path, folder: folder, owner: folderOwner,
                                    setting: value.map { $0.isEmpty ? "empty" : $0 } ?? "unreadable (\(file))")
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
