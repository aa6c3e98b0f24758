#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The private directory of one run. Everything a run writes for a while (downloads,
/// unpacked zip entries, the OAuth token response, the export's rows sorted by key: `RowSorter`) goes
/// here and nowhere else, and all of it goes when the run ends, however it ends.
///
/// Why it is made this way (issue 26 items 2, 3, 5): the folder it is made in may belong
/// to the service user while root runs `sisyncctl sync`, and several runs share the folder
/// (tenants' threads in one process, a `sisyncctl` beside `sisyncd`). So the name is
/// random, the directory is 0700 and held by a descriptor from the moment it is made,
/// every file in it is created through that descriptor (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600),
/// and readers reach the files through `/proc/self/fd/N/NAME`: nothing is ever opened
/// again by a path another user could redirect. The run holds an `flock` on the directory
/// while it lives; a directory of ours that nobody holds is a crashed run's, and the next
/// run made in that folder removes it.
public final class RunDirectory: @unchecked Sendable {
    /// How every run directory's name starts (the rest is random).
    public static let prefix = ".sisync-run-"
    /// Where it was made, for messages and administrators; never opened again.
    public let path: String
    /// `/proc/self/fd/N`: the directory through this process's descriptor.
    private let base: String
    private let folder: Int32
    private let descriptor: Int32
    private let name: String
    private let identity: (dev: UInt64, ino: UInt64)
    private let lock = NSLock()
    /// Files made so far (tests: how many runs a sort wrote).
    private(set) var filesMade = 0
    private var removed = false

