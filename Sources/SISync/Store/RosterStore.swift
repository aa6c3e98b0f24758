import Foundation

/// The local mirror of the SIS: entity tables, runs and the change log, in one SQLite
/// file in WAL mode or one PostgreSQL schema, so readers are never blocked by a run (R9).
public final class RosterStore {
    public let database: any StoreDatabase
    public let location: StoreLocation
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
            if mustExist && !FileManager.default.fileExists(atPath: path) {
                throw StoreError.noDatabase(path: path)
            }
            let db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA journal_mode = WAL")
            try db.execute("PRAGMA synchronous = NORMAL")
            try db.execute("PRAGMA foreign_keys = ON")
            // A 16 MiB page cache; no mmap: a full scan would make the whole file resident in
            // the daemon's memory, and reads through the cache were as fast in the benchmark.
            try db.execute("PRAGMA cache_size = -16384")
            try Schema.migrate(db)
            database = db
        case .postgres(let settings):
            database = try PostgresDatabase(settings: settings, mustExist: mustExist, applicationName: applicationName)
        }
    }

    /// False once a PostgreSQL session has gone away (a server restart, a network cut):
    /// the daemon then opens the store again.
    public var isConnected: Bool {
        (database as? PostgresDatabase)?.connection.isConnected ?? true
    }

    // MARK: runs

    /// Records the start of a run in its own committed transaction, so that even a run
    /// that later fails or is killed leaves its record (R1).
    public func beginRun(actor: String, trigger: String, startedAt: Date) throws -> Int64 {
        let s = try database.prepare("INSERT INTO runs (started_at, outcome, actor, trigger) VALUES (?, 'running', ?, ?) RETURNING run_id")
        try s.bind(1, Timestamp.format(startedAt))
        try s.bind(2, actor)
        try s.bind(3, trigger)
        defer { s.reset() }
        guard try s.step() else { throw StoreError.notFound(what: "the new run's id") }
        return s.int64(0)
    }

    /// Marks runs left `running` by a process that died (SIGKILL, power loss) as failed.
    /// Called by the one writer before it starts a run.
    public func closeInterruptedRuns(now: Date) throws {
        let s = try database.prepare("""
            UPDATE runs SET outcome = 'failed', finished_at = ?,
              error = 'the run was interrupted (the process ended before it finished); nothing it planned was applied'
            WHERE outcome = 'running'
            """)
        try s.bind(1, Timestamp.format(now))
        try s.run()
    }

    /// The content digest of the last run that applied or confirmed the export (R3).
    /// After a revert there is none: the database no longer mirrors that export, so the
    /// next run must compare it again.
    public func lastAppliedHash() throws -> String? {
        let s = try database.prepare("""
            SELECT content_hash FROM runs WHERE outcome IN ('applied', 'unchanged') AND (content_hash IS NOT NULL OR reverts IS NOT NULL)
            ORDER BY run_id DESC LIMIT 1
            """)
        return try s.step() ? s.string(0) : nil
    }

    /// Each entity file's digest from the last applied run (empty after a revert, or
    /// before any run stored them).
    public func appliedFileHashes() throws -> [EntityKind: String] {
        var out: [EntityKind: String] = [:]
        try database.prepare("SELECT entity, sha256 FROM export_files").forEachRow { r in
            if let k = EntityKind(rawValue: r.text(0)) { out[k] = r.text(1) }
        }
        return out
    }

    /// What the last successful runs got from each URL (ETag, Last-Modified, SHA-256).
    public func sourceValidators() throws -> [String: SourceValidator] {
        var out: [String: SourceValidator] = [:]
        try database.prepare("SELECT url, etag, last_modified, sha256 FROM source_state WHERE sha256 IS NOT NULL").forEachRow { r in
            out[r.text(0)] = SourceValidator(etag: r.string(1), lastModified: r.string(2), sha256: r.text(3))
        }
        return out
    }

    /// Saves the validators of a successful run's downloads (inside its transaction).
    func recordSourceValidators(_ validators: [String: SourceValidator], runID: Int64) throws {
        guard !validators.isEmpty else { return }
        let s = try database.prepare("INSERT OR REPLACE INTO source_state (url, etag, last_modified, sha256, run_id) VALUES (?, ?, ?, ?, ?)")
        for (url, v) in validators {
            try s.bind(1, url); try s.bind(2, v.etag); try s.bind(3, v.lastModified); try s.bind(4, v.sha256); try s.bind(5, runID)
            try s.run()
        }
    }

    /// Replaces the stored file digests (inside the run's transaction).
    func recordFileHashes(_ hashes: [EntityKind: String], runID: Int64) throws {
        try database.execute("DELETE FROM export_files")
        let s = try database.prepare("INSERT INTO export_files (entity, sha256, run_id) VALUES (?, ?, ?)")
        for (k, h) in hashes { try s.bind(1, k.rawValue); try s.bind(2, h); try s.bind(3, runID); try s.run() }
    }

    /// Writes the run's final record (outcome, counts, error).
    public func finishRun(_ summary: RunSummary) throws {
        guard let id = summary.runID else { return }
        let s = try database.prepare("""
            UPDATE runs SET finished_at = ?, outcome = ?, error = ?, content_hash = ?,
              staff_added = ?, staff_updated = ?, staff_deactivated = ?, staff_reactivated = ?,
              links_made = ?, links_removed = ?, links_ambiguous = ?, roles_granted = ?, roles_revoked = ?,
              records_changed = ?, entity_counts = ?, problems = ?, reverts = ?
            WHERE run_id = ?
            """)
        try s.bind(1, summary.finishedAt)
        try s.bind(2, summary.outcome.rawValue)
        try s.bind(3, summary.error)
        try s.bind(4, summary.contentHash)
        try s.bind(5, summary.staff.added)
        try s.bind(6, summary.staff.updated)
        try s.bind(7, summary.staff.deactivated)
        try s.bind(8, summary.staff.reactivated)
        try s.bind(9, summary.linksMade)
        try s.bind(10, summary.linksRemoved)
        try s.bind(11, summary.linksAmbiguous)
        try s.bind(12, summary.rolesGranted)
        try s.bind(13, summary.rolesRevoked)
        try s.bind(14, summary.entities.values.reduce(0) { $0 + $1.total })
        try s.bind(15, String(decoding: try JSONEncoder().encode(summary.entities), as: UTF8.self))
        try s.bind(16, String(decoding: try JSONEncoder().encode(Array(summary.problems.prefix(1000))), as: UTF8.self))
        try s.bind(17, summary.reverts)
        try s.bind(18, id)
        try s.run()
    }

    /// Deletes change-log entries of runs older than `days` (R8 keeps at least that long).
    public func pruneHistory(days: Int, now: Date) throws {
        let cutoff = Timestamp.format(now.addingTimeInterval(-Double(days) * 86_400))
        let s = try database.prepare("""
            DELETE FROM changes WHERE run_id IN (SELECT run_id FROM runs WHERE started_at < ?)
            """)
        try s.bind(1, cutoff)
        try s.run()
    }

    // MARK: planning input

    public func state(for kind: EntityKind) throws -> StoredEntityState {
        try SQLiteEntityState(database: database, kind: kind)
    }

    // MARK: applying a plan

    /// What R7 needs besides the data: the current school year and the parent relationships.
    public struct RoleSettings: Sendable {
        public var schoolYear: String
        public var parentRelationships: [String]
        public init(schoolYear: String, parentRelationships: [String]) {
            self.schoolYear = schoolYear
            self.parentRelationships = parentRelationships
        }

        /// The parent relationships as R7's SQL takes them (a JSON array, lower case); also
        /// what `role_basis` compares.
        var relationshipsKey: String {
            String(decoding: (try? JSONEncoder().encode(parentRelationships.map { $0.lowercased() })) ?? Data("[]".utf8), as: UTF8.self)
        }
    }

    /// Applies a plan, recomputes the calculated roles on the result (R7) and finishes the
    /// run, in one transaction (R1): all of it or none. `stop` is checked as rows are
    /// written; a stop rolls everything back. A dry run (`commit: false`) does the same and
    /// rolls back, so that it can show the roles the run would grant and revoke.
    @discardableResult
    public func apply(_ plan: Plan, summary: RunSummary, roles settings: RoleSettings, now: Date,
                      stop: StopSignal?, commit: Bool = true, phase: (String) -> Void = { _ in }) throws -> RolePlan {
        let runID = summary.runID ?? 0
        let stamp = Timestamp.format(now)
        return try database.transaction(commit: commit) {
            var written = 0
            func checkStop() throws {
                written += 1
                if written & 1023 == 0, let stop, stop.isStopping { throw StoreError.interrupted }
            }
            for p in plan.entities {
                try applyEntity(p, rows: plan.snapshot?.entities[p.kind], runID: runID, stamp: stamp, checkStop: checkStop)
            }
            // The roles are planned by joins over what was just written: a large write
            // (a first import) must not leave the planner with statistics of empty tables.
            let rewritten = plan.entities.filter { $0.additions.count + $0.updates.count >= Self.statisticsThreshold }.map(\.kind.table)
            // (Never a table before it is written: statistics of an empty `links` would make
            // every lookup while links are added a scan.)
            if !rewritten.isEmpty { try database.refreshStatistics(rewritten + ["users", "user_attachments"]) }
            phase("records")
            try applyLinks(plan.links, stamp: stamp, actor: summary.actor)
            if plan.links.changes.count >= Self.statisticsThreshold { try database.refreshStatistics(["links"]) }
            let roles = try planRoles(settings, changes: RoleInputChanges(plan, limit: Self.incrementalLimit))
            phase("roles")
            guard commit else { return roles }
            // Additions are recorded by the record's `added_run` (see `Schema.changeLogView`).
            try database.insertRows(into: "changes", columns: ["run_id", "entity", "record_id", "field", "old_value", "new_value", "kind"]) { log in
                try plan.forEachChange(includingAdditions: false, includingRoles: false) { c in
                    try log.add(runID)
                    try log.add(c.entity)
                    try log.add(c.id)
                    try log.add(c.field)
                    try log.add(c.old)
                    try log.add(c.new)
                    try log.add(c.kind.rawValue)
                    try log.endRow()
                    try checkStop()
                }
            }
            try applyRoles(roles, runID: runID)
            if roles.grantedCount + roles.revokedCount >= Self.statisticsThreshold { try database.refreshStatistics(["user_roles"]) }
            try recordRoleBasis(settings)
            if plan.snapshot != nil { try recordFileHashes(plan.fileHashes, runID: runID) }
            try recordSourceValidators(plan.sourceValidators, runID: runID)
            var finished = summary
            finished.rolesGranted = roles.grantedCount
            finished.rolesRevoked = roles.revokedCount
            try finishRun(finished)
            phase("log")
            return roles
        }
    }

    /// Rows written to a table at which its planner statistics are refreshed
    /// (`StoreDatabase.refreshStatistics`).
    static let statisticsThreshold = 10_000

    /// Additions sorted by key, so the B-tree grows at its right edge instead of touching a
    /// random page per row: a large import then writes each page about once. Exports that
    /// are already in key order are left as they are.
    static func inKeyOrder(_ additions: [Int32], _ rows: EntityRows) -> [Int32] {
        func less(_ a: Int32, _ b: Int32) -> Bool {
            rows.withKeyBytes(Int(a)) { ka in rows.withKeyBytes(Int(b)) { kb in ka.lexicographicallyPrecedes(kb) } }
        }
        var sorted = true
        for i in additions.indices.dropFirst() where less(additions[i], additions[i - 1]) { sorted = false; break }
        return sorted ? additions : additions.sorted(by: less)
    }

    private func applyEntity(_ p: EntityPlan, rows: EntityRows?, runID: Int64, stamp: String, checkStop: () throws -> Void) throws {
        let kind = p.kind
        let keys = kind.keyColumns
        let values = kind.valueColumns
        let whereKey = keys.map { "\($0) = ?" }.joined(separator: " AND ")
        func bindKey(_ s: any StoreStatement, _ key: String, from first: Int32) throws {
            if keys.count == 1 { try s.bind(first, key); return }
            for (i, part) in RecordKey.parts(key).enumerated() { try s.bind(first + Int32(i), part) }
        }
        if let rows, !p.additions.isEmpty {
            let columns = keys + values + ["active", "deactivated_at", "added_run", "updated_run", "fingerprint"]
            try database.insertRows(into: kind.table, columns: columns) { insert in
                for r32 in Self.inKeyOrder(p.additions, rows) {
                    let r = Int(r32)
                    try rows.withKeyBytes(r) { buf in
                        var start = 0
                        for i in 0...buf.count where i == buf.count || buf[i] == 0x1F {
                            try insert.add(utf8: UnsafeBufferPointer(rebasing: buf[start..<i]))
                            start = i + 1
                        }
                    }
                    for c in 0..<values.count {
                        try rows.withValueBytes(r, c) { bytes in try insert.add(utf8: bytes) }
                    }
                    let inactive = rows.isInactive(r)
                    try insert.add(!inactive)
                    try insert.add(inactive ? stamp : nil)
                    try insert.add(runID)
                    try insert.add(runID)
                    try insert.add(Int64(bitPattern: rows.fingerprint(r)))
                    try insert.endRow()
                    try checkStop()
                }
            }
        }
        guard !p.updates.isEmpty else { return }
        let setValues = try database.prepare("UPDATE \(kind.table) SET \(values.map { "\($0) = ?" }.joined(separator: ", "))\(values.isEmpty ? "" : ", ")fingerprint = ?, updated_run = ? WHERE \(whereKey)")
        let activate = try database.prepare("UPDATE \(kind.table) SET active = TRUE, deactivated_at = NULL, missing_since = NULL, updated_run = ? WHERE \(whereKey)")
        let deactivate = try database.prepare("UPDATE \(kind.table) SET active = FALSE, deactivated_at = ?, missing_since = NULL, updated_run = ? WHERE \(whereKey)")
        let missing = try database.prepare("UPDATE \(kind.table) SET missing_since = ?, updated_run = ? WHERE \(whereKey)")
        for u in p.updates {
            if !u.fields.isEmpty, let rows, let r = u.row {
                for c in 0..<values.count {
                    try rows.withValueBytes(r, c) { bytes in try setValues.bind(Int32(c + 1), utf8: bytes) }
                }
                try setValues.bind(Int32(values.count + 1), Int64(bitPattern: rows.fingerprint(r)))
                try setValues.bind(Int32(values.count + 2), runID)
                try bindKey(setValues, u.key, from: Int32(values.count + 3))
                try setValues.run()
            }
            if u.reactivate {
                try activate.bind(1, runID)
                try bindKey(activate, u.key, from: 2)
                try activate.run()
            }
            if u.deactivate != nil {
                try deactivate.bind(1, stamp)
                try deactivate.bind(2, runID)
                try bindKey(deactivate, u.key, from: 3)
                try deactivate.run()
            } else if u.markMissing != nil || u.clearMissing {
                try missing.bind(1, u.markMissing.map(Timestamp.format))
                try missing.bind(2, runID)
                try bindKey(missing, u.key, from: 3)
                try missing.run()
            }
            try checkStop()
        }
    }
}

