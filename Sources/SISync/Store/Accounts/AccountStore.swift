import Foundation

/// Login accounts and what hangs off them: attachments, schools and ledgers, manual roles,
/// passwords and lockout, and the links to staff records that let a user record data.
/// It owns `users`, `user_attachments`, `user_lists`, `links` and the email key basis.
public final class AccountStore {
    let database: any StoreDatabase
    let auditTrail: AuditTrail
    let mirror: MirrorStore

    init(database: any StoreDatabase, auditTrail: AuditTrail, mirror: MirrorStore) {
        self.database = database
        self.auditTrail = auditTrail
        self.mirror = mirror
    }

    public func user(_ username: String) throws -> UserRecord? {
        let s = try database.query("""
            SELECT u.username, u.email, u.name, u.approved, u.locked, u.created_at, l.staff_id, l.kind, l.reason, l.until
            FROM users u LEFT JOIN links l ON l.username = u.username WHERE u.username = \(username)
            """)
        defer { s.reset() }
        guard try s.step() else { return nil }
        return userRecord(s)
    }

    public func users() throws -> [UserRecord] {
        var out: [UserRecord] = []
        try database.forEachRow("""
            SELECT u.username, u.email, u.name, u.approved, u.locked, u.created_at, l.staff_id, l.kind, l.reason, l.until
            FROM users u LEFT JOIN links l ON l.username = u.username ORDER BY u.username COLLATE NOCASE
            """) { out.append(userRecord($0)) }
        return out
    }

    private func userRecord(_ s: any StoreStatement) -> UserRecord {
        let link = s.isNull(6) ? nil : Link(staffID: s.text(6), kind: LinkKind(rawValue: s.text(7)) ?? .auto, reason: s.string(8), until: s.string(9))
        return UserRecord(username: s.text(0), email: s.text(1), name: s.text(2), approved: s.bool(3), locked: s.bool(4), link: link, createdAt: s.text(5))
    }

    public func addUser(username: String, email: String, name: String, approved: Bool, actor: String, now: Date,
                        normalizer: EmailNormalizer? = nil) throws {
        let u = username.trimmingCharacters(in: .whitespaces)
        let e = email.trimmingCharacters(in: .whitespaces)
        guard UserRecord.isValidUsername(u) else { throw AccountError.invalid("a username must be non-empty and without spaces") }
        guard RowRules.isPlausibleEmail(e) else { throw AccountError.invalid("`\(e)` is not an email address") }
        _ = try auditTrail.administer(actor: actor, now: now) {
            if let existing = try user(u) { throw AccountError.usernameTaken(existing.username) }
            let clash = try database.query("SELECT username FROM users WHERE email = \(e) COLLATE NOCASE")
            if try clash.step() { throw AccountError.emailTaken(email: e, by: clash.text(0)) }
            clash.reset()
            let key = try emailKeyForWrite(e, normalizer: normalizer)
            let columns = UserKeyColumns(database)
            try database.run("""
                INSERT INTO users (username, email, name, approved, created_at, \(unescaped: columns.emailKey), \(unescaped: columns.scimIDColumns.joined(separator: ", ")))
                VALUES (\(u), \(e), \(name), \(approved), \(Timestamp.format(now)), \(value: columns.emailKeyValue(key, of: e))\(sql: columns.newSCIMID()))
                """)
            return [Change(entity: "users", id: u, field: nil, old: nil, new: e, kind: .added)]
        }
    }

