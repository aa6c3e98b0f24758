import Foundation

/// Database failures, with the statement or file that failed.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, message: String)
    case noDatabase(path: String)
    case sqlite(path: String, code: Int32, message: String, sql: String)
    /// A statement was given a value for a placeholder it does not have (`unbound` false), or
    /// run with one of its placeholders never given a value (`unbound` true): a bug of
    /// sisync's, caught before the statement runs rather than binding NULL or nothing.
    case parameterMismatch(path: String, sql: String, number: Int, parameterCount: Int, unbound: Bool)
    /// A newer sisync migrated the schema (a rolling upgrade of a standby pair): exit 75.
    case newerSchema(path: String, found: Int, supported: Int)
    /// The stored version is one no sisync wrote (below the first, or negative).
    case unknownSchemaVersion(path: String, found: Int, oldest: Int)
    case interrupted
    case locked(path: String, holder: String)
    /// A write waited for the run lock as long as it was allowed to (`--wait`).
    case runInProgress(path: String, holder: String, waited: Double)
    case notFound(what: String)
    /// The daemon lock's session ended while this sisyncd ran: it must not write.
    case lockLost(path: String)
    /// A file where sisync keeps one of its own (the database, its `-wal`, `-shm` or
    /// `-journal`, a lock file) is a link or not a regular file: sisync does not use it, as
    /// whoever may write in the folder could point root's sisync at another file that way.
    case unsafeFile(path: String, problem: String)
    /// The database's folder is reached through a symbolic link in a folder that belongs to
    /// another user (not root, not this process's), who could point it anywhere.
    case linkInPath(path: String, link: String, owner: uid_t)
    /// Root would open a database in another user's folder on a system that lets that user
    /// hard-link root's files (`fs.protected_hardlinks` is not 1): SQLite opens its `-wal`
    /// and `-shm` by name and, as root, hands them to the database's owner.
    case hardLinksUnprotected(path: String, folder: String, owner: uid_t, setting: String)
    /// The database path cannot be a database at all (a directory, a folder that is a file).
    case unusablePath(path: String, problem: String)
    /// This user may not write the database (its file, or its folder for `-wal`/`-shm`).
    case readOnly(path: String, folderOnly: Bool)
    /// This user may not even read the database.
    case noAccess(path: String)
    /// The file is not an SQLite database.
    case notADatabase(path: String)
    /// SQLite found the file damaged.
    case corrupt(path: String, message: String)
    /// An upgrade step that makes a table again met what it cannot carry over (a column an
    /// application added): rolled back, the database as it was.
    case upgradeBlocked(path: String, version: Int, step: String, problem: String)
    /// The disk (or the user's quota) is full, or the system could not read or write the
    /// file (SQLITE_FULL, SQLITE_IOERR): not a bug of sisync's, so never exit 70.
    case storageFailed(path: String, full: Bool, message: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let message):
            return "\(path): cannot open the database: \(message); check that the directory exists and is writable"
        case .noDatabase(let path):
            return "\(path): no database here yet; start sisyncd or run `sisyncctl sync` first (or pass --config/--db for another one)"
        case .sqlite(let path, let code, let message, let sql):
            let statement = sql.count > 120 ? String(sql.prefix(120)) + "…" : sql
            return "\(path): database error \(code) (\(message)) in `\(statement)`"
        case .parameterMismatch(let path, let sql, let number, let count, let unbound):
            let statement = sql.count > 120 ? String(sql.prefix(120)) + "…" : sql
            let has = count == 0 ? "no parameters" : count == 1 ? "1 parameter" : "\(count) parameters"
            let what = unbound ? "parameter ?\(number) was never given a value" : "a value was given for parameter ?\(number), which it does not have"
            return "\(path): \(what) in `\(statement)` (it has \(has)); nothing was run. This is a bug in sisync: please report it with this message"
        case .newerSchema(let path, let found, let supported):
            return "\(path): the database schema is version \(found), newer than this sisync understands (sisync \(SisyncVersion.current) knows "
                + "versions up to \(supported)): a newer sisync has migrated it, and this one leaves it alone. Upgrade sisync on this host "
                + "to the release the other hosts run (on a standby pair, upgrade both hosts); nothing was changed"
        case .unknownSchemaVersion(let path, let found, let oldest):
            return "\(path): the database schema says it is version \(found), which no sisync wrote (the oldest is \(oldest)): "
                + "its version record was changed by hand, or the schema is another program's. Restore the database from a backup, "
                + "or point [sync] database (and database_schema) at sisync's own; nothing was changed"
        case .interrupted:
            return "the run was stopped (SIGTERM or SIGINT) before it finished; everything it planned was rolled back"
        case .locked(let path, let holder):
            return "\(path): another sisyncd holds the database (\(holder)); one sisyncd runs per database (R9): use `sisyncctl sync` to run now while the service is up, or stop the other sisyncd"
        case .runInProgress(let path, let holder, let waited):
            return "\(path): still busy after waiting \(ConfigDuration(seconds: waited)) for \(holder) to finish; try again when it is done, or wait longer with --wait (e.g. --wait 10m)"
        case .lockLost(let path):
            return "\(path): this sisyncd no longer holds the database's lock (its PostgreSQL session ended, and another sisyncd may have taken over); the run was rolled back and nothing was applied"
        case .notFound(let what):
            return "\(what) not found"
        case .unsafeFile(let path, let problem):
            let folder = (path as NSString).deletingLastPathComponent
            return "\(path) \(problem), where sisync keeps a file of its own; it is not used, as a link there could make sisync (perhaps run as root) change another file. Remove it (`rm -- \(path)`) and try again; if nobody you know put it there, whoever may write in \(folder.isEmpty ? "." : folder) may have tried to take over this system"
        case .linkInPath(let path, let link, let owner):
            return "\(path): its path leads through the symbolic link \(link), which is in a folder that belongs to \(StateFolder.describe(user: owner)); "
                + "that user could point the link anywhere, and sisync (perhaps run as root) would create and change its database and lock files there, "
                + "so it does not follow it. Name the real path in [sync] database (`realpath \(link)` shows where it points now; check that it is the "
                + "right folder), or keep the database in a folder that is root's or this user's"
        case .hardLinksUnprotected(let path, let folder, let owner, let setting):
            let user = StateFolder.describe(user: owner)
            return "\(path): its folder \(folder) belongs to \(user), and this system lets users make hard links to files they do not own "
                + "(fs.protected_hardlinks is \(setting)): that user could give a file of root's the name of SQLite's -wal or -shm just before SQLite "
                + "opens it, and root's sisync would hand that file to \(user) and overwrite it. So root does not open this database. Turn the "
                + "protection on (`sysctl fs.protected_hardlinks=1`, and keep it with `echo fs.protected_hardlinks=1 > /etc/sysctl.d/60-sisync.conf`), "
                + "or run the command as the folder's owner (`sudo -u '#\(owner)' sisyncctl …`, which works for the service's dynamic user while it runs), "
                + "or leave the work to the service"
        case .unusablePath(let path, let problem):
            return "\(path) \(problem); [sync] database must name a database file in a folder sisync may write (e.g. /var/lib/sisync/sisync.db)"
        case .readOnly(let path, let folderOnly):
            let folder = (path as NSString).deletingLastPathComponent
            let why = folderOnly
                ? "this user (uid \(geteuid())) may not create files in its folder \(folder.isEmpty ? "." : folder), where SQLite keeps its -wal and -shm files"
                : "this user (uid \(geteuid())) may read it but not write it"
            return "\(path): cannot write the database: \(why). Run the command as the user the database belongs to (the service's user, or root with sudo), or give this user write access to the file and its folder; the read commands (status, runs, staff list, explain) need only read access"
        case .noAccess(let path):
            let folder = (path as NSString).deletingLastPathComponent
            return "\(path): this user (uid \(geteuid())) may not read the database. Run the command as the user the database belongs to (the service's user, or root with sudo); if root made it where the service keeps it, give it to the service's user (`chown --reference=\(folder.isEmpty ? "." : folder) \(path)`)"
        case .notADatabase(let path):
            return "\(path) is not a sisync database (not an SQLite database file at all): check [sync] database in the configuration; if this is the right file and it is damaged, restore it from a backup, or move it away and sisync starts a new one"
        case .storageFailed(let path, let full, let message):
            let folder = (path as NSString).deletingLastPathComponent
            if full {
                return "\(path): the disk holding the database is full (or this user's quota is used up): \(message); free space in \(folder.isEmpty ? "." : folder) and try again (what failed was rolled back)"
            }
            return "\(path): the system could not read or write the database (\(message)); check the disk (`dmesg`), and that the database and its -wal and -shm are plain files nothing but sisync replaces, then try again"
        case .upgradeBlocked(let path, let version, let step, let problem):
            return "\(path): upgrading the schema to version \(version) (\(step)) was stopped and rolled back, nothing changed: \(problem)"
        case .corrupt(let path, let message):
            return "\(path): the database is damaged (\(message)); stop sisyncd and restore it from a backup, or try `sqlite3 \(path) .recover` (`sqlite3 \(path) 'PRAGMA integrity_check'` shows what is wrong)"
        }
    }
}
