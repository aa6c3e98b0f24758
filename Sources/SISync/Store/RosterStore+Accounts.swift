import Foundation

/// A user account as `sisyncctl user` shows it.
public struct UserRecord: Sendable, Equatable {
    public var username: String
    public var email: String
    public var name: String
    public var approved: Bool
    public var locked: Bool
    public var link: Link?
    public var createdAt: String

    /// A login name: not empty, no spaces (for `user add` and `user import` alike).
    public static func isValidUsername(_ name: String) -> Bool {
        !name.isEmpty && !name.contains(where: \.isWhitespace)
    }
}

/// Why an administrator's change to accounts was refused.
public enum AccountError: Error, Equatable, CustomStringConvertible, Sendable {
    case usernameTaken(String)
    case emailTaken(email: String, by: String)
    case noSuchUser(String)
    case noSuchStaff(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .usernameTaken(let u): return "a user named `\(u)` already exists (usernames are unique regardless of case)"
        case .emailTaken(let e, let by): return "\(e) is already the email of user `\(by)` (emails are unique regardless of case)"
        case .noSuchUser(let u): return "no user `\(u)`; `sisyncctl user list` shows the users"
        case .noSuchStaff(let s): return "no staff record `\(s)`; `sisyncctl staff list --all --search ...` finds it"
        case .invalid(let m): return m
        }
    }
}

extension RosterStore {
    // MARK: linking input

    /// The users linking must look at, with their links: every linked user, every user
    /// whose email key is one of `activeKeys` (the active staff's), and users whose key is
    /// not stored yet (new or changed by an administrator). Any other user has no link and
    /// no matching active staff member, so R6 leaves them as they are. Keys computed here
    /// go into the plan and are stored by the run. With other aliases than the stored keys
    /// were made with, every user is read and re-keyed.
    public func linkingUsers(normalizer: EmailNormalizer, activeKeys: Set<String>) throws -> (users: [LinkingUser], keys: [String: String], basis: String?) {
        let aliases = Self.keyBasis(normalizer)
        let stored = try storedKeyBasis()
        let select = """
            SELECT u.username, u.email, u.email_key, u.approved, l.staff_id, l.kind, l.reason, l.until
            FROM users u LEFT JOIN links l ON l.username = u.username
            """
        var users: [String: LinkingUser] = [:]
        var keys: [String: String] = [:]
        func collect(_ s: any StoreStatement, trustStoredKey: Bool) throws {
            try s.forEachRow { r in
                let username = r.text(0)
                guard users[username.lowercased()] == nil else { return }
                var key: String
                if trustStoredKey, !r.isNull(2) { key = r.text(2) } else {
                    key = normalizer.key(r.text(1))
                    if r.isNull(2) || r.text(2) != key { keys[username] = key }
                }
                // A user is read here only if they may link; re-check after keying.
                guard r.isNull(4) == false || activeKeys.contains(key) else { return }
                let link = r.isNull(4) ? nil : Link(staffID: r.text(4), kind: LinkKind(rawValue: r.text(5)) ?? .auto, reason: r.string(6), until: r.string(7))
                users[username.lowercased()] = LinkingUser(username: username, emailKey: key, approved: r.bool(3), link: link)
            }
        }
        if stored != aliases {
            try collect(database.prepare(select), trustStoredKey: false)
            return (users.sorted { $0.key < $1.key }.map(\.value), keys, aliases)
        }
        try collect(database.prepare(select + " WHERE u.email_key IS NULL"), trustStoredKey: false)
        try collect(database.prepare("""
            SELECT u.username, u.email, u.email_key, u.approved, l.staff_id, l.kind, l.reason, l.until
            FROM links l JOIN users u ON u.username = l.username
            """), trustStoredKey: true)
        // Unlinked users keyed like an active staff member (the keys go in as one JSON array).
        let json = String(decoding: try JSONEncoder().encode(activeKeys.filter { !$0.isEmpty }), as: UTF8.self)
        let unlinked = try database.prepare("""
            SELECT u.username, u.email, u.email_key, u.approved, NULL, NULL, NULL, NULL FROM users u
            WHERE u.email_key IN (SELECT value FROM json_each(?1)) AND NOT EXISTS (SELECT 1 FROM links l WHERE l.username = u.username)
            """)
        try unlinked.bind(1, json)
        try collect(unlinked, trustStoredKey: true)
        return (users.sorted { $0.key < $1.key }.map(\.value), keys, nil)
    }

    /// The aliases email keys were made with, as stored in `email_key_basis`.
    static func keyBasis(_ normalizer: EmailNormalizer) -> String {
        let pairs = normalizer.aliases.sorted { $0.key < $1.key }.map { "[\"\($0.key)\",\"\($0.value)\"]" }
        return "[" + pairs.joined(separator: ",") + "]"
    }

