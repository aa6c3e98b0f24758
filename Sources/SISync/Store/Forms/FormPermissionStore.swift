import Foundation

/// Document types (forms), permission roles with their default and maximum permission per form,
/// and which users hold them in which building.
public final class FormPermissionStore {
    let database: any StoreDatabase
    let auditTrail: AuditTrail
    let accounts: AccountStore

    init(database: any StoreDatabase, auditTrail: AuditTrail, accounts: AccountStore) {
        self.database = database
        self.auditTrail = auditTrail
        self.accounts = accounts
    }

    // MARK: forms

    public func addForm(_ name: String, group: String, actor: String, now: Date) throws {
        let n = name.trimmingCharacters(in: .whitespaces)
        guard !n.isEmpty else { throw FormError.invalid("a form needs a name") }
        _ = try auditTrail.administer(actor: actor, now: now) {
            if try form(n) != nil { throw FormError.exists(kind: "form", name: n) }
            let s = try database.prepare("INSERT INTO forms (name, form_group, created_at) VALUES (?, ?, ?)")
            try s.bind(1, n); try s.bind(2, group); try s.bind(3, Timestamp.format(now))
            try s.run()
            return [Change(entity: "forms", id: n, field: nil, old: nil, new: group.isEmpty ? n : "\(n) (\(group))", kind: .added)]
        }
    }

    public func form(_ name: String) throws -> FormRecord? {
        let s = try database.prepare("SELECT name, form_group, deleted_at IS NOT NULL FROM forms WHERE name = ?")
        try s.bind(1, name)
        defer { s.reset() }
        return try s.step() ? FormRecord(name: s.text(0), group: s.text(1), deleted: s.bool(2)) : nil
    }

    public func forms(group: String?, includeDeleted: Bool) throws -> [FormRecord] {
        let s = try database.prepare("""
            SELECT name, form_group, deleted_at IS NOT NULL FROM forms
            WHERE (?1 IS NULL OR form_group = ?1 COLLATE NOCASE) AND (?2 OR deleted_at IS NULL) ORDER BY form_group, name
            """)
        try s.bind(1, group); try s.bind(2, includeDeleted)
        var out: [FormRecord] = []
        try s.forEachRow { out.append(FormRecord(name: $0.text(0), group: $0.text(1), deleted: $0.bool(2))) }
        return out
    }

