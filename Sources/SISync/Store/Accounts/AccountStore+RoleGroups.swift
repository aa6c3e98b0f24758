import Foundation

/// A role as an identity provider sees it over SCIM: a group (issue 32, docs/scim.md).
/// Calculated roles (R7) are read-only groups whose members sync computes; manual roles are
/// the groups a provider may create, rename and put members into.
public struct RoleGroup: Sendable, Equatable {
    /// Stable across renames: `calculated-NAME`, or `manual-` and the manual role's first name.
    public var id: String
    public var name: String
    public var calculated: Bool
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
        try database.forEachRow("SELECT name, scim_id FROM manual_roles") { r in
            manual[r.text(0).lowercased()] = RoleGroup(id: r.text(1), name: r.text(0), calculated: false)
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
    public func roleGroupMembers(_ group: RoleGroup, limit: Int) throws -> (count: Int, usernames: [String]?) {
        let source = group.calculated ? "calculated" : "manual"
        let count = try database.int("SELECT count(DISTINCT username) FROM user_roles WHERE role = \(group.name) AND source = \(source)") ?? 0
        guard count <= limit else { return (count, nil) }
        var out: [String] = []
        try database.forEachRow("SELECT DISTINCT username FROM user_roles WHERE role = \(group.name) AND source = \(source) ORDER BY username") { out.append($0.text(0)) }
        return (count, out)
    }

    /// A new manual role (as a SCIM group), with its first members.
    public func createManualRole(_ name: String, members: [String], actor: String, now: Date) throws -> RoleGroup {
        let n = name.trimmingCharacters(in: .whitespaces)
        guard !n.isEmpty else { throw AccountError.invalid("a role needs a name") }
        let group = RoleGroup(id: Self.manualPrefix + n, name: n, calculated: false)
        _ = try auditTrail.administer(actor: actor, now: now) {
            try checkRoleNameFree(n)
            try database.run("INSERT INTO manual_roles (name, scim_id, created_at, created_by) VALUES (\(n), \(group.id), \(Timestamp.format(now)), \(actor))")
            return [Change(entity: "manual_roles", id: n, field: nil, old: nil, new: n, kind: .added)] + (try setMembers(of: n, add: members, remove: []))
        }
        return group
    }

    /// Renames a manual role and changes its members, in one transaction; `replaceMembers`
    /// sets them whole.
    public func updateManualRole(_ group: RoleGroup, name: String?, add: [String], remove: [String], replaceMembers: [String]?,
                                 actor: String, now: Date) throws -> RoleGroup {
        guard !group.calculated else { throw RoleGroupError.calculated(group.name) }
        var current = group
        _ = try auditTrail.administer(actor: actor, now: now) {
            var changes: [Change] = []
            if let name = name?.trimmingCharacters(in: .whitespaces), name != group.name {
                guard !name.isEmpty else { throw AccountError.invalid("a role needs a name") }
                if name.lowercased() != group.name.lowercased() { try checkRoleNameFree(name) }
                try database.run("""
                    INSERT INTO manual_roles (name, scim_id, created_at, created_by) VALUES (\(group.name), \(group.id), \(Timestamp.format(now)), \(actor))
                    ON CONFLICT DO NOTHING
                    """)
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
                try database.forEachRow("SELECT username FROM user_roles WHERE role = \(current.name) AND source = 'manual'") { holders.append($0.text(0)) }
                let wanted = Set(replaceMembers.map { $0.lowercased() })
                toRemove += holders.filter { !wanted.contains($0.lowercased()) }
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
            try database.forEachRow("SELECT username FROM user_roles WHERE role = \(group.name) AND source = 'manual' ORDER BY username") { holders.append($0.text(0)) }
            let changes = try setMembers(of: group.name, add: [], remove: holders)
            try database.run("DELETE FROM manual_roles WHERE scim_id = \(group.id)")
            return changes + [Change(entity: "manual_roles", id: group.name, field: nil, old: group.name, new: nil, kind: .deactivated)]
        }
    }

    /// Grants and revokes a manual role (inside the caller's transaction): each user must
    /// exist; a user who already has it (or does not) changes nothing.
    private func setMembers(of role: String, add: [String], remove: [String]) throws -> [Change] {
        var changes: [Change] = []
        for name in add {
            guard let u = try user(name) else { throw AccountError.noSuchUser(name) }
            try database.run("INSERT INTO user_roles (username, role, source, school_year) VALUES (\(u.username), \(role), 'manual', '') ON CONFLICT DO NOTHING")
            if database.changes > 0 { changes.append(Change(entity: "users", id: u.username, field: "role", old: nil, new: role, kind: .roleGranted)) }
        }
        for name in remove {
            try database.run("DELETE FROM user_roles WHERE username = \(name) AND role = \(role) AND source = 'manual'")
            if database.changes > 0 { changes.append(Change(entity: "users", id: name, field: "role", old: role, new: nil, kind: .roleRevoked)) }
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
