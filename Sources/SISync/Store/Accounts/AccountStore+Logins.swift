import Foundation

/// Passwords and lockout after five failed logins.
extension AccountStore {
    /// Failed logins in a row that lock a user (seed: five).
    public static let lockoutThreshold = 5

    /// Stores a new password hash and unlocks the user (the change log says only that the
    /// password changed).
    public func setPassword(_ username: String, hash: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            try database.run("UPDATE users SET password_hash = \(hash), locked = FALSE, failed_logins = 0 WHERE username = \(u.username)")
            var changes = [Change(entity: "users", id: u.username, field: "password", old: nil, new: "changed", kind: .updated)]
            if u.locked { changes.append(Change(entity: "users", id: u.username, field: "locked", old: "true", new: "false", kind: .updated)) }
            return changes
        }
    }

    /// Checks a login: the password first, then locked, then approval, so that only the
    /// right password learns that an account is locked or not approved (README, "Security").
    /// Every path costs one hash of the same cost, the unknown user's and the locked one's
    /// included, so timing does not tell them apart either (issue 26 item 7). A wrong
    /// password counts toward the lockout; the fifth in a row locks; success resets the count.
    public func login(_ username: String, password: String, now: Date) throws -> LoginOutcome {
        let s = try database.query("SELECT username, password_hash, approved, locked, failed_logins FROM users WHERE username = \(username)")
        guard try s.step() else {
            _ = PasswordHash.verify(password, against: PasswordHash.placeholder)
            return .wrongPassword
        }
        let name = s.text(0), stored = s.string(1), approved = s.bool(2), locked = s.bool(3), failures = s.int(4)
        s.reset()
        // Without a password (or with something that is not a hash) the placeholder costs the
        // hash, and nothing matches.
        let usable = stored.flatMap { $0.hasPrefix(PasswordHash.prefix) ? $0 : nil }
        let matches = PasswordHash.verify(password, against: usable ?? PasswordHash.placeholder) && usable != nil
        guard matches else {
            // A locked account stays locked; its count needs no more entries.
            if locked { return .wrongPassword }
            let count = failures + 1
            _ = try auditTrail.administer(actor: "login", now: now) {
                try database.run("UPDATE users SET failed_logins = \(count), locked = \(count >= Self.lockoutThreshold) WHERE username = \(name)")
                return count >= Self.lockoutThreshold
                    ? [Change(entity: "users", id: name, field: "locked", old: "false", new: "true (\(count) failed logins)", kind: .updated)] : []
            }
            return .wrongPassword
        }
        if locked { return .locked }
        guard approved else { return .notApproved }
        if failures > 0 {
            try database.run("UPDATE users SET failed_logins = 0 WHERE username = \(name)")
        }
        return .accepted
    }
}
