import Foundation

/// A role as an identity provider sees it over SCIM: a group (issue 32, docs/scim.md).
/// Calculated roles (R7) are read-only groups whose members sync computes; manual roles are
/// the groups a provider may create, rename and put members into.
public struct RoleGroup: Sendable, Equatable {
    /// Stable across renames: `calculated-NAME`; for a manual role a provider made, 32
    /// random hex digits; for one made by `sisyncctl user role add`, `manual-` and its
    /// first name.
    public var id: String
    public var name: String
    public var calculated: Bool
    /// The provider's `externalId` of a manual role.
    public var externalID: String? = nil
}

/// A member of a role group: the user's SCIM `id` and its username.
public struct RoleGroupMember: Sendable, Equatable {
    public var id: String
    public var username: String
}

/// Why a change to a role group was refused.
public enum RoleGroupError: Error, Equatable, CustomStringConvertible, Sendable {
    case exists(String)
    case calculated(String)

    public var description: String {
        switch self {
        case .exists(let n): return "a role named `\(n)` already exists (role names are unique regardless of case)"
        case .calculated(let n): return "`\(n)` is a calculated role (R7): sync computes its members from the SIS; it cannot be changed by hand"
        }
    }
}

extension AccountStore {
    static let calculatedPrefix = "calculated-"
    static let manualPrefix = "manual-"

    /// Every role group: the fixed calculated roles and any other calculated role held, then
    /// the manual roles (held by a user or made over SCIM), each by name.
    public func roleGroups() throws -> [RoleGroup] {
        var calculated = Set(RolePlan.fixedNames.map { $0.lowercased() })
        var out = RolePlan.fixedNames.map { RoleGroup(id: Self.calculatedPrefix + $0, name: $0, calculated: true) }
        try database.forEachRow("SELECT DISTINCT role FROM user_roles WHERE source = 'calculated' ORDER BY role") { r in
            if calculated.insert(r.text(0).lowercased()).inserted { out.append(RoleGroup(id: Self.calculatedPrefix + r.text(0), name: r.text(0), calculated: true)) }
        }
        var manual: [String: RoleGroup] = [:]
        try database.forEachRow("SELECT name, scim_id, external_id FROM manual_roles") { r in
            manual[r.text(0).lowercased()] = RoleGroup(id: r.text(1), name: r.text(0), calculated: false, externalID: r.string(2))
        }
        try database.forEachRow("SELECT DISTINCT role FROM user_roles WHERE source = 'manual'") { r in
            let key = r.text(0).lowercased()
            if manual[key] == nil, !calculated.contains(key) { manual[key] = RoleGroup(id: Self.manualPrefix + r.text(0), name: r.text(0), calculated: false) }
        }
        return out + manual.values.sorted { $0.name.lowercased() < $1.name.lowercased() }
    }

    public func roleGroup(id: String) throws -> RoleGroup? {
        try roleGroups().first { $0.id == id }
    }

    /// How many users hold the role, and who (ordered by username) when they are at most
    /// `limit`: a group of 200,000 students is counted, never read whole.
    public func roleGroupMembers(_ group: RoleGroup, limit: Int) throws -> (count: Int, members: [RoleGroupMember]?) {
        let source = group.calculated ? "calculated" : "manual"
        let count = try database.int("SELECT count(DISTINCT username) FROM user_roles WHERE role = \(group.name) AND source = \(source)") ?? 0
        guard count <= limit else { return (count, nil) }
        var out: [RoleGroupMember] = []
        try database.forEachRow("""
            SELECT u.scim_id, u.username FROM users u
            WHERE u.username IN (SELECT r.username FROM user_roles r WHERE r.role = \(group.name) AND r.source = \(source))
            ORDER BY u.username
            """) { out.append(RoleGroupMember(id: $0.text(0), username: $0.text(1))) }
        return (count, out)
    }

    /// A new manual role (as a SCIM group), with its first members (users' SCIM ids) and
    /// the provider's `externalId`. Its id is new and random: a role removed and made again
    /// under the same name is another group (RFC 7643 §3.1: ids are never reassigned).
    public func createManualRole(_ name: String, externalID: String? = nil, members: [String], actor: String, now: Date) throws -> RoleGroup {
        let n = name.trimmingCharacters(in: .whitespaces)
        guard !n.isEmpty else { throw AccountError.invalid("a role needs a name") }
        let group = RoleGroup(id: Self.newSCIMID(), name: n, calculated: false, externalID: externalID)
        _ = try auditTrail.administer(actor: actor, now: now) {
            try checkRoleNameFree(n)
            try database.run("""
                INSERT INTO manual_roles (name, scim_id, external_id, created_at, created_by) VALUES (\(n), \(group.id), \(externalID), \(Timestamp.format(now)), \(actor))
                """)
            return [Change(entity: "manual_roles", id: n, field: nil, old: nil, new: n, kind: .added)] + (try setMembers(of: n, add: members, remove: []))
        }
        return group
    }

