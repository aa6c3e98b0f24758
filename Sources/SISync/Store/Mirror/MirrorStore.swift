import Foundation

/// The SIS's records as the last run applied them: one table per entity (staff, students,
/// households ...), never deleted, only marked inactive (R4).
public final class MirrorStore {
    let database: any StoreDatabase

    init(database: any StoreDatabase) {
        self.database = database
    }


    // MARK: planning input

    public func state(for kind: EntityKind) throws -> StoredEntityState {
        try StoredEntityTable(database: database, kind: kind)
    }

    /// Additions sorted by key, so the B-tree grows at its right edge instead of touching a
    /// random page per row: a large import then writes each page about once. Row numbers
    /// are positions in key order (`EntityRows`), so this is sorting numbers, and the
    /// planner's additions come sorted already (comparing the keys themselves cost 2.4
    /// million reads of the rows on a first import).
    static func inKeyOrder(_ additions: RowNumbers, _ rows: EntityRows) -> RowNumbers {
        additions.isAscending ? additions : RowNumbers(additions.sorted())
    }

    /// Fewer additions than this never load in bulk: a few thousand rows gain nothing from
    /// building the key after them.
    static let bulkLoadMinimum = 4096

    /// `ordered`: the additions in key order (`inKeyOrder`), when the caller has them.
    func applyEntity(_ p: EntityPlan, rows: EntityRows?, ordered: RowNumbers? = nil, runID: Int64, stamp: String, checkStop: () throws -> Void) throws {
        let kind = p.kind
        let keys = kind.keyColumns
        let values = kind.valueColumns
        if let rows, !p.additions.isEmpty {
            let columns = keys + values + ["active", "deactivated_at", "added_run", "updated_run", "fingerprint"]
            let stored = StoredFingerprint(kind)
            // On PostgreSQL a first import's rows (thousands, into an empty table) go in with
            // the table's key and indexes made after them, one sorted build instead of a
            // b-tree insert per row (students: 0.36 s instead of 0.47 s). Only into an empty
            // table: the rebuild holds the table ACCESS EXCLUSIVE until the commit, and R9
            // lets no run block a reader of rows it could read. On SQLite they go in with
            // the table's pages packed full (`loadingPacked`: the records of a first import
            // 10% smaller). Elsewhere as they are.
            func insert(into table: String) throws {
                try database.insertRows(into: table, columns: columns) { insert in
                    for r32 in ordered ?? Self.inKeyOrder(p.additions, rows) {
                        // The row's bytes as they are held: no String per value.
                        try rows.withRow(Int(r32)) { row in
                            let buf = row.key
                            var start = 0
                            for i in 0...buf.count where i == buf.count || buf[i] == 0x1F {
                                try insert.add(utf8: UnsafeBufferPointer(rebasing: buf[start..<i]))
                                start = i + 1
                            }
                            for c in 0..<values.count { try insert.add(utf8: row.value(c)) }
                            let inactive = row.isInactive
                            try insert.add(!inactive)
                            try insert.add(inactive ? stamp : nil)
                            try insert.add(runID)
                            try insert.add(runID)
                            try insert.add(stored.column(row.fingerprint))
                            try insert.endRow()
                        }
                        try checkStop()
                    }
                }
            }
            if try p.additions.count >= Self.bulkLoadMinimum
                && database.int("SELECT count(*) FROM (SELECT 1 FROM \(unescaped: kind.table) LIMIT 1) x") == 0 {
                try database.bulkLoading(kind.table, adding: p.additions.count) {
                    try database.loadingPacked(kind.table, insert)
                }
            } else {
                try insert(into: kind.table)
            }
        }
        guard !p.updates.isEmpty else { return }
        try applyUpdates(p, rows: rows, runID: runID, stamp: stamp, checkStop: checkStop)
    }