/// The stored state of one entity, read straight from its table.
final class SQLiteEntityState: StoredEntityState {
    let database: any StoreDatabase
    let kind: EntityKind
    private let lookup: any StoreStatement

    init(database: any StoreDatabase, kind: EntityKind) throws {
        self.database = database
        self.kind = kind
        let whereKey = kind.keyColumns.map { "\($0) = ?" }.joined(separator: " AND ")
        lookup = try database.prepare("SELECT \((kind.valueColumns + ["active"]).joined(separator: ", ")) FROM \(kind.table) WHERE \(whereKey)")
    }

    func activeCount() throws -> Int {
        let count = try database.prepare("SELECT count(*) FROM \(kind.table) WHERE active = TRUE")
        _ = try count.step()
        return count.int(0)
    }

    func forEachRecord(_ body: (StoredRecordView) throws -> Void) throws {
        try scan(condition: "") { row in
            let missing = row.isNull(3) ? nil : row.string(3).flatMap(Timestamp.parse)
            try row.withText(0) { key in
                try body(StoredRecordView(keyBytes: key, fingerprint: UInt64(bitPattern: row.int64(1)), active: row.bool(2), missingSince: missing))
            }
        }
    }

    func forEachMissingRecord(_ body: (StoredRecord) throws -> Void) throws {
        try scan(condition: " WHERE missing_since IS NOT NULL AND active = TRUE") { row in
            let missing = row.string(3).flatMap(Timestamp.parse)
            try body(StoredRecord(key: row.text(0), fingerprint: UInt64(bitPattern: row.int64(1)), active: row.bool(2), missingSince: missing))
        }
    }

    private func scan(condition: String, _ body: (any StoreStatement) throws -> Void) throws {
        // Composite keys are joined by SQLite itself: one value per row, not one per part.
        let keyExpression = kind.keyColumns.joined(separator: " || char(31) || ")
        let s = try database.prepare("SELECT \(keyExpression), fingerprint, active, missing_since FROM \(kind.table)\(condition)")
        try s.forEachRow(body)
    }

    func values(forKey key: String) throws -> [String]? { try record(forKey: key)?.values }

    func record(forKey key: String) throws -> (values: [String], active: Bool)? {
        let parts = kind.keyColumns.count == 1 ? [key] : RecordKey.parts(key)
        // A key with the wrong number of parts cannot name a stored record (ids never hold
        // the separator: RowRules refuses control characters in ids).
        guard parts.count == kind.keyColumns.count else { return nil }
        for (i, p) in parts.enumerated() { try lookup.bind(Int32(i + 1), p) }
        defer { lookup.reset() }
        guard try lookup.step() else { return nil }
        let n = Int32(kind.valueColumns.count)
        return ((0..<n).map { lookup.text($0) }, lookup.bool(n))
    }
}
