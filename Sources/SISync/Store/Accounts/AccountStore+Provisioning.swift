import Foundation

/// Users an identity provider provisions over SCIM (issue 32, docs/scim.md): read one, list
/// a page through a `UserFilter`, create and replace. Every write goes through
/// `AuditTrail.administer` (the change log with the provider's actor, the change feed);
/// removal is `removeUser`, as `sisyncctl user remove`.
extension AccountStore {
    static let provisionedColumns = """
        u.username, u.email, u.name, u.given_name, u.family_name, u.approved, u.external_id, u.locked, u.provisioned_by,
        u.created_at, coalesce(u.modified_at, u.created_at), l.staff_id, l.kind, l.reason, l.until, u.scim_id, u.email_type,
        u.active_removed, u.email_primary
        FROM users u LEFT JOIN links l ON l.username = u.username
        """

    private func provisioned(_ s: any StoreStatement) -> ProvisionedUser {
        let fields = ProvisionedUser.Fields(username: s.text(0), email: s.text(1), name: s.text(2), givenName: s.string(3), familyName: s.string(4),
                                            approved: s.bool(5), externalID: s.string(6), emailType: s.string(16),
                                            emailPrimary: s.isNull(18) ? nil : s.bool(18), activeRemoved: s.bool(17))
        let link = s.isNull(11) ? nil : Link(staffID: s.text(11), kind: LinkKind(rawValue: s.text(12)) ?? .auto, reason: s.string(13), until: s.string(14))
        return ProvisionedUser(id: s.text(15), fields: fields, locked: s.bool(7), link: link, provisionedBy: s.string(8), createdAt: s.text(9), modifiedAt: s.text(10))
    }

    /// One user as SCIM shows it (usernames compare regardless of case).
    public func provisionedUser(_ username: String) throws -> ProvisionedUser? {
        let s = try database.query("SELECT \(unescaped: Self.provisionedColumns) WHERE u.username = \(username)")
        defer { s.reset() }
        guard try s.step() else { return nil }
        return provisioned(s)
    }

    /// What sisync's SCIM extension shows of a user beyond its row: its roles (manual by
    /// name, calculated with their school year) and schools, in `profiles`' order. Two
    /// queries, not `profiles`' eight: a provider's reconciliation reads it for every user.
    public func provisionedFacts(_ username: String) throws -> (manualRoles: [String], calculatedRoles: [CalculatedRole], schools: [String]) {
        var manual: [String] = [], calculated: [CalculatedRole] = [], schools: [String] = []
        try database.forEachRow("SELECT username, source, role, school_year FROM user_roles WHERE username = \(username) ORDER BY source, role, school_year") { r in
            if r.text(1) == "manual" { manual.append(r.text(2)) } else { calculated.append(CalculatedRole(username: r.text(0), role: r.text(2), schoolYear: r.text(3))) }
        }
        try database.forEachRow("SELECT school_id FROM user_schools WHERE username = \(username) ORDER BY school_id") { schools.append($0.text(0)) }
        return (manual, calculated, schools)
    }

    /// One user by its SCIM `id`.
    public func provisionedUser(id: String) throws -> ProvisionedUser? {
        let s = try database.query("SELECT \(unescaped: Self.provisionedColumns) WHERE \(sql: UserKeyColumns(database).scimID(is: id))")
        defer { s.reset() }
        guard try s.step() else { return nil }
        return provisioned(s)
    }

    /// A new SCIM `id`: 32 random hex digits (128 bits, getrandom(2)), the form the
    /// column's default gives rows written without one. Written digit by digit:
    /// a `UUID` reformatted through Foundation (a file opened per id, then the dashes
    /// replaced) was a fifth of a 207,000-user import (issue 34).
    static func newSCIMID() -> String {
        var rng = SystemRandomNumberGenerator()
        return newSCIMID(using: &rng)
    }

    static func newSCIMID<R: RandomNumberGenerator>(using rng: inout R) -> String {
        let high = rng.next(), low = rng.next()
        return String(unsafeUninitializedCapacity: 32) { out in
            for i in 0..<16 {
                out[i] = hexDigit(high >> UInt64(60 - 4 * i))
                out[16 + i] = hexDigit(low >> UInt64(60 - 4 * i))
            }
            return 32
        }
    }

    private static func hexDigit(_ v: UInt64) -> UInt8 {
        let d = UInt8(truncatingIfNeeded: v & 15)
        return d < 10 ? UInt8(ascii: "0") + d : UInt8(ascii: "a") + d - 10
    }

    /// The users `filter` matches (all for nil), ordered by username: how many there are, and
    /// `limit` of them from the `offset`th (0-based).
    public func provisionedUsers(matching filter: UserFilter?, offset: Int, limit: Int) throws -> (total: Int, users: [ProvisionedUser]) {
        let condition: SQLQuery = filter.map { Self.condition($0, keys: UserKeyColumns(database)) } ?? "TRUE"
        var out: [ProvisionedUser] = []
        if limit > 0 {
            try database.forEachRow("""
                SELECT \(unescaped: Self.provisionedColumns) WHERE \(sql: condition) ORDER BY u.username LIMIT \(limit) OFFSET \(offset)
                """) { out.append(provisioned($0)) }
        }
        // A first page that is not full holds every match (a provider's lookup by userName):
        // no count to make.
        if offset == 0, out.count < limit { return (out.count, out) }
        let total = try database.int("SELECT count(*) FROM users u WHERE \(sql: condition)") ?? 0
        return (total, out)
    }