    /// Renames a manual role, sets its `externalId` (a nil `externalID` leaves it, `.some(nil)`
    /// clears it) and changes its members (users' SCIM ids), in one transaction;
    /// `replaceMembers` sets them whole.
    public func updateManualRole(_ group: RoleGroup, name: String?, externalID: String?? = nil, add: [String], remove: [String], replaceMembers: [String]?,
                                 actor: String, now: Date) throws -> RoleGroup {
        guard !group.calculated else { throw RoleGroupError.calculated(group.name) }
        var current = group
        _ = try auditTrail.administer(actor: actor, now: now) {
            var changes: [Change] = []
            if let externalID, externalID != group.externalID {
                try keepRow(of: group, now: now, actor: actor)
                try database.run("UPDATE manual_roles SET external_id = \(externalID) WHERE scim_id = \(group.id)")
                changes.append(Change(entity: "manual_roles", id: group.name, field: "external_id", old: group.externalID, new: externalID, kind: .updated))
                current.externalID = externalID
            }
            if let name = name?.trimmingCharacters(in: .whitespaces), name != group.name {
                guard !name.isEmpty else { throw AccountError.invalid("a role needs a name") }
                if name.lowercased() != group.name.lowercased() { try checkRoleNameFree(name) }
                try keepRow(of: group, now: now, actor: actor)
                try database.run("UPDATE manual_roles SET name = \(name) WHERE scim_id = \(group.id)")
                var holders: [String] = []
                try database.forEachRow("SELECT username FROM user_roles WHERE role = \(group.name) AND source = 'manual' ORDER BY username") { holders.append($0.text(0)) }
                try database.run("UPDATE user_roles SET role = \(name) WHERE role = \(group.name) AND source = 'manual'")
                changes.append(Change(entity: "manual_roles", id: name, field: "name", old: group.name, new: name, kind: .updated))
                for u in holders {
                    changes.append(Change(entity: "users", id: u, field: "role", old: group.name, new: nil, kind: .roleRevoked))
                    changes.append(Change(entity: "users", id: u, field: "role", old: nil, new: name, kind: .roleGranted))
                }
                current.name = name
            }
            var toRemove = remove
            if let replaceMembers {
                var holders: [String] = []
                try database.forEachRow("""
                    SELECT u.scim_id FROM users u JOIN user_roles r ON r.username = u.username WHERE r.role = \(current.name) AND r.source = 'manual'
                    """) { holders.append($0.text(0)) }
                let wanted = Set(replaceMembers)
                toRemove += holders.filter { !wanted.contains($0) }
            }
            return changes + (try setMembers(of: current.name, add: add + (replaceMembers ?? []), remove: toRemove))
        }
        return current
    }

    /// Removes a manual role from everyone who holds it, and the group.
    public func removeManualRole(_ group: RoleGroup, actor: String, now: Date) throws {
        guard !group.calculated else { throw RoleGroupError.calculated(group.name) }
        _ = try auditTrail.administer(actor: actor, now: now) {
            var holders: [String] = []
            try database.forEachRow("""
                SELECT u.scim_id FROM users u JOIN user_roles r ON r.username = u.username WHERE r.role = \(group.name) AND r.source = 'manual' ORDER BY u.username
                """) { holders.append($0.text(0)) }
            let changes = try setMembers(of: group.name, add: [], remove: holders)
            try database.run("DELETE FROM manual_roles WHERE scim_id = \(group.id)")
            return changes + [Change(entity: "manual_roles", id: group.name, field: nil, old: group.name, new: nil, kind: .deactivated)]
        }
    }

    /// A manual role made by `sisyncctl user role add` has no `manual_roles` row until a
    /// provider changes it; the row keeps its id from then on.
    private func keepRow(of group: RoleGroup, now: Date, actor: String) throws {
        try database.run("""
            INSERT INTO manual_roles (name, scim_id, created_at, created_by) VALUES (\(group.name), \(group.id), \(Timestamp.format(now)), \(actor))
            ON CONFLICT DO NOTHING
            """)
    }

    /// The username of the user whose SCIM id is `id`.
    func username(scimID id: String) throws -> String? {
        let s = try database.query("SELECT u.username FROM users u WHERE \(sql: UserKeyColumns(database).scimID(is: id))")
        defer { s.reset() }
        return try s.step() ? s.text(0) : nil
    }

    /// Grants and revokes a manual role (inside the caller's transaction), members named by
    /// their SCIM ids: a member to add must be a user (roles are held by users: `noSuchUser`);
    /// a user who already has it (or does not) changes nothing.
    private func setMembers(of role: String, add: [String], remove: [String]) throws -> [Change] {
        var changes: [Change] = []
        for id in add {
            guard let u = try username(scimID: id) else { throw AccountError.noSuchUser(id) }
            try database.run("INSERT INTO user_roles (username, role, source, school_year) VALUES (\(u), \(role), 'manual', '') ON CONFLICT DO NOTHING")
            if database.changes > 0 { changes.append(Change(entity: "users", id: u, field: "role", old: nil, new: role, kind: .roleGranted)) }
        }
        for id in remove {
            guard let u = try username(scimID: id) else { continue }
            try database.run("DELETE FROM user_roles WHERE username = \(u) AND role = \(role) AND source = 'manual'")
            if database.changes > 0 { changes.append(Change(entity: "users", id: u, field: "role", old: role, new: nil, kind: .roleRevoked)) }
        }
        return changes
    }

    /// A manual role's name may not be a calculated role's (R7), an attribute role's, or
    /// another manual role's.
    private func checkRoleNameFree(_ name: String) throws {
        if RolePlan.fixedNames.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) { throw RoleGroupError.calculated(name) }
        if try database.int("SELECT count(*) FROM attributes WHERE attribute = \(name) COLLATE NOCASE") ?? 0 > 0 { throw RoleGroupError.calculated(name) }
        if try database.int("SELECT count(*) FROM user_roles WHERE role = \(name) COLLATE NOCASE AND source = 'calculated'") ?? 0 > 0 { throw RoleGroupError.calculated(name) }
        let taken = (try database.int("SELECT count(*) FROM manual_roles WHERE name = \(name)") ?? 0)
            + (try database.int("SELECT count(*) FROM user_roles WHERE role = \(name) COLLATE NOCASE AND source = 'manual'") ?? 0)
        if taken > 0 { throw RoleGroupError.exists(name) }
    }
}