    /// Makes a run directory in the first place that takes one: `$STATE_DIRECTORY` (the
    /// service), `$RUNTIME_DIRECTORY`, a SQLite database's folder, the user's
    /// `~/.cache/sisync` (made 0700), or, last, the temporary directory (a random 0700
    /// name there is as private as anywhere; a fixed name never is).
    public static func make(for store: StoreLocation, environment: [String: String] = ProcessInfo.processInfo.environment,
                            home: String? = RunDirectory.home()) throws(RunDirectoryError) -> RunDirectory {
        var tried: [String] = []
        for (folder, create) in places(for: store, environment: environment, home: home) {
            if create { try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) }
            do { return try RunDirectory(in: folder) } catch { tried.append(error.description) }
        }
        throw .nowhere(tried: tried)
    }

    /// The folders `make` tries, in order; `true` for the one it may create.
    static func places(for store: StoreLocation, environment: [String: String], home: String?) -> [(String, Bool)] {
        var out: [(String, Bool)] = []
        for key in ["STATE_DIRECTORY", "RUNTIME_DIRECTORY"] {
            // systemd lists several directories separated by colons; the first is the unit's own.
            if let first = environment[key]?.split(separator: ":").first, !first.isEmpty { out.append((String(first), false)) }
        }
        if case .sqlite(let database) = store, database != ":memory:" {
            let folder = (database as NSString).deletingLastPathComponent
            out.append((folder.isEmpty ? "." : folder, false))
        }
        if let home, home.hasPrefix("/"), home != "/" { out.append(((home as NSString).appendingPathComponent(".cache/sisync"), true)) }
        var temporary = NSTemporaryDirectory()
        while temporary.count > 1 && temporary.hasSuffix("/") { temporary.removeLast() }
        out.append((temporary, false))
        return out
    }

    /// The effective user's home directory from the password database (not `$HOME`, which
    /// `sudo` may keep from the calling user).
    public static func home() -> String? {
        guard let entry = getpwuid(geteuid()), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }

    /// Makes a run directory in `folder`, after removing the ones crashed runs left there.
    /// The folder is reached as the database's is (`StateFolder`): a link in its path that
    /// another user could change (a tenant's subfolder of the service's) is not followed.
    public init(in folder: String) throws(RunDirectoryError) {
        let parent: Int32
        do throws(StoreError) {
            parent = try StateFolder(folder).duplicateDescriptor()
        } catch .cannotOpen(_, let message) {
            throw .cannotCreate(path: folder, reason: message)
        } catch {
            throw .cannotCreate(path: folder, reason: error.description)
        }
        guard parent >= 0 else { throw .cannotCreate(path: folder, reason: String(cString: strerror(errno))) }
        Self.removeAbandoned(in: parent)
        var made: (name: String, shown: String, fd: Int32, identity: (dev: UInt64, ino: UInt64))?
        for attempt in 1...5 where made == nil {
            let name = Self.prefix + Self.randomSuffix()
            let shown = (folder as NSString).appendingPathComponent(name)
            do {
                let (fd, identity) = try Self.makePrivate(name, in: parent, shownAs: shown)
                made = (name, shown, fd, identity)
            } catch .notPrivate(let p, let why) {
                // Someone renamed or replaced the fresh directory: make another.
                if attempt == 5 { close(parent); throw .notPrivate(path: p, reason: why) }
            } catch {
                close(parent)
                throw error
            }
        }
        guard let made else { close(parent); throw .cannotCreate(path: folder, reason: "no private directory after 5 attempts") }
        self.folder = parent
        self.descriptor = made.fd
        self.name = made.name
        self.identity = made.identity
        self.path = made.shown
        self.base = "/proc/self/fd/\(made.fd)"
        // Readers need /proc/self/fd/N to be this directory; fail now, not half-way.
        var st = stat()
        guard stat(base, &st) == 0, UInt64(st.st_dev) == identity.dev, UInt64(st.st_ino) == identity.ino else {
            let why = "/proc/self/fd does not show it (is /proc mounted?)"
            remove()
            throw .notPrivate(path: path, reason: why)
        }
    }

    deinit { remove() }

    /// `mkdirat`, not `mkdtemp`: made and opened relative to the folder's descriptor, so
    /// a folder renamed meanwhile cannot move it. The new directory must be a directory,
    /// ours, empty, and nobody else's lock; it is then 0700 whatever the umask.
    private static func makePrivate(_ name: String, in parent: Int32, shownAs: String) throws(RunDirectoryError) -> (Int32, (dev: UInt64, ino: UInt64)) {
        guard mkdirat(parent, name, 0o700) == 0 else {
            if errno == EEXIST { throw .notPrivate(path: shownAs, reason: "the name exists already") }
            throw .cannotCreate(path: (shownAs as NSString).deletingLastPathComponent, reason: String(cString: strerror(errno)))
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .notPrivate(path: shownAs, reason: "it changed before it could be opened (\(String(cString: strerror(errno))))") }
        var st = stat()
        let problem: String?
        // The lock first: a run removing abandoned directories may hold it, and what it
        // held is removed (no links left) by the time this lock is granted.
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { problem = "another run holds it" }
        else if fstat(fd, &st) != 0 { problem = String(cString: strerror(errno)) }
        else if (st.st_mode & S_IFMT) != S_IFDIR { problem = "not a directory" }
        else if st.st_uid != geteuid() { problem = "owned by uid \(st.st_uid), not \(geteuid())" }
        else if st.st_nlink < 2 || !entries(of: fd).isEmpty { problem = "not the empty directory just made" }
        else if fchmod(fd, 0o700) != 0 { problem = String(cString: strerror(errno)) }
        else { problem = nil }
        if let problem {
            close(fd)
            throw .notPrivate(path: shownAs, reason: problem)
        }
        return (fd, (UInt64(st.st_dev), UInt64(st.st_ino)))
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<12).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
    }

    /// A new, empty file (0600), created through the directory's descriptor; its name is
    /// `label` after a number, so two files of a run never share one.
    public func create(_ label: String) throws(RunDirectoryError) -> RunFile {
        let made: Result<RunFile, RunDirectoryError>? = whileOpen {
            filesMade += 1
            let name = "\(filesMade)-" + label.map { $0 == "/" || $0 == "\0" ? "_" : $0 }
            let shown = (path as NSString).appendingPathComponent(name)
            let fd = openat(descriptor, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return .failure(.cannotCreateFile(path: shown, reason: String(cString: strerror(errno)))) }
            // The umask may have taken bits off; a file only its owner reads must still be readable by it.
            guard fchmod(fd, 0o600) == 0 else {
                let why = String(cString: strerror(errno))
                close(fd)
                unlinkat(descriptor, name, 0)
                return .failure(.cannotCreateFile(path: shown, reason: why))
            }
            return .success(RunFile(name: name, path: base + "/" + name, shownAs: shown, descriptor: fd))
        }
        guard let made else { throw .cannotCreateFile(path: path, reason: "the run has ended and its directory is removed") }
        return try made.get()
    }

    /// Removes a file of this directory (a page already read, a zip already unpacked).
    public func remove(_ file: RunFile) { _ = whileOpen { unlinkat(descriptor, file.name, 0) } }

    /// Removes the file at `path`, if it is one this directory gave out; anything else is left.
    public func remove(path file: String) {
        guard file.hasPrefix(base + "/") else { return }
        let name = String(file.dropFirst(base.count + 1))
        guard !name.isEmpty, !name.contains("/") else { return }
        _ = whileOpen { unlinkat(descriptor, name, 0) }
    }

    /// Runs `body` only while the directory's descriptor is open: once the directory is
    /// removed its number may belong to any other file of the process.
    private func whileOpen<T>(_ body: () -> T) -> T? {
        lock.lock()
        defer { lock.unlock() }
        return removed ? nil : body()
    }

    /// Removes every file and then the directory, and gives up the lock. Safe to call again.
    public func remove() {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return }
        removed = true
        Self.empty(descriptor)
        // By name in a folder another user may write to: only if the name still is this
        // directory (and `rmdir` removes nothing that is not empty anyway).
        var st = stat()
        if fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) == 0, UInt64(st.st_dev) == identity.dev, UInt64(st.st_ino) == identity.ino {
            unlinkat(folder, name, AT_REMOVEDIR)
        }
        close(descriptor)
        close(folder)
    }

    /// The names in a directory (without `.` and `..`).
    private static func entries(of fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0 else { return [] }
        guard let dir = fdopendir(copy) else { close(copy); return [] }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Whether every entry is a regular file of this user named as `create` names them
    /// (`12-users.csv`): what a run's directory can hold, and nothing else can.
    private static func holdsOnlyRunFiles(_ fd: Int32) -> Bool {
        entries(of: fd).allSatisfy { name in
            var st = stat()
            guard let dash = name.firstIndex(of: "-"), dash != name.startIndex, name[..<dash].allSatisfy(\.isASCII),
                  name[..<dash].allSatisfy(\.isNumber),
                  fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
            return (st.st_mode & S_IFMT) == S_IFREG && st.st_uid == geteuid()
        }
    }

    /// Unlinks what a run directory holds (only files are ever made in one).
    private static func empty(_ fd: Int32) {
        for entry in entries(of: fd) where unlinkat(fd, entry, 0) != 0 && errno == EISDIR {
            unlinkat(fd, entry, AT_REMOVEDIR)
        }
    }

    /// Removes run directories a crashed run left in the folder: only directories (never
    /// a symlink) that belong to this user, that no live run holds (its `flock`), and that
    /// look like nothing but a run's directory (0700, only files `create` makes). Other
    /// users' are left for them; a live run's lock keeps its directory, whether it is a
    /// tenant's thread in this process or another process. The name proves nothing: the
    /// folder may be the service user's, who can rename any directory of root's in it (a
    /// backup folder, a tenant's database folder root made) to `.sisync-run-…` for root's
    /// next `sisyncctl sync` to empty, but cannot change what such a directory holds.
    private static func removeAbandoned(in parent: Int32) {
        for name in entries(of: parent) where name.hasPrefix(prefix) {
            var st = stat()
            guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid() else { continue }
            let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var held = stat()
            guard fstat(fd, &held) == 0, held.st_uid == geteuid(), held.st_dev == st.st_dev, held.st_ino == st.st_ino,
                  flock(fd, LOCK_EX | LOCK_NB) == 0, held.st_mode & 0o7777 == 0o700, holdsOnlyRunFiles(fd) else { continue }
            empty(fd)
            unlinkat(parent, name, AT_REMOVEDIR)
        }
    }
}
