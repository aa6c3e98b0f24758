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
    /// `sisyncctl user login` and the API's `POST /v1/logins` both answer through this.
    ///
    /// The hash is checked before anything is written, so a caller can hold the run lock (R9)
    /// only around the writes, and limit the hashes that run at once (`hashing` runs the one
    /// hash, or throws when it may not): `writing` is handed each of them, `failed` true for every
    /// failure (the unknown user's and the locked account's too, with nothing of the user's to
    /// write, so that the API counts them alike and they wait alike). An accepted login of a
    /// user without failed logins calls it not at all: it writes nothing.
    public func login(_ username: String, password: String, actor: String = "login", now: Date,
                      hashing: (_ verify: () -> Bool) throws -> Bool = { $0() },
                      writing: (_ failed: Bool, _ write: () throws -> [Change]) throws -> Void = { _, write in _ = try write() }) throws -> LoginOutcome {
        let s = try database.query("SELECT username, password_hash, approved, locked, failed_logins FROM users WHERE username = \(username)")
        guard try s.step() else {
            _ = try hashing { PasswordHash.verify(password, against: PasswordHash.placeholder) }
            try writing(true, { [] })
            return .wrongPassword
        }
        let name = s.text(0), stored = s.string(1), approved = s.bool(2), locked = s.bool(3), failures = s.int(4)
        s.reset()
        // Without a password (or with something that is not a hash) the placeholder costs the
        // hash, and nothing matches.
        let usable = stored.flatMap { $0.hasPrefix(PasswordHash.prefix) ? $0 : nil }
        let matches = try hashing { PasswordHash.verify(password, against: usable ?? PasswordHash.placeholder) } && usable != nil
        guard matches else {
            // A locked account stays locked; its count needs no more entries. The count is
            // read again where it is written: two wrong passwords at once both count.
            try writing(true) {
                try auditTrail.administer(actor: actor, now: now) {
                    let u = try database.query("""
                        UPDATE users SET failed_logins = failed_logins + 1, locked = (failed_logins + 1 >= \(Self.lockoutThreshold))
                        WHERE username = \(name) AND locked = FALSE RETURNING failed_logins, locked
                        """)
                    defer { u.reset() }
                    guard try u.step(), u.bool(1) else { return [] }
                    return [Change(entity: "users", id: name, field: "locked", old: "false", new: "true (\(u.int(0)) failed logins)", kind: .updated)]
                }
            }
            return .wrongPassword
        }
        if locked { return .locked }
        guard approved else { return .notApproved }
        if failures > 0 {
            try writing(false) {
                try database.run("UPDATE users SET failed_logins = 0 WHERE username = \(name) AND failed_logins > 0")
                return []
            }
        }
        return .accepted
    }
}