    public func setFormDeleted(_ name: String, deleted: Bool, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let f = try form(name) else { throw FormError.noSuchForm(name) }
            guard f.deleted != deleted else { return [] }
            let s = try database.prepare("UPDATE forms SET deleted_at = ? WHERE name = ?")
            try s.bind(1, deleted ? Timestamp.format(now) : nil); try s.bind(2, f.name)
            try s.run()
            return [Change(entity: "forms", id: f.name, field: "deleted", old: String(!deleted), new: String(deleted), kind: deleted ? .deactivated : .reactivated)]
        }
    }

    // MARK: roles

    public func permissionRole(_ name: String) throws -> PermissionRoleRecord? {
        let s = try database.prepare("""
            SELECT r.name, r.deleted_at IS NOT NULL, r.merged_into,
                   (SELECT count(*) FROM role_assignments a WHERE a.role = r.name AND a.suspended = FALSE)
            FROM permission_roles r WHERE r.name = ?
            """)
        try s.bind(1, name)
        defer { s.reset() }
        return try s.step() ? PermissionRoleRecord(name: s.text(0), deleted: s.bool(1), mergedInto: s.string(2), users: s.int(3)) : nil
    }

    public func permissionRoles(includeDeleted: Bool) throws -> [PermissionRoleRecord] {
        let s = try database.prepare("""
            SELECT r.name, r.deleted_at IS NOT NULL, r.merged_into,
                   (SELECT count(*) FROM role_assignments a WHERE a.role = r.name AND a.suspended = FALSE)
            FROM permission_roles r WHERE ?1 OR r.deleted_at IS NULL ORDER BY r.name
            """)
        try s.bind(1, includeDeleted)
        var out: [PermissionRoleRecord] = []
        try s.forEachRow { out.append(PermissionRoleRecord(name: $0.text(0), deleted: $0.bool(1), mergedInto: $0.string(2), users: $0.int(3))) }
        return out
    }

    private func liveRole(_ name: String) throws -> PermissionRoleRecord {
        guard let r = try permissionRole(name), !r.deleted else { throw FormError.noSuchRole(name) }
        return r
    }

    public func createPermissionRole(_ name: String, actor: String, now: Date) throws {
        let n = name.trimmingCharacters(in: .whitespaces)
        guard !n.isEmpty else { throw FormError.invalid("a role needs a name") }
        _ = try auditTrail.administer(actor: actor, now: now) {
            if try permissionRole(n) != nil { throw FormError.exists(kind: "role", name: n) }
            let s = try database.prepare("INSERT INTO permission_roles (name, created_at) VALUES (?, ?)")
            try s.bind(1, n); try s.bind(2, Timestamp.format(now))
            try s.run()
            return [Change(entity: "roles", id: n, field: nil, old: nil, new: n, kind: .added)]
        }
    }

    public func renamePermissionRole(_ old: String, to new: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            let r = try liveRole(old)
            if let other = try permissionRole(new), other.name.lowercased() != r.name.lowercased() { throw FormError.exists(kind: "role", name: other.name) }
            for sql in ["UPDATE permission_roles SET name = ?1 WHERE name = ?2", "UPDATE role_form_settings SET role = ?1 WHERE role = ?2",
                        "UPDATE role_assignments SET role = ?1 WHERE role = ?2", "UPDATE permission_roles SET merged_into = ?1 WHERE merged_into = ?2"] {
                let s = try database.prepare(sql)
                try s.bind(1, new); try s.bind(2, r.name)
                try s.run()
            }
            return [Change(entity: "roles", id: new, field: "name", old: r.name, new: new, kind: .updated)]
        }
    }

    /// Sets one form, or every form of a group, for a role.
    public func setRoleForms(_ role: String, forms names: [String], setting: FormSetting, actor: String, now: Date) throws {
        guard setting.defaultLevel <= setting.maxLevel else { throw FormError.defaultAboveMax(setting.defaultLevel, setting.maxLevel) }
        _ = try auditTrail.administer(actor: actor, now: now) {
            let r = try liveRole(role)
            let s = try database.prepare("INSERT OR REPLACE INTO role_form_settings (role, form, default_level, max_level) VALUES (?, ?, ?, ?)")
            var changes: [Change] = []
            for name in names {
                guard let f = try form(name), !f.deleted else { throw FormError.noSuchForm(name) }
                try s.bind(1, r.name); try s.bind(2, f.name); try s.bind(3, setting.defaultLevel.rawValue); try s.bind(4, setting.maxLevel.rawValue)
                try s.run()
                changes.append(Change(entity: "roles", id: r.name, field: f.name, old: nil, new: "default \(setting.defaultLevel), max \(setting.maxLevel)", kind: .updated))
            }
            return changes
        }
    }

    /// A role's settings, per form.
    public func roleSettings(_ role: String) throws -> [(form: String, setting: FormSetting)] {
        let s = try database.prepare("SELECT form, default_level, max_level FROM role_form_settings WHERE role = ? ORDER BY form")
        try s.bind(1, role)
        var out: [(String, FormSetting)] = []
        try s.forEachRow { r in
            out.append((r.text(0), FormSetting(default: PermissionLevel(rawValue: r.int(1)) ?? .none, max: PermissionLevel(rawValue: r.int(2)) ?? .none)))
        }
        return out
    }

    /// Deletes a role: its assignments are suspended, not forgotten.
    public func deletePermissionRole(_ name: String, actor: String, now: Date, mergedInto: String? = nil) throws {
        _ = try auditTrail.administer(actor: actor, now: now) { try deleteRoleInTransaction(name, now: now, mergedInto: mergedInto) }
    }

    private func deleteRoleInTransaction(_ name: String, now: Date, mergedInto: String?) throws -> [Change] {
        let r = try liveRole(name)
        let s = try database.prepare("UPDATE permission_roles SET deleted_at = ?, merged_into = ? WHERE name = ?")
        try s.bind(1, Timestamp.format(now)); try s.bind(2, mergedInto); try s.bind(3, r.name)
        try s.run()
        let a = try database.prepare("UPDATE role_assignments SET suspended = TRUE WHERE role = ?")
        try a.bind(1, r.name)
        try a.run()
        return [Change(entity: "roles", id: r.name, field: "deleted", old: "false", new: mergedInto.map { "true (merged into \($0))" } ?? "true", kind: .deactivated)]
    }

    /// Undeletes a role and gives it back to the users who had it (in their buildings).
    public func undeletePermissionRole(_ name: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let r = try permissionRole(name) else { throw FormError.noSuchRole(name) }
            guard r.deleted else { return [] }
            let s = try database.prepare("UPDATE permission_roles SET deleted_at = NULL, merged_into = NULL WHERE name = ?")
            try s.bind(1, r.name)
            try s.run()
            let a = try database.prepare("UPDATE role_assignments SET suspended = FALSE WHERE role = ?")
            try a.bind(1, r.name)
            try a.run()
            return [Change(entity: "roles", id: r.name, field: "deleted", old: "true", new: "false", kind: .reactivated)]
        }
    }

    /// Merges roles into a new one: per form the highest default and the highest max; each
    /// user of a merged role gets the new role with the union of their buildings; the merged
    /// roles are deleted (and can be undeleted).
    public func mergePermissionRoles(_ names: [String], into target: String, actor: String, now: Date) throws {
        guard names.count >= 1 else { throw FormError.invalid("role merge needs at least one role to merge") }
        _ = try auditTrail.administer(actor: actor, now: now) {
            let roles = try names.map(liveRole)
            if try permissionRole(target) != nil { throw FormError.exists(kind: "role", name: target) }
            let create = try database.prepare("INSERT INTO permission_roles (name, created_at) VALUES (?, ?)")
            try create.bind(1, target); try create.bind(2, Timestamp.format(now))
            try create.run()
            var merged: [String: FormSetting] = [:]
            for r in roles {
                for (form, setting) in try roleSettings(r.name) {
                    let key = form.lowercased()
                    if let m = merged[key] {
                        merged[key] = FormSetting(default: max(m.defaultLevel, setting.defaultLevel), max: max(m.maxLevel, setting.maxLevel))
                    } else {
                        merged[key] = setting
                    }
                }
            }
            let set = try database.prepare("INSERT INTO role_form_settings (role, form, default_level, max_level) VALUES (?, ?, ?, ?)")
            for (form, setting) in merged {
                try set.bind(1, target); try set.bind(2, form); try set.bind(3, setting.defaultLevel.rawValue); try set.bind(4, setting.maxLevel.rawValue)
                try set.run()
            }
            var buildings: [String: (username: String, set: Set<String>)] = [:]
            let users = try database.prepare("SELECT username, buildings FROM role_assignments WHERE role = ? AND suspended = FALSE")
            for r in roles {
                try users.bind(1, r.name)
                try users.forEachRow { row in
                    let b = Set(row.text(1).split(separator: ";").map(String.init))
                    buildings[row.text(0).lowercased(), default: (row.text(0), [])].set.formUnion(b)
                }
            }
            let assign = try database.prepare("INSERT OR REPLACE INTO role_assignments (username, role, buildings, suspended) VALUES (?, ?, ?, FALSE)")
            for (_, u) in buildings {
                try assign.bind(1, u.username); try assign.bind(2, target); try assign.bind(3, u.set.sorted().joined(separator: ";"))
                try assign.run()
            }
            var changes = [Change(entity: "roles", id: target, field: nil, old: nil, new: "merged from \(roles.map(\.name).joined(separator: ", "))", kind: .added)]
            for r in roles { changes += try deleteRoleInTransaction(r.name, now: now, mergedInto: target) }
            return changes
        }
    }

    // MARK: assignments

    public func assignRole(_ role: String, to usernames: [String], buildings: [String], actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            let r = try liveRole(role)
            let s = try database.prepare("INSERT OR REPLACE INTO role_assignments (username, role, buildings, suspended) VALUES (?, ?, ?, FALSE)")
            var changes: [Change] = []
            let list = Set(buildings.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }).sorted()
            for name in usernames {
                guard let u = try accounts.user(name) else { throw AccountError.noSuchUser(name) }
                try s.bind(1, u.username); try s.bind(2, r.name); try s.bind(3, list.joined(separator: ";"))
                try s.run()
                changes.append(Change(entity: "users", id: u.username, field: "permission_role", old: nil,
                                      new: list.isEmpty ? r.name : "\(r.name) in \(list.joined(separator: ", "))", kind: .updated))
            }
            return changes
        }
    }

    public func unassignRole(_ role: String, from username: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try accounts.user(username) else { throw AccountError.noSuchUser(username) }
            let s = try database.prepare("DELETE FROM role_assignments WHERE username = ? AND role = ?")
            try s.bind(1, u.username); try s.bind(2, role)
            try s.run()
            guard database.changes > 0 else { return [] }
            return [Change(entity: "users", id: u.username, field: "permission_role", old: role, new: nil, kind: .updated)]
        }
    }

    /// A user's live role assignments with their settings for `form`.
    public func formAssignments(of username: String, form: String) throws -> [FormAccess.Assignment] {
        let s = try database.prepare("""
            SELECT a.role, a.buildings, f.default_level, f.max_level FROM role_assignments a
            JOIN permission_roles r ON r.name = a.role AND r.deleted_at IS NULL
            LEFT JOIN role_form_settings f ON f.role = a.role AND f.form = ?2
            WHERE a.username = ?1 AND a.suspended = FALSE ORDER BY a.role
            """)
        try s.bind(1, username); try s.bind(2, form)
        var out: [FormAccess.Assignment] = []
        try s.forEachRow { r in
            let setting = r.isNull(2) ? nil : FormSetting(default: PermissionLevel(rawValue: r.int(2)) ?? .none, max: PermissionLevel(rawValue: r.int(3)) ?? .none)
            out.append(FormAccess.Assignment(role: r.text(0), setting: setting, buildings: Set(r.text(1).split(separator: ";").map(String.init))))
        }
        return out
    }
}
