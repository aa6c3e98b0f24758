import Foundation

/// Renaming a user (`sisyncctl user rename`, and a SCIM provider's new `userName`): the
/// username is the key of the account's rows, so every row that names it moves to the new
/// name in one transaction, with the account's history. The SCIM `id` stays.
extension AccountStore {
    /// The tables whose `username` refers to `users` (foreign keys without ON UPDATE
    /// CASCADE: their rows are moved aside while the user's key changes), and those that
    /// name a user without a foreign key.
    static let rowsReferringToUsers = ["links", "user_attachments", "user_roles", "user_schools", "user_ledgers", "access_pairings", "role_assignments"]
    static let rowsNamingUsers = ["access_attempts"]

    /// Renames `username` to `newName` (a change of case only is a rename too): one
    /// change-log entry (`username`, old → new) and a `user.renamed` event.
    public func renameUser(_ username: String, to newName: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            return try moveUsername(from: u.username, to: newName)
        }
    }

    /// Inside the caller's transaction: moves every row of `old` to `new` and returns the
    /// change-log entry. The history (`changes` of the entity `users`, and a bulk
    /// import's entries kept in the user's rows, copied out first) follows the account, so
    /// that `user show NEW` shows all of it; the events already written keep the old name
    /// (the feed is never rewritten: `user.renamed` tells its readers).
    func moveUsername(from old: String, to newName: String) throws -> [Change] {
        let new = newName.trimmingCharacters(in: .whitespaces)
        guard UserRecord.isValidUsername(new) else { throw AccountError.invalid("a username must be non-empty and without spaces") }
        guard new != old else { return [] }
        if new.lowercased() != old.lowercased(), let clash = try user(new) { throw AccountError.usernameTaken(clash.username) }
        try keepBulkEntries(of: old)
        for table in Self.rowsReferringToUsers {
            // Made empty, then filled: PostgreSQL binds no values in CREATE TABLE AS.
            try database.run("CREATE TEMPORARY TABLE renamed_\(unescaped: table) AS SELECT * FROM \(unescaped: table) WHERE FALSE")
            try database.run("INSERT INTO renamed_\(unescaped: table) SELECT * FROM \(unescaped: table) WHERE username = \(old)")
            try database.run("DELETE FROM \(unescaped: table) WHERE username = \(old)")
        }
        try database.run("UPDATE users SET username = \(new) WHERE username = \(old)")
        for table in Self.rowsReferringToUsers {
            try database.run("UPDATE renamed_\(unescaped: table) SET username = \(new)")
            try database.run("INSERT INTO \(unescaped: table) SELECT * FROM renamed_\(unescaped: table)")
            try database.run("DROP TABLE renamed_\(unescaped: table)")
        }
        for table in Self.rowsNamingUsers {
            try database.run("UPDATE \(unescaped: table) SET username = \(new) WHERE username = \(old)")
        }
        try database.run("UPDATE changes SET record_id = \(new) WHERE entity = 'users' AND record_id = \(old)")
        return [Change(entity: "users", id: new, field: "username", old: old, new: new, kind: .updated)]
    }
}
