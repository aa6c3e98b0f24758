import Foundation

/// A staff record as `sisyncctl staff` shows it (Appendix A).
public struct StaffRecord: Sendable, Equatable {
    public var staffID: String
    public var firstName: String
    public var lastName: String
    public var email: String
    public var title: String
    public var schoolIDs: [String]
    /// False when the SIS disabled the account (OneRoster `enabledUser = false`); the
    /// record stays active, so links and past data are untouched.
    public var enabled: Bool = true
    public var active: Bool
    public var deactivatedAt: String?
    public var missingSince: String?
}

/// A change-log entry as stored, with its run (nil for an administrator's change) and actor.
public struct StoredChange: Sendable, Equatable {
    public var runID: Int64?
    public var at: String
    public var actor: String
    public var change: Change
}

/// Which staff `staff list` shows.
public enum StaffFilter: Sendable { case active, inactive, all }

extension RosterStore {
    static let runColumns = """
        run_id, started_at, finished_at, outcome, error, actor, trigger, content_hash,
        staff_added, staff_updated, staff_deactivated, staff_reactivated,
        links_made, links_removed, links_ambiguous, roles_granted, roles_revoked, entity_counts, problems, reverts
        """

    private func runSummary(_ s: any StoreStatement) -> RunSummary {
        var r = RunSummary(runID: s.int64(0), startedAt: s.text(1), outcome: RunOutcome(rawValue: s.text(3)) ?? .failed,
                           dryRun: false, actor: s.text(5), trigger: s.text(6))
        r.finishedAt = s.string(2)
        r.error = s.string(4)
        r.contentHash = s.string(7)
        r.staff = RecordCounts(added: s.int(8), updated: s.int(9), deactivated: s.int(10), reactivated: s.int(11))
        r.linksMade = s.int(12); r.linksRemoved = s.int(13); r.linksAmbiguous = s.int(14)
        r.rolesGranted = s.int(15); r.rolesRevoked = s.int(16)
        r.entities = (try? JSONDecoder().decode([String: RecordCounts].self, from: Data(s.text(17).utf8))) ?? [:]
        r.problems = (try? JSONDecoder().decode([String].self, from: Data(s.text(18).utf8))) ?? []
        r.reverts = s.isNull(19) ? nil : s.int64(19)
        return r
    }

    /// The most recent runs, newest first.
    public func runs(limit: Int) throws -> [RunSummary] {
        let s = try database.prepare("SELECT \(Self.runColumns) FROM runs ORDER BY run_id DESC LIMIT ?")
        try s.bind(1, limit)
        var out: [RunSummary] = []
        try s.forEachRow { out.append(runSummary($0)) }
        return out
    }

    public func run(id: Int64) throws -> RunSummary? {
        let s = try database.prepare("SELECT \(Self.runColumns) FROM runs WHERE run_id = ?")
        try s.bind(1, id)
        defer { s.reset() }
        return try s.step() ? runSummary(s) : nil
    }

    public func lastRun() throws -> RunSummary? { try runs(limit: 1).first }

    /// The changes one run made, in the order they were recorded.
    public func changes(runID: Int64) throws -> [StoredChange] {
        let s = try database.prepare("""
            SELECT c.run_id, coalesce(c.at, r.started_at), coalesce(c.actor, r.actor), c.entity, c.record_id, c.field, c.old_value, c.new_value, c.kind
            FROM changes c LEFT JOIN runs r USING (run_id) WHERE c.run_id = ? ORDER BY c.change_id
            """)
        try s.bind(1, runID)
        var out: [StoredChange] = []
        guard let run = try run(id: runID) else { return [] }
        for kind in EntityKind.allCases {
            let keys = kind.keyColumns
            let a = try database.prepare("SELECT \(keys.joined(separator: ", ")) FROM \(kind.table) WHERE added_run = ? ORDER BY \(keys.joined(separator: ", "))")
            try a.bind(1, runID)
            try a.forEachRow { row in
                let id = (0..<Int32(keys.count)).map { row.text($0) }.joined(separator: "/")
                out.append(StoredChange(runID: runID, at: run.startedAt, actor: run.actor, change: Change(entity: kind.rawValue, id: id, kind: .added)))
            }
        }
        out += try collectChanges(s)
        // Calculated roles granted by the run are recorded by their `granted_run`.
        let g = try database.prepare("SELECT username, role, school_year FROM user_roles WHERE granted_run = ? ORDER BY username COLLATE NOCASE, role, school_year")
        try g.bind(1, runID)
        try g.forEachRow { row in
            let role = CalculatedRole(username: row.text(0), role: row.text(1), schoolYear: row.text(2))
            out.append(StoredChange(runID: runID, at: run.startedAt, actor: run.actor,
                                    change: Change(entity: "users", id: role.username, field: "role", old: nil, new: role.label, kind: .roleGranted)))
        }
        return out
    }

