import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A folder where sisync keeps files of its own (the database's folder with its lock files
/// and SQLite's `-wal` and `-shm`; the folder a run's private directory is made in), held
/// by a descriptor and reached without following a symbolic link another user could change.
///
/// Why (issue 26, review F5): a tenant's database may sit in a subfolder the service's
/// user owns (`/var/lib/sisync/lincoln/sisync.db`). That user can replace `lincoln` with a
/// link, and root's `sisyncctl` or `sisyncd --once` would then create and change the
/// database, its lock files and run directories wherever the link points. So every part of
/// the path is opened with `O_NOFOLLOW`, one after the other; a part that is a link is
/// followed only when the folder holding the link belongs to root or to this process's
/// user, who could have changed it anyway (systemd's `DynamicUser=` makes
/// `/var/lib/sisync` such a link of root's, to `/var/lib/private/sisync`). Anything else
/// is refused, naming the link, before anything is created.
final class StateFolder {
    /// The descriptor of the folder itself (`O_RDONLY|O_DIRECTORY`), for `openat`.
    let fd: Int32
    /// The folder's real path (no link in it), for SQLite, which opens files by name.
    let resolved: String
    let owner: uid_t
    let group: gid_t

    /// The most links followed before giving up, as the kernel does (`ELOOP`).
    private static let maxLinks = 40

    /// The folder of `file` (`.` for a bare name); `file` is what errors name.
    convenience init(holding file: String, creating: Bool = false) throws(StoreError) {
        let parent = (file as NSString).deletingLastPathComponent
        try self.init(parent.isEmpty ? "." : parent, for: file, creating: creating)
    }

    /// Opens `folder`, making the parts that are missing (mode 0777 less the umask, as
    /// `mkdir -p` would) when `creating`. Errors name `file` (the folder itself when nil).
    init(_ folder: String, for file: String? = nil, creating: Bool = false) throws(StoreError) {
        let shown = file ?? folder
        var walk = Walk(start: folder)
        guard walk.current >= 0 else {
            throw .cannotOpen(path: shown, message: "cannot reach its folder \(folder): \(String(cString: strerror(errno)))")
        }
        var links = 0
        var creations = 0
        while let name = walk.next() {
            if walk.enter(name) { continue }
            let code = errno
            var st = stat()
            if fstatat(walk.current, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFLNK {
                var holder = stat()
                let link = walk.path(adding: name)
                guard fstat(walk.current, &holder) == 0 else {
                    let why = String(cString: strerror(errno))
                    walk.close()
                    throw .cannotOpen(path: shown, message: "cannot examine the folder holding \(link): \(why)")
                }
                guard holder.st_uid == 0 || holder.st_uid == geteuid() else {
                    walk.close()
                    throw .linkInPath(path: shown, link: link, owner: holder.st_uid)
                }
                links += 1
                guard links <= Self.maxLinks, let target = Self.target(of: name, in: walk.current) else {
                    walk.close()
                    throw .cannotOpen(path: shown, message: "cannot follow \(link): \(links > Self.maxLinks ? "too many levels of symbolic links" : String(cString: strerror(errno)))")
                }
                walk.follow(target)
                continue
            }
            if code == ENOENT && creating && creations < Self.maxLinks {
                // Made through the descriptor of the folder just checked; entered again by
                // the loop with O_NOFOLLOW, so a link put in its place meanwhile is refused.
                if mkdirat(walk.current, name, 0o777) == 0 || errno == EEXIST {
                    creations += 1
                    walk.retry(name)
                    continue
                }
                let why = String(cString: strerror(errno))
                walk.close()
                throw .cannotOpen(path: shown, message: "cannot create the directory \(walk.path(adding: name)): \(why)")
            }
            let reached = walk.path(adding: name)
            walk.close()
            if code == ENOTDIR && !(st.st_mode & S_IFMT == S_IFLNK) {
                throw .unusablePath(path: shown, problem: "is not in a folder (\(reached) is not a directory)")
            }
            throw .cannotOpen(path: shown, message: "cannot reach its folder \(folder): \(reached): \(String(cString: strerror(code)))")
        }
        // The parts were opened `O_PATH` (search permission is enough); the folder itself
        // is opened for reading, as its files are listed (run directories) and locked.
        let opened = openat(walk.current, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let openErrno = errno
        resolved = walk.path(adding: nil)
        walk.close()
        guard opened >= 0 else {
            throw .cannotOpen(path: shown, message: "cannot open its folder \(resolved): \(String(cString: strerror(openErrno)))")
        }
        var st = stat()
        guard fstat(opened, &st) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(opened)
            throw .cannotOpen(path: shown, message: "cannot examine its folder \(resolved): \(why)")
        }
        fd = opened
        owner = st.st_uid
        group = st.st_gid
    }

    deinit { close(fd) }

    /// A second descriptor of the folder, for an owner that outlives this value.
    func duplicateDescriptor() -> Int32 { fcntl(fd, F_DUPFD_CLOEXEC, 0) }

    /// "nobody (uid 65534)", or "uid 61234" for a user the password database does not know.
    static func describe(user uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "\(String(cString: name)) (uid \(uid))"
    }

    private static func target(of link: String, in folder: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(folder, link, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Where the walk is: a descriptor (`O_PATH`) of the real folder reached so far, its
    /// path, and the parts still to go.
    private struct Walk {
        var current: Int32
        var reached: [String]
        var remaining: [String]

        /// Linux's `O_PATH` (Glibc's module leaves it out: it is a GNU extension).
        private static let pathOnly: Int32 = 0o10000000

        init(start folder: String) {
            remaining = Self.parts(of: folder)
            if folder.hasPrefix("/") {
                reached = []
                current = open("/", Self.pathOnly | O_DIRECTORY | O_CLOEXEC)
            } else {
                // The working directory is the caller's own choice; only what follows is walked.
                reached = Self.parts(of: FileManager.default.currentDirectoryPath)
                current = open(".", Self.pathOnly | O_DIRECTORY | O_CLOEXEC)
            }
        }

        static func parts(of path: String) -> [String] {
            path.split(separator: "/").map(String.init).filter { $0 != "." }
        }

        mutating func next() -> String? {
            remaining.isEmpty ? nil : remaining.removeFirst()
        }

        /// Steps into `name` if it is a directory (never through a link); false otherwise,
        /// with `errno` saying why.
        mutating func enter(_ name: String) -> Bool {
            let child = openat(current, name, Self.pathOnly | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { return false }
            Glibc.close(current)
            current = child
            if name == ".." { _ = reached.popLast() } else { reached.append(name) }
            return true
        }

        /// Goes on along the link's target (from `/` when it is absolute), then the rest.
        mutating func follow(_ target: String) {
            if target.hasPrefix("/") {
                let root = open("/", Self.pathOnly | O_DIRECTORY | O_CLOEXEC)
                Glibc.close(current)
                current = root
                reached = []
            }
            remaining = Self.parts(of: target) + remaining
        }

        mutating func retry(_ name: String) { remaining.insert(name, at: 0) }

        func path(adding name: String?) -> String {
            "/" + (reached + (name.map { [$0] } ?? [])).joined(separator: "/")
        }

        func close() { if current >= 0 { Glibc.close(current) } }
    }
}
