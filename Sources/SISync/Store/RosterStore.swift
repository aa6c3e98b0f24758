import Foundation

/// The whole state of one district: the SIS mirror, the users and their links, roles, access
/// codes, form permissions, and the runs and change log. It opens the database (one SQLite
/// file in WAL mode or one PostgreSQL schema, so readers are never blocked by a run, R9),
/// migrates it, and hands each part to the store that owns its tables. Applying a run and
/// reverting one span every part in one transaction (R1), so they live here.
public final class RosterStore {
    public let database: any StoreDatabase
    public let location: StoreLocation
    /// Runs and the change log.
    public let auditTrail: AuditTrail
    /// The SIS's records.
    public let mirror: MirrorStore
    /// Users, attachments, lists, logins and links.
    public let accounts: AccountStore
    /// The calculated roles.
    public let roles: RoleStore
    /// Parents' access codes and pairings.
    public let accessCodes: AccessCodeStore
    /// Forms and permission roles.
    public let formPermissions: FormPermissionStore
    /// The HTTP API's clients and its throttle's counter.
    public let apiClients: APIClientStore
    /// The change feed (docs/events.md): off until `events.settings` says otherwise.
    public let events: EventStore
    /// Records carried over to new ids (issue 33) and the renames that carry them.
    public let rekeys: RekeyStore
    /// Where each `[webhook.NAME]` endpoint's delivery stands.
    public let webhooks: WebhookStore
    /// The file path, or the URI (without a password) and schema: for messages and `status`.
    public var path: String { database.location }

    public convenience init(path: String, mustExist: Bool = false) throws {
        try self.init(location: .sqlite(path: path), mustExist: mustExist)
    }

    /// Opens (and creates, unless `mustExist`) the store and migrates it forward.
    /// `applicationName` is what PostgreSQL's `pg_stat_activity` shows for the session.
    public init(location: StoreLocation, mustExist: Bool = false, applicationName: String = StoreLocation.applicationName()) throws {
        self.location = location
        switch location {
        case .sqlite(let path):
            // Looked for where SQLite would open it: a link in its folder's path that another
            // user could change is refused, not taken for a missing database (issue 26, F5).
            if mustExist, try !SQLiteFiles.exists(path) {
                throw StoreError.noDatabase(path: path)
            }
            let db = try SQLiteDatabase(path: path)
            // A user who may only read the database cannot change its journal mode (a
            // database sisync made is in WAL mode already), but can read it.
            if !db.isReadOnly { try db.execute("PRAGMA journal_mode = WAL") }
            try db.execute("PRAGMA synchronous = NORMAL")
            try db.execute("PRAGMA foreign_keys = ON")
            // A 16 MiB page cache; no mmap: a full scan would make the whole file resident in
            // the daemon's memory, and reads through the cache were as fast in the benchmark.
            try db.execute("PRAGMA cache_size = -16384")
            try Migrator().migrate(db)
            database = db
        case .postgres(let settings):
            database = try PostgresDatabase(settings: settings, mustExist: mustExist, applicationName: applicationName)
        }
        events = EventStore(database: database)
        webhooks = WebhookStore(database: database)
        auditTrail = AuditTrail(database: database, events: events)
        mirror = MirrorStore(database: database)
        rekeys = RekeyStore(database: database, feed: events)
        accounts = AccountStore(database: database, auditTrail: auditTrail, mirror: mirror)
        roles = RoleStore(database: database, events: events)
        accessCodes = AccessCodeStore(database: database, auditTrail: auditTrail, mirror: mirror, accounts: accounts)
        formPermissions = FormPermissionStore(database: database, auditTrail: auditTrail, accounts: accounts)
        apiClients = APIClientStore(database: database, auditTrail: auditTrail)
    }

    /// Opens the store `configuration` names with its change feed settings (`[events]`), so
    /// that what is written through it is in the feed when the feed is on.
    public convenience init(configuration: Configuration, mustExist: Bool = false, applicationName: String = StoreLocation.applicationName()) throws {
        try self.init(location: configuration.store, mustExist: mustExist, applicationName: applicationName)
        events.settings = configuration.events
    }

    /// False once a PostgreSQL session has gone away (a server restart, a network cut):
    /// the daemon then opens the store again.
    public var isConnected: Bool {
        (database as? PostgresDatabase)?.connection.isConnected ?? true
    }