    /// Sets `approved` or `locked` (unlock also clears the failed-login count).
    public func setFlag(_ username: String, field: String, to value: Bool, actor: String, now: Date) throws {
        precondition(field == "approved" || field == "locked")
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            let old = field == "approved" ? u.approved : u.locked
            guard old != value else { return [] }
            let unlockResets = field == "locked" && !value ? ", failed_logins = 0" : ""
            try database.run("UPDATE users SET \(unescaped: field) = \(value)\(unescaped: unlockResets) WHERE username = \(u.username)")
            return [Change(entity: "users", id: u.username, field: field, old: String(old), new: String(value), kind: .updated)]
        }
    }

    public func removeUser(_ username: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            var changes: [Change] = []
            if let l = u.link {
                changes.append(Change(entity: "users", id: u.username, field: "link", old: l.staffID, new: nil, kind: .unlinked))
            }
            try keepBulkEntries(of: u.username)
            try database.run("DELETE FROM links WHERE username = \(u.username)")
            try database.run("DELETE FROM users WHERE username = \(u.username)")
            return changes + [Change(entity: "users", id: u.username, field: nil, old: u.email, new: nil, kind: .deactivated)]
        }
    }
    /// Attaches (or detaches) a user to a student, household or donor record.
    public func setAttachment(_ username: String, kind: AttachmentKind, recordID: String, attached: Bool, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            if attached {
                let exists = try database.query("SELECT 1 FROM \(unescaped: kind.entity.table) WHERE \(unescaped: kind.entity.keyColumns[0]) = \(recordID)")
                guard try exists.step() else {
                    throw AccountError.invalid("no \(kind.rawValue) record `\(recordID)` in the mirror; check the id (sync first if it is new)")
                }
                exists.reset()
            }
            if !attached { try keepBulkEntries(of: u.username) }
            if attached {
                try database.run("INSERT INTO user_attachments (username, kind, record_id) VALUES (\(u.username), \(kind.rawValue), \(recordID)) ON CONFLICT DO NOTHING")
            } else {
                try database.run("DELETE FROM user_attachments WHERE username = \(u.username) AND kind = \(kind.rawValue) AND record_id = \(recordID)")
            }
            return [Change(entity: "users", id: u.username, field: kind.rawValue, old: attached ? nil : recordID,
                           new: attached ? recordID : nil, kind: .updated)]
        }
    }

    /// Copies the change-log entries a bulk import kept in a user's rows (their addition
    /// and attachments) into `changes`, with their own actor and time, before any of those
    /// rows goes: all of them, in the order the history shows them, so that it stays whole
    /// and in order.
    func keepBulkEntries(of username: String) throws {
        let insert = "INSERT INTO changes (\(Schema.bulkEntryColumns))\n"
        try database.run("\(unescaped: insert)\(sql: Schema.bulkAddedUsers(matching: "u.username = \(username)"))")
        try database.run("\(unescaped: insert)\(sql: Schema.bulkAttachments(matching: "a.username = \(username)"))")
        try database.run("UPDATE users SET added_by = NULL WHERE username = \(username) AND added_by IS NOT NULL")
        try database.run("""
            UPDATE user_attachments SET added_by = NULL, added_at = NULL, added_seq = NULL WHERE username = \(username) AND added_by IS NOT NULL
            """)
    }

    public func attachments(of username: String) throws -> [AttachmentKind: [String]] {
        var out: [AttachmentKind: [String]] = [:]
        try database.forEachRow("SELECT kind, record_id FROM user_attachments WHERE username = \(username) ORDER BY kind, record_id") { r in
            if let k = AttachmentKind(rawValue: r.text(0)) { out[k, default: []].append(r.text(1)) }
        }
        return out
    }

    /// Adds or removes a manual role. Manual roles are the administrator's and sync never
    /// touches them; a manual role may not take a calculated role's name (R7).
    public func setManualRole(_ username: String, role: String, granted: Bool, actor: String, now: Date) throws {
        let name = role.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw AccountError.invalid("a role needs a name") }
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            if granted {
                if RolePlan.fixedNames.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                    throw AccountError.invalid("`\(name)` is a calculated role (R7): sync grants it from the data; it cannot be given by hand")
                }
                let attribute = try database.query("SELECT 1 FROM attributes WHERE attribute = \(name) COLLATE NOCASE LIMIT 1")
                if try attribute.step() {
                    throw AccountError.invalid("`\(name)` is an attribute role calculated from the SIS (R7); it cannot be given by hand")
                }
                attribute.reset()
            }
            if granted {
                try database.run("INSERT INTO user_roles (username, role, source, school_year) VALUES (\(u.username), \(name), 'manual', '') ON CONFLICT DO NOTHING")
            } else {
                try database.run("DELETE FROM user_roles WHERE username = \(u.username) AND role = \(name) AND source = 'manual'")
            }
            return [Change(entity: "users", id: u.username, field: "role", old: granted ? nil : name, new: granted ? name : nil,
                           kind: granted ? .roleGranted : .roleRevoked)]
        }
    }
    /// Profiles of one user (`username`) or of all, with a fixed number of queries.
    public func profiles(username: String? = nil) throws -> [UserProfile] {
        let records = try username.map { try user($0).map { [$0] } ?? [] } ?? users()
        var index: [String: Int] = [:]
        for (i, r) in records.enumerated() { index[r.username.lowercased()] = i }
        var out = records.map { UserProfile(user: $0) }
        let oneUser: SQLQuery = if let username { " WHERE username = \(username)" } else { "" }
        func each(_ select: SQLQuery, _ body: (inout UserProfile, any StoreStatement) -> Void) throws {
            try database.forEachRow("\(sql: select)\(sql: oneUser) ORDER BY 1, 2, 3") { r in
                if let i = index[r.text(0).lowercased()] { body(&out[i], r) }
            }
        }
        try each("SELECT username, kind, record_id FROM user_attachments") { p, r in
            if let k = AttachmentKind(rawValue: r.text(1)) { p.attachments[k, default: []].append(r.text(2)) }
        }
        try each("SELECT username, source, role, school_year FROM user_roles") { p, r in
            if r.text(1) == "manual" { p.manualRoles.append(r.text(2)) } else {
                p.calculatedRoles.append(CalculatedRole(username: p.user.username, role: r.text(2), schoolYear: r.text(3)))
            }
        }
        try each("SELECT username, school_id, '' FROM user_schools") { p, r in p.schools.append(r.text(1)) }
        try each("SELECT username, ledger, '' FROM user_ledgers") { p, r in p.ledgers.append(r.text(1)) }
        try each("SELECT username, student_id, '' FROM access_pairings") { p, r in p.pairedStudents.append(r.text(1)) }
        try each("SELECT username, role, buildings FROM (SELECT username, role, buildings FROM role_assignments WHERE suspended = FALSE) AS a") { p, r in
            p.permissionRoles.append((r.text(1), r.text(2).split(separator: ";").map(String.init)))
        }
        return out
    }

    /// Adds or removes a school or ledger of a user.
    public func setListEntry(_ username: String, list: UserList, value: String, present: Bool, actor: String, now: Date) throws {
        let v = value.trimmingCharacters(in: .whitespaces)
        guard !v.isEmpty else { throw AccountError.invalid("a \(list.rawValue) needs a name") }
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            if present {
                try database.run("INSERT INTO \(unescaped: list.table) (username, \(unescaped: list.column)) VALUES (\(u.username), \(v)) ON CONFLICT DO NOTHING")
            } else {
                try database.run("DELETE FROM \(unescaped: list.table) WHERE username = \(u.username) AND \(unescaped: list.column) = \(v)")
            }
            guard database.changes > 0 else { return [] }
            return [Change(entity: "users", id: u.username, field: list.rawValue, old: present ? nil : v, new: present ? v : nil, kind: .updated)]
        }
    }
}