    /// The fixed map from a filter's field to its column: nothing from the request reaches
    /// the SQL but bound values. `co`, `sw` and `ew` are `LIKE` patterns with the request's
    /// `%`, `_` and `\` escaped, under the binary collation (PostgreSQL's `ILIKE` does not
    /// take the nondeterministic `nocase` one; `LIKE` ignores case on both stores anyway).
    /// With `keys`, `id eq` finds the user through `users_by_scim_id`: on SQLite `scim_id` is
    /// generated (schema 16), and comparing it reads every user (`UserKeyColumns`).
    static func condition(_ filter: UserFilter, keys: UserKeyColumns? = nil) -> SQLQuery {
        func column(_ f: UserFilter.Field) -> String {
            switch f {
            case .id: return "u.scim_id"
            case .emailType: return "coalesce(u.email_type, 'work')"
            case .emailPrimary: return "coalesce(u.email_primary, TRUE)"
            case .username: return "u.username"
            case .email: return "u.email"
            case .externalID: return "u.external_id"
            case .approved: return "u.approved"
            case .modified: return "coalesce(u.modified_at, u.created_at)"
            case .created: return "u.created_at"
            }
        }
        switch filter {
        case .none:
            return "FALSE"
        case .all:
            return "TRUE"
        case .present(let f):
            switch f {
            case .username, .email: return "\(unescaped: column(f)) <> ''"
            case .id, .approved, .modified, .created, .emailType, .emailPrimary: return "TRUE"
            case .externalID: return "\(unescaped: column(f)) IS NOT NULL"
            }
        case .bool(let f, let value, let equal):
            return equal ? "\(unescaped: column(f)) = \(value)" : "\(unescaped: column(f)) <> \(value)"
        case .compare(.id, .eq, let value) where keys != nil:
            return keys!.scimID(is: value)
        case .compare(let f, let op, let value):
            let c = column(f)
            if f == .emailType {
                // A canonical value of the provider's: compared regardless of case, eq or ne.
                return op == .ne ? "\(unescaped: c) <> \(value) COLLATE NOCASE" : "\(unescaped: c) = \(value) COLLATE NOCASE"
            }
            switch op {
            case .eq: return "\(unescaped: c) = \(value)"
            case .ne: return "(\(unescaped: c) IS NULL OR \(unescaped: c) <> \(value))"
            case .gt: return "\(unescaped: c) > \(value)"
            case .ge: return "\(unescaped: c) >= \(value)"
            case .lt: return "\(unescaped: c) < \(value)"
            case .le: return "\(unescaped: c) <= \(value)"
            case .co, .sw, .ew:
                let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                let pattern = op == .co ? "%\(escaped)%" : op == .sw ? "\(escaped)%" : "%\(escaped)"
                return "\(unescaped: c) COLLATE BINARY LIKE \(pattern) ESCAPE '\\'"
            }
        case .and(let a, let b): return "(\(sql: condition(a, keys: keys)) AND \(sql: condition(b, keys: keys)))"
        case .or(let a, let b): return "(\(sql: condition(a, keys: keys)) OR \(sql: condition(b, keys: keys)))"
        case .not(let a): return "NOT (\(sql: condition(a, keys: keys)))"
        }
    }

    /// A new user of the identity provider `client`, with its password's hash when it sent
    /// one. Username and email are unique regardless of case (`AccountError`).
    public func provision(_ fields: ProvisionedUser.Fields, passwordHash: String?, client: String, actor: String, now: Date,
                          normalizer: EmailNormalizer? = nil) throws -> ProvisionedUser {
        let f = try Self.checked(fields)
        var created: ProvisionedUser?
        _ = try auditTrail.administer(actor: actor, now: now) {
            if let existing = try user(f.username) { throw AccountError.usernameTaken(existing.username) }
            try checkEmailFree(f.email, except: nil)
            let columns = UserKeyColumns(database)
            try database.run("""
                INSERT INTO users (username, email, name, given_name, family_name, approved, external_id, provisioned_by, password_hash, created_at,
                                   email_type, email_primary, active_removed, \(unescaped: columns.emailKey), \(unescaped: columns.scimIDColumns.joined(separator: ", ")))
                VALUES (\(f.username), \(f.email), \(f.name), \(f.givenName), \(f.familyName), \(f.approved), \(f.externalID), \(client),
                        \(passwordHash), \(Timestamp.format(now)), \(f.emailType), \(f.emailPrimary), \(f.activeRemoved),
                        \(value: columns.emailKeyValue(try emailKeyForWrite(f.email, normalizer: normalizer), of: f.email))\(sql: columns.newSCIMID()))
                """)
            created = try provisionedUser(f.username)
            var changes = [Change(entity: "users", id: f.username, field: nil, old: nil, new: f.email, kind: .added)]
            if f.approved { changes.append(Change(entity: "users", id: f.username, field: "approved", old: "false", new: "true", kind: .updated)) }
            if let e = f.externalID { changes.append(Change(entity: "users", id: f.username, field: "external_id", old: nil, new: e, kind: .updated)) }
            if passwordHash != nil { changes.append(Change(entity: "users", id: f.username, field: "password", old: nil, new: "changed", kind: .updated)) }
            return changes
        }
        return created!
    }