    /// Applies a plan, recomputes the calculated roles on the result (R7) and finishes the
    /// run, in one transaction (R1): all of it or none. With the change feed on, each change
    /// is an event in the same transaction (`RunEvents`; none for a dry run). `stop` is checked as rows are
    /// written; a stop rolls everything back. A dry run (`commit: false`) does the same and
    /// rolls back, so that it can show the roles the run would grant and revoke.
    @discardableResult
    public func apply(_ plan: Plan, summary: RunSummary, roles settings: RoleSettings, now: Date,
                      stop: StopSignal?, commit: Bool = true, phase: (String) -> Void = { _ in },
                      judgeRoles: (RolePlan) throws -> Void = { _ in },
                      beforeCommit: () throws -> Void = {}) throws -> RolePlan {
        let runID = summary.runID ?? 0
        let stamp = Timestamp.format(now)
        return try database.transaction(commit: commit) {
            let events = commit ? try self.events.batch(runID: runID) : self.events.none()
            var written = 0
            func checkStop() throws {
                written += 1
                if written & 1023 == 0, let stop, stop.isStopping { throw StoreError.interrupted }
            }
            // Records carried over to new ids first (issue 33): the plan's updates name them
            // by their new ids, and links, roles and codes go with them.
            try rekeys.carryOver(plan.carriedOver, runID: runID, events: events)
            if !plan.carriedOver.isEmpty { phase("rekeys") }
            for p in plan.entities {
                let rows = plan.snapshot?.entities[p.kind]
                // Sorted once for the records and their events (1.2 million keys on a first run).
                let ordered = rows.map { MirrorStore.inKeyOrder(p.additions, $0) }
                try mirror.applyEntity(p, rows: rows, ordered: ordered, runID: runID, stamp: stamp, checkStop: checkStop)
                try RunEvents.records(p, rows: rows, ordered: ordered, into: events)
            }
            // The roles are planned by joins over what was just written: a large write
            // (a first import) must not leave the planner with statistics of empty tables.
            let rewritten = plan.entities.filter { $0.additions.count + $0.updates.count >= Self.statisticsThreshold }.map(\.kind.table)
            // (Never a table before it is written: statistics of an empty `links` would make
            // every lookup while links are added a scan.)
            if !rewritten.isEmpty { try database.refreshStatistics(rewritten + ["users", "user_attachments"]) }
            phase("records")
            try accounts.applyLinks(plan.links, stamp: stamp, actor: summary.actor)
            try RunEvents.links(plan.links, into: events)
            if plan.links.changes.count >= Self.statisticsThreshold { try database.refreshStatistics(["links"]) }
            // A dry run's first grants are planned, not written, on PostgreSQL: written, they
            // would hold `user_roles` from readers for a run that rolls back. (SQLite's
            // one writer holds no reader back.)
            let grantingRun: Int64? = commit || !(database is PostgresDatabase) ? runID : nil
            let rolePlan = try roles.planRoles(settings, changes: RoleInputChanges(plan, limit: RoleStore.incrementalLimit), grantingRun: grantingRun)
            // The guard's say on the revocations (R5): a hold throws and rolls all back.
            try judgeRoles(rolePlan)
            phase("roles")
            guard commit else { return rolePlan }
            try auditTrail.recordChanges(of: plan, runID: runID, checkStop: checkStop)
            try roles.applyRoles(rolePlan, runID: runID, events: events)
            // (First grants written by the plan had theirs refreshed as they were read back.)
            if !rolePlan.grantsStored, rolePlan.grantedCount + rolePlan.revokedCount >= Self.statisticsThreshold { try database.refreshStatistics(["user_roles"]) }
            try roles.recordRoleBasis(settings)
            if plan.snapshot != nil { try auditTrail.recordFileHashes(plan.fileHashes, runID: runID) }
            try auditTrail.recordSourceValidators(plan.sourceValidators, runID: runID)
            var finished = summary
            finished.rolesGranted = rolePlan.grantedCount
            finished.rolesRevoked = rolePlan.revokedCount
            try auditTrail.finishRun(finished)
            // A run that applies ends any hold: the mirror the held plan saw is gone (R5).
            try auditTrail.endHolds(by: runID, actor: summary.actor, at: stamp, approving: summary.approves, events: events)
            if events.isOn { try RunEvents.applied(finished, into: events) }
            try events.finish()
            // Last, inside the transaction: is this still the one writer (R9)?
            try beforeCommit()
            phase("log")
            return rolePlan
        }
    }

    /// Rows written to a table at which its planner statistics are refreshed
    /// (`StoreDatabase.refreshStatistics`).
    static let statisticsThreshold = 10_000
}
