/// Where `users` keeps a user's email key and SCIM id, which differs by store since
/// schema 16 (issue 34: the database's size).
///
/// On SQLite the documented columns `email_key` and `scim_id` are generated from smaller
/// stored ones, so applications read them as before while a district's 207,000 rows do not
/// each repeat their email in lower case (the key of nearly every user) or hold 32 hex
/// digits, plus 32 more in the unique index:
/// - `stored_email_key`: NULL while no key is made, 0 when the key is `lower(email)` (no
///   bytes), else the key;
/// - `scim_id_high`, `scim_id_low`: the id's 128 random bits as two integers, indexed
///   (unique) by `users_by_scim_id`; `scim_id_other` an id of another form an older version
///   or an application gave, kept as it was (an identity provider holds it).
///
/// PostgreSQL keeps its columns: its generated columns are stored, so the trick saves
/// nothing there.
package struct UserKeyColumns {
    package let sqlite: Bool

    package init(_ database: any StoreDatabase) { sqlite = !(database is PostgresDatabase) }

    /// The column a computed email key is written to.
    package var emailKey: String { sqlite ? "stored_email_key" : "email_key" }

    /// What `emailKey` holds for `key`, the key of `email`.
    func emailKeyValue(_ key: String?, of email: String) -> SQLQuery.Value {
        guard let key else { return .null }
        return sqlite && Self.isASCIILowercase(key, of: email) ? .integer(0) : .text(key)
    }

    /// Writes `emailKeyValue` into a bulk insert's row.
    package func add(_ key: String?, of email: String, to sink: any RowSink) throws {
        switch emailKeyValue(key, of: email) {
        case .integer(let n): try sink.add(n)
        case .text(let t): try sink.add(t)
        default: try sink.add(nil as String?)
        }
    }

    /// The `SET` of a user's key from `column` (of another table in an `UPDATE … FROM`):
    /// on SQLite 0 where it is `lower(email)`, as the generated column reads it.
    func setEmailKey(fromColumn column: String) -> String {
        sqlite
            ? "stored_email_key = CASE WHEN \(column) = lower(users.email) COLLATE BINARY THEN 0 ELSE \(column) END"
            : "email_key = \(column)"
    }

    /// The users `users_by_other_email_key` holds: those whose key is not their email in
    /// lower case, or not made yet (its predicate as written there, so that both planners
    /// read the few users it holds; `u` is `users`).
    var otherKey: String {
        sqlite ? "u.stored_email_key IS NOT 0" : "(u.email_key IS NULL OR u.email_key <> lower(u.email) COLLATE BINARY)"
    }

    /// The columns of a new user's SCIM id, in an `INSERT`'s column list.
    var scimIDColumns: [String] { sqlite ? ["scim_id_high", "scim_id_low"] : ["scim_id"] }

    /// A new user's SCIM id (128 bits from `rng`: getrandom(2), as `AccountStore.newSCIMID`)
    /// as the values of `scimIDColumns`, after a comma.
    func newSCIMID<R: RandomNumberGenerator>(using rng: inout R) -> SQLQuery {
        sqlite ? ", \(Int64(bitPattern: rng.next())), \(Int64(bitPattern: rng.next()))" : ", \(AccountStore.newSCIMID(using: &rng))"
    }

    func newSCIMID() -> SQLQuery {
        var rng = SystemRandomNumberGenerator()
        return newSCIMID(using: &rng)
    }

    /// `newSCIMID` into a bulk insert's row.
    func addNewSCIMID<R: RandomNumberGenerator>(to sink: any RowSink, using rng: inout R) throws {
        if sqlite {
            try sink.add(Int64(bitPattern: rng.next())); try sink.add(Int64(bitPattern: rng.next()))
        } else {
            try sink.add(AccountStore.newSCIMID(using: &rng))
        }
    }

    /// The user whose SCIM id is `id` (`u` is `users`), through `users_by_scim_id`.
    func scimID(is id: String) -> SQLQuery {
        guard sqlite else { return "u.scim_id = \(id)" }
        // Never NULL for a user without an id of another form (nearly all), so that `NOT` of
        // it (SCIM's `not (id eq "…")`) keeps them, as `scim_id <> …` did.
        guard let (high, low) = Self.bits(ofSCIMID: id) else { return "(u.scim_id_other IS NOT NULL AND u.scim_id_other = \(id))" }
        return "(u.scim_id_high = \(high) AND u.scim_id_low = \(low) AND u.scim_id_other IS NULL)"
    }

    /// SQLite's `lower`, which folds ASCII letters only: whether `key` is `email` so folded.
    /// Byte by byte over the strings' storage (a bulk import asks for every user).
    static func isASCIILowercase(_ key: String, of email: String) -> Bool {
        var key = key, email = email
        return key.withUTF8 { k in
            email.withUTF8 { e in
                guard k.count == e.count else { return false }
                for i in 0..<k.count {
                    let b = e[i]
                    if k[i] != (b >= 65 && b <= 90 ? b + 32 : b) { return false }
                }
                return true
            }
        }
    }

    /// The two integers `printf('%016x%016x', high, low)` gives `id` back from, when `id` is
    /// 32 lower-case hex digits (the form sisync gives); nil for any other.
    static func bits(ofSCIMID id: String) -> (high: Int64, low: Int64)? {
        let digits = Array(id.utf8)
        guard digits.count == 32 else { return nil }
        var halves: [UInt64] = [0, 0]
        for (i, c) in digits.enumerated() {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            default: return nil
            }
            halves[i / 16] = halves[i / 16] << 4 | UInt64(v)
        }
        return (Int64(bitPattern: halves[0]), Int64(bitPattern: halves[1]))
    }
}