    /// Replaces what a provider writes of an existing user; each field that changes is one
    /// change-log entry. A new `userName` renames the user (`renameUser`), in the same
    /// transaction. A new password unlocks, as `sisyncctl user passwd` does.
    public func replaceProvisioned(_ username: String, with fields: ProvisionedUser.Fields, passwordHash: String?, actor: String, now: Date,
                                   normalizer: EmailNormalizer? = nil) throws -> ProvisionedUser {
        var f = try Self.checked(fields)
        var updated: ProvisionedUser?
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let old = try provisionedUser(username) else { throw AccountError.noSuchUser(username) }
            var changes: [Change] = []
            if f.username != old.fields.username { changes += try moveUsername(from: old.fields.username, to: f.username) }
            let u = f.username
            func change(_ field: String, _ before: String?, _ after: String?) {
                if before != after { changes.append(Change(entity: "users", id: u, field: field, old: before, new: after, kind: .updated)) }
            }
            if f.email != old.fields.email {
                if f.email.lowercased() != old.fields.email.lowercased() { try checkEmailFree(f.email, except: u) }
                let columns = UserKeyColumns(database)
                let key = columns.emailKeyValue(try emailKeyForWrite(f.email, normalizer: normalizer), of: f.email)
                try database.run("UPDATE users SET email = \(f.email), \(unescaped: columns.emailKey) = \(value: key) WHERE username = \(u)")
                change("email", old.fields.email, f.email)
            }
            if (f.name, f.givenName, f.familyName, f.externalID, f.emailType, f.emailPrimary)
                != (old.fields.name, old.fields.givenName, old.fields.familyName, old.fields.externalID, old.fields.emailType, old.fields.emailPrimary) {
                try database.run("""
                    UPDATE users SET name = \(f.name), given_name = \(f.givenName), family_name = \(f.familyName), external_id = \(f.externalID),
                                     email_type = \(f.emailType), email_primary = \(f.emailPrimary)
                    WHERE username = \(u)
                    """)
                change("email_type", old.fields.emailType, f.emailType)
                change("email_primary", old.fields.emailPrimary.map(String.init), f.emailPrimary.map(String.init))
                change("name", old.fields.name, f.name)
                change("given_name", old.fields.givenName, f.givenName)
                change("family_name", old.fields.familyName, f.familyName)
                change("external_id", old.fields.externalID, f.externalID)
            }
            if f.approved != old.fields.approved || f.activeRemoved != old.fields.activeRemoved {
                try database.run("UPDATE users SET approved = \(f.approved), active_removed = \(f.activeRemoved) WHERE username = \(u)")
                change("approved", String(old.fields.approved), String(f.approved))
                change("active_removed", String(old.fields.activeRemoved), String(f.activeRemoved))
            }
            if let passwordHash {
                try database.run("UPDATE users SET password_hash = \(passwordHash), locked = FALSE, failed_logins = 0 WHERE username = \(u)")
                changes.append(Change(entity: "users", id: u, field: "password", old: nil, new: "changed", kind: .updated))
                if old.locked { change("locked", "true", "false") }
            }
            return changes
        }
        // Read after the commit, so that `modifiedAt` is the change's time.
        updated = try provisionedUser(f.username)
        guard let updated else { throw AccountError.noSuchUser(f.username) }
        return updated
    }

    private static func checked(_ fields: ProvisionedUser.Fields) throws -> ProvisionedUser.Fields {
        var f = fields
        f.username = f.username.trimmingCharacters(in: .whitespaces)
        f.email = f.email.trimmingCharacters(in: .whitespaces)
        guard UserRecord.isValidUsername(f.username) else { throw AccountError.invalid("a username must be non-empty and without spaces") }
        guard RowRules.isPlausibleEmail(f.email) else { throw AccountError.invalid("`\(f.email)` is not an email address") }
        return f
    }

    /// Throws `emailTaken` when another user than `except` has this email (any case).
    private func checkEmailFree(_ email: String, except: String?) throws {
        let clash = try database.query("SELECT username FROM users WHERE email = \(email) COLLATE NOCASE")
        defer { clash.reset() }
        while try clash.step() {
            let owner = clash.text(0)
            if owner.lowercased() != except?.lowercased() { throw AccountError.emailTaken(email: email, by: owner) }
        }
    }
}
