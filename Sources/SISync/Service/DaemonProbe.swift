import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `sisyncctl status` says about the daemon and the run in progress, found without
/// taking or trying any lock (a `flock` probe would make a sisyncd starting at that moment
/// exit 75): on SQLite from the kernel's lock table (`/proc/locks`) matched to the lock
/// files' device and inode, and the files' own text; on PostgreSQL from `pg_locks` and
/// `pg_stat_activity`, as a standby learns who holds the store.
public struct DaemonProbe {
    /// The daemon serving the store, as `status --json` shows it (`daemon`).
    public struct Daemon: Sendable, Equatable {
        public var running = false
        public var pid: Int32?
        /// When the daemon started (SQLite: its process; PostgreSQL: its lock's session).
        public var since: Date?
        public var host: String?
        /// Whether a sisyncd of this host waits as the standby of another holder.
        public var standby = false
        /// The next scheduled run, as the live daemon said it (SQLite; nil otherwise).
        public var nextRunAt: Date?
        /// Where the live daemon is, as it said it (SQLite; nil otherwise, and from a sisyncd
        /// before issue 29).
        public var state: DaemonState?
        /// While nobody holds the lock: the pid the lock file still names, a daemon that
        /// ended without releasing it (killed, or the machine stopped).
        public var gonePID: Int32?

        public init() {}
    }

    /// Who holds the run lock (R9) now, or held it last when it ended without letting go.
    public struct RunHolder: Sendable, Equatable {
        public var held = false
        /// "sisyncd pid 812", "sisyncctl sync pid 913 by admin", as the holder wrote it.
        public var holder: String?
        public var runID: Int64?

        public init() {}
    }

    public let location: StoreLocation
    public let hostName: String

    public init(location: StoreLocation, hostName: String = ProcessInfo.processInfo.hostName) {
        self.location = location
        self.hostName = hostName
    }

    public func daemon() throws -> Daemon {
        var d = Daemon()
        switch location {
        case .sqlite(let path):
            guard let file = try StateFile(reading: path + ".lock"), let identity = file.identity else { return d }
            if let pid = ProcLocks.holders(of: identity).first {
                d.running = true
                d.pid = pid
                d.host = hostName
                d.since = ProcLocks.startTime(of: pid)
                if let entry = DaemonSchedule.read(databasePath: path), entry.pid == pid {
                    d.since = entry.started ?? d.since
                    d.nextRunAt = entry.next
                    d.state = entry.state
                }
            } else {
                // A bare pid: what DaemonLock writes, and leaves when its holder is killed.
                d.gonePID = Int32(file.text(limit: 64).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        case .postgres(let settings):
            let lock = try PostgresAdvisoryLock(settings: settings, purpose: "daemon")
            if let session = lock.holdingSession() {
                let (host, pid) = Self.session(applicationName: session.applicationName)
                d.running = true
                d.pid = pid
                d.host = host
                d.since = session.since
                d.standby = host != hostName && !lock.sisyncdSessions(host: hostName).isEmpty
            }
        }
        return d
    }

    public func runLock() throws -> RunHolder {
        var r = RunHolder()
        let text: String
        switch location {
        case .sqlite(let path):
            guard let file = try StateFile(reading: path + ".run.lock"), let identity = file.identity else { return r }
            r.held = !ProcLocks.holders(of: identity).isEmpty
            text = file.text(limit: 512).trimmingCharacters(in: .whitespacesAndNewlines)
        case .postgres(let settings):
            // A session that ends takes its lock and its name with it: nothing is left to read.
            guard let session = try PostgresAdvisoryLock(settings: settings, purpose: "run").holdingSession() else { return r }
            r.held = true
            text = PostgresAdvisoryLock.describeHolder(applicationName: session.applicationName)
        }
        (r.holder, r.runID) = Self.holderAndRun(text)
        return r
    }

    /// Why a run recorded `running` is not running, or nil when it is: nobody holds the
    /// run lock, so the process that ran it ended before it finished. The next run records
    /// it as failed (`AuditTrail.closeInterruptedRuns`).
    public static func interruption(of runID: Int64, runLock: RunHolder, daemon: Daemon) -> String? {
        guard !runLock.held else { return nil }
        if let holder = runLock.holder, runLock.runID == nil || runLock.runID == runID { return "interrupted: \(holder) is gone" }
        if let pid = daemon.gonePID { return "interrupted: sisyncd pid \(pid) is gone" }
        return "interrupted: the process that ran it is gone"
    }

    /// `sisyncd pid 812, run 42` as ("sisyncd pid 812", 42); an empty text as (nil, nil).
    static func holderAndRun(_ text: String) -> (String?, Int64?) {
        guard !text.isEmpty else { return (nil, nil) }
        guard let comma = text.range(of: ", run ", options: .backwards) else { return (text, nil) }
        return (String(text[..<comma.lowerBound]), Int64(text[comma.upperBound...]))
    }

    /// `sisyncd/HOST/PID` (as a session connects) or `HOST: sisyncd pid N, …` (as a lock's
    /// holder describes itself) as its host and pid.
    static func session(applicationName name: String) -> (host: String?, pid: Int32?) {
        if let colon = name.range(of: ": ") {
            let detail = name[colon.upperBound...]
            let pid = detail.range(of: "pid ").map { Int32(detail[$0.upperBound...].prefix { $0.isNumber }) } ?? nil
            return (String(name[..<colon.lowerBound]), pid)
        }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return (nil, nil) }
        return (String(parts[1]), Int32(parts[2]))
    }
}
