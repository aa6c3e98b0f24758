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
            try database.run("INSERT INTO forms (name, form_group, created_at) VALUES (\(n), \(group), \(Timestamp.format(now)))")
            return [Change(entity: "forms", id: n, field: nil, old: nil, new: group.isEmpty ? n : "\(n) (\(group))", kind: .added)]
        }
    }

    public func form(_ name: String) throws -> FormRecord? {
        let s = try database.query("SELECT name, form_group, deleted_at IS NOT NULL FROM forms WHERE name = \(name)")
        defer { s.reset() }
        return try s.step() ? FormRecord(name: s.text(0), group: s.text(1), deleted: s.bool(2)) : nil
    }

    public func forms(group: String?, includeDeleted: Bool) throws -> [FormRecord] {
        var out: [FormRecord] = []
        try database.forEachRow("""
            SELECT name, form_group, deleted_at IS NOT NULL FROM forms
            WHERE (\(group) IS NULL OR form_group = \(group) COLLATE NOCASE) AND (\(includeDeleted) OR deleted_at IS NULL) ORDER BY form_group, name
            """) { out.append(FormRecord(name: $0.text(0), group: $0.text(1), deleted: $0.bool(2))) }
        return out
    }

    public func setFormDeleted(_ name: String, deleted: Bool, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let f = try form(name) else { throw FormError.noSuchForm(name) }
            guard f.deleted != deleted else { return [] }
            try database.run("UPDATE forms SET deleted_at = \(deleted ? Timestamp.format(now) : nil) WHERE name = \(f.name)")
            return [Change(entity: "forms", id: f.name, field: "deleted", old: String(!deleted), new: String(deleted), kind: deleted ? .deactivated : .reactivated)]
        }
    }

    // MARK: roles

    public func permissionRole(_ name: String) throws -> PermissionRoleRecord? {
        let s = try database.query("""
            SELECT r.name, r.deleted_at IS NOT NULL, r.merged_into,
                   (SELECT count(*) FROM role_assignments a WHERE a.role = r.name AND a.suspended = FALSE)
            FROM permission_roles r WHERE r.name = \(name)
            """)
        defer { s.reset() }
        return try s.step() ? PermissionRoleRecord(name: s.text(0), deleted: s.bool(1), mergedInto: s.string(2), users: s.int(3)) : nil
    }

    public func permissionRoles(includeDeleted: Bool) throws -> [PermissionRoleRecord] {
        var out: [PermissionRoleRecord] = []
        try database.forEachRow("""
            SELECT r.name, r.deleted_at IS NOT NULL, r.merged_into,
                   (SELECT count(*) FROM role_assignments a WHERE a.role = r.name AND a.suspended = FALSE)
            FROM permission_roles r WHERE \(includeDeleted) OR r.deleted_at IS NULL ORDER BY r.name
            """) { out.append(PermissionRoleRecord(name: $0.text(0), deleted: $0.bool(1), mergedInto: $0.string(2), users: $0.int(3))) }
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
            try database.run("INSERT INTO permission_roles (name, created_at) VALUES (\(n), \(Timestamp.format(now)))")
            return [Change(entity: "roles", id: n, field: nil, old: nil, new: n, kind: .added)]
        }
    }

    public func renamePermissionRole(_ old: String, to new: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            let r = try liveRole(old)
            if let other = try permissionRole(new), other.name.lowercased() != r.name.lowercased() { throw FormError.exists(kind: "role", name: other.name) }
            for (table, column) in [("permission_roles", "name"), ("role_form_settings", "role"), ("role_assignments", "role"), ("permission_roles", "merged_into")] {
                try database.run("UPDATE \(unescaped: table) SET \(unescaped: column) = \(new) WHERE \(unescaped: column) = \(r.name)")
            }
            return [Change(entity: "roles", id: new, field: "name", old: r.name, new: new, kind: .updated)]
        }
    }

    /// Sets one form, or every form of a group, for a role.
    public func setRoleForms(_ role: String, forms names: [String], setting: FormSetting, actor: String, now: Date) throws {
        guard setting.defaultLevel <= setting.maxLevel else { throw FormError.defaultAboveMax(setting.defaultLevel, setting.maxLevel) }
        _ = try auditTrail.administer(actor: actor, now: now) {
            let r = try liveRole(role)
            var changes: [Change] = []
            for name in names {
                guard let f = try form(name), !f.deleted else { throw FormError.noSuchForm(name) }
                try database.run("""
                    INSERT INTO role_form_settings (role, form, default_level, max_level)
                    VALUES (\(r.name), \(f.name), \(setting.defaultLevel.rawValue), \(setting.maxLevel.rawValue))
                    ON CONFLICT (role, form) DO UPDATE SET default_level = excluded.default_level, max_level = excluded.max_level
                    """)
                changes.append(Change(entity: "roles", id: r.name, field: f.name, old: nil, new: "default \(setting.defaultLevel), max \(setting.maxLevel)", kind: .updated))
            }
            return changes
        }
    }

    /// A role's settings, per form.
    public func roleSettings(_ role: String) throws -> [(form: String, setting: FormSetting)] {
        var out: [(String, FormSetting)] = []
        try database.forEachRow("SELECT form, default_level, max_level FROM role_form_settings WHERE role = \(role) ORDER BY form") { r in
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
        try database.run("UPDATE permission_roles SET deleted_at = \(Timestamp.format(now)), merged_into = \(mergedInto) WHERE name = \(r.name)")
        try database.run("UPDATE role_assignments SET suspended = TRUE WHERE role = \(r.name)")
        return [Change(entity: "roles", id: r.name, field: "deleted", old: "false", new: mergedInto.map { "true (merged into \($0))" } ?? "true", kind: .deactivated)]
    }

    /// Undeletes a role and gives it back to the users who had it (in their buildings).
    public func undeletePermissionRole(_ name: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let r = try permissionRole(name) else { throw FormError.noSuchRole(name) }
            guard r.deleted else { return [] }
            try database.run("UPDATE permission_roles SET deleted_at = NULL, merged_into = NULL WHERE name = \(r.name)")
            try database.run("UPDATE role_assignments SET suspended = FALSE WHERE role = \(r.name)")
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
            try database.run("INSERT INTO permission_roles (name, created_at) VALUES (\(target), \(Timestamp.format(now)))")
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
            for (form, setting) in merged {
                try database.run("""
                    INSERT INTO role_form_settings (role, form, default_level, max_level)
                    VALUES (\(target), \(form), \(setting.defaultLevel.rawValue), \(setting.maxLevel.rawValue))
                    """)
            }
            var buildings: [String: (username: String, set: Set<String>)] = [:]
            for r in roles {
                try database.forEachRow("SELECT username, buildings FROM role_assignments WHERE role = \(r.name) AND suspended = FALSE") { row in
                    let b = Set(row.text(1).split(separator: ";").map(String.init))
                    buildings[row.text(0).lowercased(), default: (row.text(0), [])].set.formUnion(b)
                }
            }
            for (_, u) in buildings {
                try assign(u.username, role: target, buildings: u.set.sorted())
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
            var changes: [Change] = []
            let list = Set(buildings.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }).sorted()
            for name in usernames {
                guard let u = try accounts.user(name) else { throw AccountError.noSuchUser(name) }
                try assign(u.username, role: r.name, buildings: list)
                changes.append(Change(entity: "users", id: u.username, field: "permission_role", old: nil,
                                      new: list.isEmpty ? r.name : "\(r.name) in \(list.joined(separator: ", "))", kind: .updated))
            }
            return changes
        }
    }

    /// Gives a user a role in `buildings` (replacing the buildings they had it in), live.
    private func assign(_ username: String, role: String, buildings: [String]) throws {
        try database.run("""
            INSERT INTO role_assignments (username, role, buildings, suspended) VALUES (\(username), \(role), \(buildings.joined(separator: ";")), FALSE)
            ON CONFLICT (username, role) DO UPDATE SET buildings = excluded.buildings, suspended = excluded.suspended
            """)
    }

    public func unassignRole(_ role: String, from username: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try accounts.user(username) else { throw AccountError.noSuchUser(username) }
            try database.run("DELETE FROM role_assignments WHERE username = \(u.username) AND role = \(role)")
            guard database.changes > 0 else { return [] }
            return [Change(entity: "users", id: u.username, field: "permission_role", old: role, new: nil, kind: .updated)]
        }
    }

    /// A user's live role assignments with their settings for `form`.
    public func formAssignments(of username: String, form: String) throws -> [FormAccess.Assignment] {
        var out: [FormAccess.Assignment] = []
        try database.forEachRow("""
            SELECT a.role, a.buildings, f.default_level, f.max_level FROM role_assignments a
            JOIN permission_roles r ON r.name = a.role AND r.deleted_at IS NULL
            LEFT JOIN role_form_settings f ON f.role = a.role AND f.form = \(form)
            WHERE a.username = \(username) AND a.suspended = FALSE ORDER BY a.role
            """) { r in
            let setting = r.isNull(2) ? nil : FormSetting(default: PermissionLevel(rawValue: r.int(2)) ?? .none, max: PermissionLevel(rawValue: r.int(3)) ?? .none)
            out.append(FormAccess.Assignment(role: r.text(0), setting: setting, buildings: Set(r.text(1).split(separator: ";").map(String.init))))
        }
        return out
    }

    /// What `sisyncctl access-check` and `GET /v1/form-access` answer: the user's default,
    /// max and `can_create` for the form in a building, or in the building of a student's
    /// school (a student wins over a building given too), and the level a grant gives.
    public func check(username: String, form: String, building: String?, student: String?, grant: PermissionLevel?) throws -> FormAccessCheck {
        guard let u = try accounts.user(username) else { throw AccountError.noSuchUser(username) }
        guard let f = try self.form(form) else { throw FormError.noSuchForm(form) }
        var place = building
        if let student {
            guard let b = try accounts.mirror.studentBuilding(student) else { throw AccessError.noSuchStudent(student) }
            place = b
        }
        guard let place else { throw FormError.invalid("a form-access check needs a building or a student") }
        let access = FormAccess.evaluate(try formAssignments(of: u.username, form: f.name), building: place, grant: grant)
        return FormAccessCheck(username: u.username, form: f.name, building: place, grant: grant, access: access)
    }
}

/// One answer of `check`: whose, which form, where, and the access.
public struct FormAccessCheck: Sendable, Equatable {
    public var username: String
    public var form: String
    public var building: String
    public var grant: PermissionLevel?
    public var access: FormAccess
}