    /// The history of one record, oldest first.
    public func history(entity: EntityKind, id: String) throws -> [StoredChange] {
        let s = try database.prepare("""
            SELECT c.run_id, coalesce(c.at, r.started_at), coalesce(c.actor, r.actor), c.entity, c.record_id, c.field, c.old_value, c.new_value, c.kind
            FROM changes c LEFT JOIN runs r USING (run_id) WHERE c.entity = ? AND c.record_id = ? ORDER BY c.change_id
            """)
        try s.bind(1, entity.rawValue)
        try s.bind(2, id)
        // The addition lives in the record itself (`added_run`), not in `changes`.
        let keys = entity.keyColumns
        let parts = keys.count == 1 ? [id] : id.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var out: [StoredChange] = []
        if parts.count == keys.count {
            let a = try database.prepare("""
                SELECT t.added_run, r.started_at, r.actor FROM \(entity.table) t JOIN runs r ON r.run_id = t.added_run
                WHERE \(keys.map { "t.\($0) = ?" }.joined(separator: " AND "))
                """)
            for (i, p) in parts.enumerated() { try a.bind(Int32(i + 1), p) }
            try a.forEachRow { row in
                out.append(StoredChange(runID: row.isNull(0) ? nil : row.int64(0), at: row.text(1), actor: row.text(2), change: Change(entity: entity.rawValue, id: id, kind: .added)))
            }
        }
        return out + (try collectChanges(s))
    }

    private func collectChanges(_ s: any StoreStatement) throws -> [StoredChange] {
        var out: [StoredChange] = []
        try s.forEachRow { row in
            let kind = ChangeKind(rawValue: row.text(8)) ?? .updated
            out.append(StoredChange(runID: row.isNull(0) ? nil : row.int64(0), at: row.text(1), actor: row.text(2),
                                    change: Change(entity: row.text(3), id: row.text(4), field: row.string(5),
                                                   old: row.string(6), new: row.string(7), kind: kind)))
        }
        return out
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
        var sql = "SELECT \(Self.staffColumns) FROM staff WHERE 1 = 1"
        switch filter {
        case .active: sql += " AND active = TRUE"
        case .inactive: sql += " AND active = FALSE"
        case .all: break
        }
        if search != nil {
            sql += " AND (staff_id LIKE ?1 ESCAPE '\\' OR first_name LIKE ?1 ESCAPE '\\' OR last_name LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\' OR title LIKE ?1 ESCAPE '\\' OR (first_name || ' ' || last_name) LIKE ?1 ESCAPE '\\')"
        }
        sql += " ORDER BY last_name COLLATE NOCASE, first_name COLLATE NOCASE, staff_id"
        let s = try database.prepare(sql)
        if let search {
            let escaped = search.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            try s.bind(1, "%\(escaped)%")
        }
        var out: [StaffRecord] = []
        try s.forEachRow { out.append(staffRecord($0)) }
        return out
    }

    public func staffMember(id: String) throws -> StaffRecord? {
        let s = try database.prepare("SELECT \(Self.staffColumns) FROM staff WHERE staff_id = ?")
        try s.bind(1, id)
        defer { s.reset() }
        return try s.step() ? staffRecord(s) : nil
    }

    /// The change-log entries of one user account, oldest first.
    public func userHistory(_ username: String) throws -> [StoredChange] {
        let s = try database.prepare("""
            SELECT c.run_id, coalesce(c.at, r.started_at), coalesce(c.actor, r.actor), c.entity, c.record_id, c.field, c.old_value, c.new_value, c.kind
            FROM changes c LEFT JOIN runs r USING (run_id) WHERE c.entity = 'users' AND c.record_id = ? COLLATE NOCASE ORDER BY c.change_id
            """)
        try s.bind(1, username)
        var out = try collectChanges(s)
        let g = try database.prepare("""
            SELECT g.granted_run, r.started_at, r.actor, g.username, g.role, g.school_year FROM user_roles g JOIN runs r ON r.run_id = g.granted_run
            WHERE g.username = ? AND g.granted_run IS NOT NULL ORDER BY g.granted_run, g.role, g.school_year
            """)
        try g.bind(1, username)
        try g.forEachRow { row in
            let role = CalculatedRole(username: row.text(3), role: row.text(4), schoolYear: row.text(5))
            out.append(StoredChange(runID: row.int64(0), at: row.text(1), actor: row.text(2),
                                    change: Change(entity: "users", id: role.username, field: "role", old: nil, new: role.label, kind: .roleGranted)))
        }
        // Oldest first: by time, then run; entries of one run keep their recorded order.
        return out.enumerated().sorted {
            ($0.element.at, $0.element.runID ?? 0, $0.offset) < ($1.element.at, $1.element.runID ?? 0, $1.offset)
        }.map(\.element)
    }

    /// Usernames linked to a staff record.
    public func linkedUsers(staffID: String) throws -> [String] {
        let s = try database.prepare("SELECT username FROM links WHERE staff_id = ? ORDER BY username")
        try s.bind(1, staffID)
        var out: [String] = []
        try s.forEachRow { out.append($0.text(0)) }
        return out
    }

    /// Active and total records per entity, for `status`.
    public func recordCounts() throws -> [(EntityKind, active: Int, total: Int)] {
        try EntityKind.allCases.map { kind in
            let s = try database.prepare("SELECT count(*) FILTER (WHERE active), count(*) FROM \(kind.table)")
            _ = try s.step()
            return (kind, s.int(0), s.int(1))
        }
    }
}