    func storedKeyBasis() throws -> String? {
        let s = try database.prepare("SELECT aliases FROM email_key_basis WHERE id = 1")
        return try s.step() ? s.text(0) : nil
    }

    /// The key a new or changed email gets when an administrator writes it: made with the
    /// configured aliases when they are those of the stored keys (or none are stored yet),
    /// else NULL, and the next run makes it.
    func emailKeyForWrite(_ email: String, normalizer: EmailNormalizer?) throws -> String? {
        guard let normalizer else { return nil }
        let basis = Self.keyBasis(normalizer)
        switch try storedKeyBasis() {
        case nil:
            let s = try database.prepare("INSERT INTO email_key_basis (id, aliases) VALUES (1, ?)")
            try s.bind(1, basis)
            try s.run()
            return normalizer.key(email)
        case basis?: return normalizer.key(email)
        default: return nil
        }
    }

    /// Every stored staff member's email key and activity.
    public func staffDirectoryEntries(normalizer: EmailNormalizer) throws -> [String: StaffDirectory.Entry] {
        let s = try database.prepare("SELECT staff_id, email, active FROM staff")
        var out: [String: StaffDirectory.Entry] = [:]
        try s.forEachRow { r in out[r.text(0)] = StaffDirectory.Entry(emailKey: normalizer.key(r.text(1)), active: r.bool(2)) }
        return out
    }

    /// Writes a run's link changes (inside the run's transaction).
    func applyLinks(_ plan: LinkPlan, stamp: String, actor: String) throws {
        if let basis = plan.emailKeyBasis {
            let s = try database.prepare("INSERT OR REPLACE INTO email_key_basis (id, aliases) VALUES (1, ?)")
            try s.bind(1, basis)
            try s.run()
        }
        if !plan.emailKeys.isEmpty {
            let s = try database.prepare("UPDATE users SET email_key = ? WHERE username = ?")
            for (user, key) in plan.emailKeys.sorted(by: { $0.key.lowercased() < $1.key.lowercased() }) {
                try s.bind(1, key); try s.bind(2, user); try s.run()
            }
        }
        guard !plan.changes.isEmpty else { return }
        let remove = try database.prepare("DELETE FROM links WHERE username = ?")
        let insert = try database.prepare("""
            INSERT INTO links (username, staff_id, kind, reason, until, created_at, created_by) VALUES (?, ?, 'auto', NULL, NULL, ?, ?)
            """)
        let unapprove = try database.prepare("UPDATE users SET approved = FALSE WHERE username = ?")
        for c in plan.changes {
            switch c {
            case .link(let user, let staff, _):
                try remove.bind(1, user); try remove.run()
                try insert.bind(1, user); try insert.bind(2, staff); try insert.bind(3, stamp); try insert.bind(4, actor)
                try insert.run()
            case .unlink(let user, _, _, _):
                try remove.bind(1, user); try remove.run()
            case .unapprove(let user, _):
                try unapprove.bind(1, user); try unapprove.run()
            case .ambiguous:
                break
            }
        }
    }

    // MARK: administrator changes