    /// Updates, reactivations, deactivations and missing marks, set-based: the run's
    /// updates go into a staging table (COPY on PostgreSQL), then one UPDATE per kind of
    /// change joins it, instead of a round trip per record.
    private func applyUpdates(_ p: EntityPlan, rows: EntityRows?, runID: Int64, stamp: String, checkStop: () throws -> Void) throws {
        let kind = p.kind
        let keys = kind.keyColumns
        let values = kind.valueColumns
        let staging = "staged_\(kind.table)"
        let columns = keys + values + ["fingerprint", "has_values", "reactivate", "deactivate", "missing_action", "missing_since"]
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(staging) (\((keys + values).map { "\($0) TEXT" }.joined(separator: ", ")),
              fingerprint BIGINT, has_values INTEGER NOT NULL, reactivate INTEGER NOT NULL, deactivate INTEGER NOT NULL,
              missing_action INTEGER NOT NULL, missing_since TEXT);
            DELETE FROM temp.\(staging);
            """)
        var missingStamps = Set<String>()
        let stored = StoredFingerprint(kind)
        // Which kinds of change the staged rows hold: an UPDATE that would match none is not run.
        var hasValues = false, hasReactivations = false, hasDeactivations = false, hasCleared = false
        try database.insertRows(into: "temp." + staging, columns: columns) { staged in
            for u in p.updates {
                let parts = keys.count == 1 ? [u.key] : RecordKey.parts(u.key)
                for part in parts { try staged.add(part) }
                let row = u.fields.isEmpty ? nil : u.row
                if let rows, let r = row {
                    try rows.withRow(r) { row in
                        for c in 0..<values.count { try staged.add(utf8: row.value(c)) }
                        try staged.add(stored.column(row.fingerprint))
                    }
                } else {
                    for _ in values { try staged.add(nil as String?) }
                    try staged.add(nil as Int64?)
                }
                let withValues = row != nil && rows != nil
                try staged.add(Int64(withValues ? 1 : 0))
                try staged.add(Int64(u.reactivate ? 1 : 0))
                try staged.add(Int64(u.deactivate != nil ? 1 : 0))
                let missing = u.markMissing.map(Timestamp.format)
                let action = u.deactivate != nil ? 0 : missing != nil ? 1 : u.clearMissing ? 2 : 0
                if action == 1, let missing { missingStamps.insert(missing) }
                hasValues = hasValues || withValues
                hasReactivations = hasReactivations || u.reactivate
                hasDeactivations = hasDeactivations || u.deactivate != nil
                hasCleared = hasCleared || action == 2
                try staged.add(Int64(action))
                try staged.add(missing)
                try staged.endRow()
                try checkStop()
            }
        }
        try database.refreshStatistics(["temp." + staging])
        let matches = keys.map { "\(kind.table).\($0) = s.\($0)" }.joined(separator: " AND ")
        // `OR FAIL`: a failure keeps the rows this statement changed before it instead of
        // taking them back. Taking them back is what SQLite keeps a statement journal for:
        // a copy of every page the statement changes, in a temporary file past 64 KiB. On
        // the every-file day that was as many page writes again as the WAL's (30,000 of
        // its 45,000 writes to temporary files, issue 34). The run's transaction is the
        // unit here: any error rolls all of it back (R1), so the statement's own undo is
        // never used. (PostgreSQL has no `OR FAIL`; its dialect drops it.)
        func update(_ set: SQLQuery, _ condition: SQLQuery) throws {
            try database.run("UPDATE OR FAIL \(unescaped: kind.table) SET \(sql: set), updated_run = \(runID) FROM temp.\(unescaped: staging) s WHERE \(unescaped: matches) AND \(sql: condition)")
        }
        if hasValues {
            try update("\(unescaped: (values.map { "\($0) = s.\($0)" } + ["fingerprint = s.fingerprint"]).joined(separator: ", "))", "s.has_values = 1")
        }
        if hasReactivations { try update("active = TRUE, deactivated_at = NULL, missing_since = NULL", "s.reactivate = 1") }
        if hasDeactivations { try update("active = FALSE, deactivated_at = \(stamp), missing_since = NULL", "s.deactivate = 1") }
        for missing in missingStamps.sorted() {
            try update("missing_since = \(missing)", "s.missing_action = 1 AND s.missing_since = \(missing)")
        }
        if hasCleared { try update("missing_since = NULL", "s.missing_action = 2") }
    }

    private static let staffColumns = "staff_id, first_name, last_name, email, title, school_ids, active, deactivated_at, missing_since, enabled"

    private func staffRecord(_ s: any StoreStatement) -> StaffRecord {
        StaffRecord(staffID: s.text(0), firstName: s.text(1), lastName: s.text(2), email: s.text(3), title: s.text(4),
                    schoolIDs: s.text(5).split(separator: ";").map(String.init), enabled: s.text(9) != "false", active: s.bool(6),
                    deactivatedAt: s.string(7), missingSince: s.string(8))
    }

    /// Staff for `staff list`, sorted by last and first name; `search` matches id, names,
    /// email and title, case-insensitively.
    public func staff(filter: StaffFilter, search: String?) throws -> [StaffRecord] {
        var sql: SQLQuery = "SELECT \(unescaped: Self.staffColumns) FROM staff WHERE 1 = 1"
        switch filter {
        case .active: sql = "\(sql: sql) AND active = TRUE"
        case .inactive: sql = "\(sql: sql) AND active = FALSE"
        case .all: break
        }
        if let search {
            let escaped = search.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            let pattern = "%\(escaped)%"
            let columns = ["staff_id", "first_name", "last_name", "email", "title", "(first_name || ' ' || last_name)"]
            for (i, column) in columns.enumerated() {
                sql = "\(sql: sql)\(unescaped: i == 0 ? " AND (" : " OR ")\(unescaped: column) LIKE \(pattern) ESCAPE '\\'"
            }
            sql = "\(sql: sql))"
        }
        sql = "\(sql: sql) ORDER BY last_name COLLATE NOCASE, first_name COLLATE NOCASE, staff_id"
        var out: [StaffRecord] = []
        try database.forEachRow(sql) { out.append(staffRecord($0)) }
        return out
    }

    public func staffMember(id: String) throws -> StaffRecord? {
        let s = try database.query("SELECT \(unescaped: Self.staffColumns) FROM staff WHERE staff_id = \(id)")
        defer { s.reset() }
        return try s.step() ? staffRecord(s) : nil
    }

    /// Active and total records per entity, for `status`.
    public func recordCounts() throws -> [(EntityKind, active: Int, total: Int)] {
        try EntityKind.allCases.map { kind in
            let s = try database.query("SELECT count(*) FILTER (WHERE active), count(*) FROM \(unescaped: kind.table)")
            defer { s.reset() }
            _ = try s.step()
            return (kind, s.int(0), s.int(1))
        }
    }

    /// The building of a student (its school), for `access-check --student`.
    public func studentBuilding(_ id: String) throws -> String? {
        let s = try database.query("SELECT school_id FROM students WHERE student_id = \(id)")
        defer { s.reset() }
        return try s.step() ? s.text(0) : nil
    }

    func studentState(_ id: String) throws -> (exists: Bool, active: Bool, name: String, school: String) {
        let s = try database.query("SELECT active, first_name || ' ' || last_name, school_id FROM students WHERE student_id = \(id)")
        defer { s.reset() }
        guard try s.step() else { return (false, false, "", "") }
        return (true, s.bool(0), s.text(1), s.text(2))
    }

    /// Each school's active staff (by `school_ids`, a `;` list) or students (by
    /// `school_id`), and how many of those `deactivating` names: the per-school guard's
    /// input. Other entities have no school.
    public func schoolShares(_ kind: EntityKind, deactivating: Set<String>) throws -> [SchoolShare] {
        let column: String
        switch kind {
        case .staff: column = "school_ids"
        case .students: column = "school_id"
        default: return []
        }
        let key = kind.keyColumns[0]
        var active: [String: Int] = [:], leaving: [String: Int] = [:]
        try database.forEachRow("SELECT \(unescaped: key), \(unescaped: column) FROM \(unescaped: kind.table) WHERE active = TRUE") { r in
            let id = r.text(0)
            let schools = Set(r.text(1).split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
            let gone = deactivating.contains(id)
            for school in schools {
                active[school, default: 0] += 1
                if gone { leaving[school, default: 0] += 1 }
            }
        }
        return active.keys.sorted().map { SchoolShare(kind: kind, school: $0, active: active[$0]!, deactivated: leaving[$0] ?? 0) }
    }
}
