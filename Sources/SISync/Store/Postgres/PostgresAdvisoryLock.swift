import Foundation

/// R9's locks on a PostgreSQL store: a session-level advisory lock
/// (`pg_try_advisory_lock`) keyed by the schema and the lock's purpose, held by a session
/// of its own. PostgreSQL drops it when that session ends, however the process ends, so
/// nothing stale is left behind. The holder is named by its session's `application_name`
/// (`sisyncd/HOST/PID`, then what it is doing), read back from `pg_stat_activity`, so a
/// second sisyncd on another host can say which host and which process holds it.
final class PostgresAdvisoryLock: ExclusiveLock {
    let settings: PostgresStoreSettings
    let purpose: String
    private var connection: PostgresConnection
    private let key: Int64
    private let applicationName: String
    private var held = false
    /// False for a lock on a session shared with others (`PostgresLockSessions`, the
    /// store's own session): such a lock never replaces its session.
    private let ownsSession: Bool

    /// `purpose` is `daemon` or `run`.
    init(settings: PostgresStoreSettings, purpose: String, applicationName: String = StoreLocation.applicationName()) throws {
        self.settings = settings
        self.purpose = purpose
        self.applicationName = applicationName
        connection = try PostgresConnection(uri: settings.uri, password: try settings.password(), applicationName: applicationName)
        ownsSession = true
        key = try Self.key(on: connection, purpose: purpose, schema: settings.schema)
    }

    /// A lock held by `session`, which other locks share: the session of
    /// `PostgresLockSessions` (every tenant's daemon lock on one server and database) or a
    /// run's own store session (its run lock).
    init(settings: PostgresStoreSettings, purpose: String, session: PostgresConnection) throws {
        self.settings = settings
        self.purpose = purpose
        applicationName = ""
        connection = session
        ownsSession = false
        key = try Self.key(on: session, purpose: purpose, schema: settings.schema)
    }

    private static func key(on connection: PostgresConnection, purpose: String, schema: String) throws -> Int64 {
        let text = try connection.execute("SELECT hashtextextended($1, 0)", ["sisync \(purpose) lock: schema \(schema)"]).value(0, 0)
        return Int64(text ?? "0") ?? 0
    }

    func tryLock() throws -> Bool {
        if held { return true }
        // A session that went away (server restart, cut connection) is replaced: a
        // standby keeps polling through a failover of the server itself.
        if ownsSession, !connection.isConnected || (try? connection.execute("SELECT 1")) == nil {
            connection = try PostgresConnection(uri: settings.uri, password: try settings.password(), applicationName: applicationName)
        }
        held = try connection.tryAdvisoryLock(key)
        if held { holderPID = connection.backendPID }
        return held
    }

    /// The backend that took the lock (read once: the session may be shared with a thread
    /// that is using it).
    private var holderPID: Int32 = 0

    private var keyParts: [String] {
        [String(UInt32(truncatingIfNeeded: UInt64(bitPattern: key) >> 32)), String(UInt32(truncatingIfNeeded: UInt64(bitPattern: key)))]
    }

    /// Asks the lock's own session whether it still holds the lock; a session that does
    /// not answer holds nothing.
    func isStillHeld() -> Bool {
        guard held else { return false }
        let sql = """
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
            AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1
            """
        do {
            guard try connection.execute(sql, keyParts).value(0, 0) != "0" else { held = false; return false }
            return true
        } catch {
            // A session that is gone holds nothing; one that only failed this query still
            // holds its lock (never forget a lock the session has: it is re-entrant).
            if !connection.isConnected { held = false }
            return held
        }
    }

    /// Asks, in the writer's own session and transaction, whether the lock's session
    /// (another backend) still holds the lock: its backend pid with the lock in `pg_locks`.
    func isHeld(accordingTo database: any StoreDatabase) throws -> Bool {
        guard held else { return false }
        let holders = try database.int("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = \(Int64(holderPID))
            AND CAST(classid AS bigint) = CAST(\(keyParts[0]) AS bigint) AND CAST(objid AS bigint) = CAST(\(keyParts[1]) AS bigint) AND objsubid = 1
            """)
        return (holders ?? 0) > 0
    }

    /// `sisyncd on HOST pid PID, …` from the holding session's `application_name`.
    func holder() -> String { holderAndSince().holder }

    /// The holder, and since when its session has held the server (`backend_start`, in
    /// local time as `HH:mm`), for a standby's STATUS line.
    func holderAndSince() -> (holder: String, since: Date?) {
        guard let session = holdingSession() else { return ("unknown", nil) }
        return (Self.describeHolder(applicationName: session.applicationName), session.since)
    }

    /// The session holding the lock, read from `pg_locks` without trying the lock: its
    /// `application_name` and when it connected; nil when nobody holds it.
    func holdingSession() -> (applicationName: String, since: Date?)? {
        let sql = """
            SELECT a.application_name, extract(epoch FROM a.backend_start)::bigint FROM pg_locks l
            JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """
        guard let row = try? connection.execute(sql, keyParts).rows.first, let name = row[0] else { return nil }
        return (name, row[1].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)))
    }

    /// The pids of this host's sisyncd sessions on the database (`sisyncd/HOST/PID`): a
    /// standby polling for the lock has one while another host holds it.
    func sisyncdSessions(host: String) -> [Int32] {
        let sql = """
            SELECT application_name FROM pg_stat_activity
            WHERE datname = current_database() AND application_name LIKE 'sisyncd/%'
            """
        guard let rows = try? connection.execute(sql).rows else { return [] }
        return rows.compactMap { row in
            let parts = (row[0] ?? "").split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 3 && parts[1] == host ? Int32(parts[2]) : nil
        }
    }

    /// A session's `application_name` as a holder: `sisyncd/HOST/PID` (as it connected) is
    /// `sisyncd on HOST pid PID`; `HOST: sisyncd pid 812, run 42` (what `describe` set) is
    /// the description, with the host when it is not this one.
    static func describeHolder(applicationName name: String) -> String {
        if let colon = name.range(of: ": ") {
            let host = String(name[..<colon.lowerBound]), detail = String(name[colon.upperBound...])
            return host == ProcessInfo.processInfo.hostName ? detail : "\(detail) on \(host)"
        }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return name }
        return "\(parts[0]) on \(parts[1]) pid \(parts[2])"
    }

    /// Puts `HOST: text` into the session's `application_name` (63 bytes at most). A
    /// shared session keeps its name (`sisyncd/HOST/PID`), which already says who holds it.
    func describe(_ text: String) {
        guard held, ownsSession else { return }
        var name = ""
        for ch in "\(ProcessInfo.processInfo.hostName): \(text)" {
            guard name.utf8.count + String(ch).utf8.count <= 63 else { break }
            name.append(ch)
        }
        _ = try? connection.execute("SELECT set_config('application_name', $1, false)", [name])
    }

    func unlock() {
        guard held else { return }
        _ = try? connection.advisoryUnlock(key)
        held = false
    }

    deinit { unlock() }
}