    /// Runs `body` in one transaction and records its changes with the administrator as actor.
    func administer(actor: String, now: Date, _ body: () throws -> [Change]) throws -> [Change] {
        try database.transaction {
            let changes = try body()
            let log = try database.prepare("""
                INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind, actor, at) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for c in changes {
                try log.bind(1, c.entity); try log.bind(2, c.id); try log.bind(3, c.field)
                try log.bind(4, c.old); try log.bind(5, c.new); try log.bind(6, c.kind.rawValue)
                try log.bind(7, actor); try log.bind(8, Timestamp.format(now))
                try log.run()
            }
            return changes
        }
    }

    public func user(_ username: String) throws -> UserRecord? {
        let s = try database.prepare("""
            SELECT u.username, u.email, u.name, u.approved, u.locked, u.created_at, l.staff_id, l.kind, l.reason, l.until
            FROM users u LEFT JOIN links l ON l.username = u.username WHERE u.username = ?
            """)
        try s.bind(1, username)
        defer { s.reset() }
        guard try s.step() else { return nil }
        return userRecord(s)
    }

    public func users() throws -> [UserRecord] {
        let s = try database.prepare("""
            SELECT u.username, u.email, u.name, u.approved, u.locked, u.created_at, l.staff_id, l.kind, l.reason, l.until
            FROM users u LEFT JOIN links l ON l.username = u.username ORDER BY u.username COLLATE NOCASE
            """)
        var out: [UserRecord] = []
        try s.forEachRow { out.append(userRecord($0)) }
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
        _ = try administer(actor: actor, now: now) {
            if let existing = try user(u) { throw AccountError.usernameTaken(existing.username) }
            let clash = try database.prepare("SELECT username FROM users WHERE email = ? COLLATE NOCASE")
            try clash.bind(1, e)
            if try clash.step() { throw AccountError.emailTaken(email: e, by: clash.text(0)) }
            clash.reset()
            let s = try database.prepare("INSERT INTO users (username, email, name, approved, created_at, email_key) VALUES (?, ?, ?, ?, ?, ?)")
            try s.bind(1, u); try s.bind(2, e); try s.bind(3, name); try s.bind(4, approved); try s.bind(5, Timestamp.format(now))
            try s.bind(6, try emailKeyForWrite(e, normalizer: normalizer))
            try s.run()
            return [Change(entity: "users", id: u, field: nil, old: nil, new: e, kind: .added)]
        }
    }

    /// Sets `approved` or `locked` (unlock also clears the failed-login count).
    public func setFlag(_ username: String, field: String, to value: Bool, actor: String, now: Date) throws {
        precondition(field == "approved" || field == "locked")
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            let old = field == "approved" ? u.approved : u.locked
            guard old != value else { return [] }
            let s = try database.prepare("UPDATE users SET \(field) = ?\(field == "locked" && !value ? ", failed_logins = 0" : "") WHERE username = ?")
            try s.bind(1, value); try s.bind(2, u.username)
            try s.run()
            return [Change(entity: "users", id: u.username, field: field, old: String(old), new: String(value), kind: .updated)]
        }
    }

    public func removeUser(_ username: String, actor: String, now: Date) throws {
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            var changes: [Change] = []
            if let l = u.link {
                changes.append(Change(entity: "users", id: u.username, field: "link", old: l.staffID, new: nil, kind: .unlinked))
            }
            for sql in ["DELETE FROM links WHERE username = ?", "DELETE FROM users WHERE username = ?"] {
                let s = try database.prepare(sql)
                try s.bind(1, u.username)
                try s.run()
            }
            return changes + [Change(entity: "users", id: u.username, field: nil, old: u.email, new: nil, kind: .deactivated)]
        }
    }

    /// A manual link, with the administrator's reason (and optional last day).
    public func linkManually(_ username: String, staffID: String, reason: String, until: String?, actor: String, now: Date) throws {
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            guard try staffMember(id: staffID) != nil else { throw AccountError.noSuchStaff(staffID) }
            let remove = try database.prepare("DELETE FROM links WHERE username = ?")
            try remove.bind(1, u.username)
            try remove.run()
            let s = try database.prepare("""
                INSERT INTO links (username, staff_id, kind, reason, until, created_at, created_by) VALUES (?, ?, 'manual', ?, ?, ?, ?)
                """)
            try s.bind(1, u.username); try s.bind(2, staffID); try s.bind(3, reason); try s.bind(4, until)
            try s.bind(5, Timestamp.format(now)); try s.bind(6, actor)
            try s.run()
            let note = until.map { "\(staffID) (manual until \($0): \(reason))" } ?? "\(staffID) (manual: \(reason))"
            return [Change(entity: "users", id: u.username, field: "link", old: u.link?.staffID, new: note, kind: .linked)]
        }
    }

    public func unlink(_ username: String, actor: String, now: Date) throws {
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            guard let l = u.link else { return [] }
            let s = try database.prepare("DELETE FROM links WHERE username = ?")
            try s.bind(1, u.username)
            try s.run()
            return [Change(entity: "users", id: u.username, field: "link", old: l.staffID, new: nil, kind: .unlinked)]
        }
    }
}

/// What a user can be attached to (their profile in the SIS).
public enum AttachmentKind: String, Sendable, CaseIterable {
    case student, household, donor

    var entity: EntityKind {
        switch self {
        case .student: return .students
        case .household: return .households
        case .donor: return .donors
        }
    }
}

extension RosterStore {
    /// Attaches (or detaches) a user to a student, household or donor record.
    public func setAttachment(_ username: String, kind: AttachmentKind, recordID: String, attached: Bool, actor: String, now: Date) throws {
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            if attached {
                let exists = try database.prepare("SELECT 1 FROM \(kind.entity.table) WHERE \(kind.entity.keyColumns[0]) = ?")
                try exists.bind(1, recordID)
                guard try exists.step() else {
                    throw AccountError.invalid("no \(kind.rawValue) record `\(recordID)` in the mirror; check the id (sync first if it is new)")
                }
                exists.reset()
            }
            let sql = attached ? "INSERT OR IGNORE INTO user_attachments (username, kind, record_id) VALUES (?, ?, ?)"
                : "DELETE FROM user_attachments WHERE username = ? AND kind = ? AND record_id = ?"
            let s = try database.prepare(sql)
            try s.bind(1, u.username); try s.bind(2, kind.rawValue); try s.bind(3, recordID)
            try s.run()
            return [Change(entity: "users", id: u.username, field: kind.rawValue, old: attached ? nil : recordID,
                           new: attached ? recordID : nil, kind: .updated)]
        }
    }

    public func attachments(of username: String) throws -> [AttachmentKind: [String]] {
        let s = try database.prepare("SELECT kind, record_id FROM user_attachments WHERE username = ? ORDER BY kind, record_id")
        try s.bind(1, username)
        var out: [AttachmentKind: [String]] = [:]
        try s.forEachRow { r in if let k = AttachmentKind(rawValue: r.text(0)) { out[k, default: []].append(r.text(1)) } }
        return out
    }

    /// Adds or removes a manual role. Manual roles are the administrator's and sync never
    /// touches them; a manual role may not take a calculated role's name (R7).
    public func setManualRole(_ username: String, role: String, granted: Bool, actor: String, now: Date) throws {
        let name = role.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw AccountError.invalid("a role needs a name") }
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            if granted {
                if RolePlan.fixedNames.contains(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                    throw AccountError.invalid("`\(name)` is a calculated role (R7): sync grants it from the data; it cannot be given by hand")
                }
                let attribute = try database.prepare("SELECT 1 FROM attributes WHERE attribute = ? COLLATE NOCASE LIMIT 1")
                try attribute.bind(1, name)
                if try attribute.step() {
                    throw AccountError.invalid("`\(name)` is an attribute role calculated from the SIS (R7); it cannot be given by hand")
                }
                attribute.reset()
            }
            let sql = granted ? "INSERT OR IGNORE INTO user_roles (username, role, source, school_year) VALUES (?, ?, 'manual', '')"
                : "DELETE FROM user_roles WHERE username = ? AND role = ? AND source = 'manual'"
            let s = try database.prepare(sql)
            try s.bind(1, u.username); try s.bind(2, name)
            try s.run()
            return [Change(entity: "users", id: u.username, field: "role", old: granted ? nil : name, new: granted ? name : nil,
                           kind: granted ? .roleGranted : .roleRevoked)]
        }
    }
}

/// Everything `user show` and `user list` say about an account.
public struct UserProfile: Sendable {
    public var user: UserRecord
    public var attachments: [AttachmentKind: [String]] = [:]
    public var manualRoles: [String] = []
    public var calculatedRoles: [CalculatedRole] = []
    public var schools: [String] = []
    public var ledgers: [String] = []
    /// Students paired through the parent portal's access codes.
    public var pairedStudents: [String] = []
    /// Form permission roles with their buildings (empty: assigned without buildings).
    public var permissionRoles: [(role: String, buildings: [String])] = []
}

/// Per-user lists an administrator keeps by hand: the schools a user works in and the
/// finance ledgers they may post to.
public enum UserList: String, Sendable {
    case school, ledger

    var table: String { self == .school ? "user_schools" : "user_ledgers" }
    var column: String { self == .school ? "school_id" : "ledger" }
}

extension RosterStore {
    /// Profiles of one user (`username`) or of all, with a fixed number of queries.
    public func profiles(username: String? = nil) throws -> [UserProfile] {
        let records = try username.map { try user($0).map { [$0] } ?? [] } ?? users()
        var index: [String: Int] = [:]
        for (i, r) in records.enumerated() { index[r.username.lowercased()] = i }
        var out = records.map { UserProfile(user: $0) }
        func each(_ sql: String, _ body: (inout UserProfile, any StoreStatement) -> Void) throws {
            let s = try database.prepare(sql + (username == nil ? "" : " WHERE username = ?1") + " ORDER BY 1, 2, 3")
            if let username { try s.bind(1, username) }
            try s.forEachRow { r in
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
        _ = try administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            let sql = present ? "INSERT OR IGNORE INTO \(list.table) (username, \(list.column)) VALUES (?, ?)"
                : "DELETE FROM \(list.table) WHERE username = ? AND \(list.column) = ?"
            let s = try database.prepare(sql)
            try s.bind(1, u.username); try s.bind(2, v)
            try s.run()
            guard database.changes > 0 else { return [] }
            return [Change(entity: "users", id: u.username, field: list.rawValue, old: present ? nil : v, new: present ? v : nil, kind: .updated)]
        }
    }
}
