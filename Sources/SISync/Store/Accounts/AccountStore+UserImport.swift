import Foundation

/// `sisyncctl user import`: many users in one transaction.
///
/// The file is checked and written as sets, not a statement per row: a district's import
/// is 200,000 users and as many attachments, and on PostgreSQL a round trip per row would
/// take minutes. The file's usernames, emails and attachments go into temporary tables
/// (COPY on PostgreSQL) and are joined with the accounts and the mirror once each.
extension AccountStore {
    /// Imports checked rows in one transaction: new users are added, existing ones (same
    /// username, any case) updated, none removed; listed attachments are added. Problems
    /// that need the database (an email that belongs to another user, a record that is not
    /// in the mirror) are all collected and nothing is written.
    ///
    /// An import that adds more than `bulkAdditions` (50,000) users and attachments of new users
    /// (a district's first import) keeps those entries of the change log in the rows it
    /// adds (`added_by`, schema version 7) instead of copying each into `changes`; the next
    /// run recomputes every user's calculated roles, as it would after so many changes.
    public func importUsers(_ rows: [UserImportRow], file: String, actor: String, now: Date,
                            normalizer: EmailNormalizer? = nil, bulkAdditions: Int? = nil) throws -> UserImportResult {
        try importUsers(UserImportRows(rows), file: file, actor: actor, now: now, normalizer: normalizer, bulkAdditions: bulkAdditions)
    }

    /// `importUsers` over the rows as `UserImport.read` holds them: the names and ids are
    /// read as bytes where new users and their attachments are written. A row is made a
    /// `UserImportRow` where it is compared with a stored user or logged as changes of its
    /// own (an import too small for `bulkAdditions`).
    public func importUsers(_ rows: UserImportRows, file: String, actor: String, now: Date,
                            normalizer: EmailNormalizer? = nil, bulkAdditions: Int? = nil) throws -> UserImportResult {
        var result = UserImportResult()
        var bulk = false
        // What the import decides, kept between the writes and the change log that lists
        // them (streamed, not held as 400,000 `Change` values).
        var existing: [String: UserRecord] = [:]
        var lowered: [(username: String, email: String)] = []
        var attached = Set<AttachmentKey>()
        /// The stored user row `i` names (a first import has none to look up).
        func stored(_ i: Int) -> UserRecord? { existing.isEmpty ? nil : existing[lowered[i].username] }
        func isNew(_ i: Int, _ a: UserImportAttachment) -> Bool {
            attached.isEmpty || !attached.contains(AttachmentKey(username: lowered[i].username, kind: a.kind, recordID: a.id))
        }
        /// Whether row `i`'s attachment `k` is new (made a value only when some are stored).
        func isNewAttachment(_ i: Int, _ k: Int) -> Bool { attached.isEmpty || isNew(i, rows.attachment(i, k)) }
        func newAttachmentCount(_ i: Int) -> Int { (0..<rows.attachmentCount(i)).count { isNewAttachment(i, $0) } }
        /// An existing user's change-log entries: email, approval, then new attachments.
        func changes(of u: UserRecord, _ row: UserImportRow, _ i: Int) -> [Change] {
            var out: [Change] = []
            if u.email != row.email {
                out.append(Change(entity: "users", id: u.username, field: "email", old: u.email, new: row.email, kind: .updated))
            }
            if let a = row.approved, a != u.approved {
                out.append(Change(entity: "users", id: u.username, field: "approved", old: String(u.approved), new: String(a), kind: .updated))
            }
            for a in row.attachments where isNew(i, a) {
                out.append(Change(entity: "users", id: u.username, field: a.kind.rawValue, old: nil, new: a.id, kind: .updated))
            }
            return out
        }
        try auditTrail.administer(actor: actor, now: now, {
            try database.execute("""
                CREATE TEMP TABLE IF NOT EXISTS import_users (username TEXT NOT NULL COLLATE NOCASE, email TEXT NOT NULL COLLATE NOCASE);
                CREATE TEMP TABLE IF NOT EXISTS import_attachments (seq INTEGER NOT NULL, kind TEXT NOT NULL, record_id TEXT NOT NULL);
                CREATE TEMP TABLE IF NOT EXISTS import_existing (username TEXT NOT NULL PRIMARY KEY COLLATE NOCASE);
                DELETE FROM import_users; DELETE FROM import_attachments; DELETE FROM import_existing;
                """)
            let emailOwner: [String: String]
            (existing, emailOwner) = try storedAccounts(touchedBy: rows)
            // Only to compare with stored users (each lookup below checks for none first).
            lowered = existing.isEmpty ? [] : rows.indices.map { (username: rows.username($0).lowercased(), email: rows.email($0).lowercased()) }
            let inFile = emailOwner.isEmpty ? [] : Set(lowered.map(\.username))
            let missing = try missingRecords(rows)
            var problems = UserImportProblems()
            var seq = 0
            for i in rows.indices {
                if !emailOwner.isEmpty, let owner = emailOwner[lowered[i].email], owner != lowered[i].username, !inFile.contains(owner) {
                    problems.append("\(rows.line(i)): \(rows.email(i)) is already the email of user `\(existing[owner]!.username)`")
                }
                for k in 0..<rows.attachmentCount(i) {
                    if missing.contains(seq) {
                        let a = rows.attachment(i, k)
                        problems.append("\(rows.line(i)): no \(a.kind.rawValue) record `\(a.id)` in the mirror")
                    }
                    seq += 1
                }
            }
            guard problems.isEmpty else { throw problems.error(file: file) }

            let keyFor = try emailKeyWriter(normalizer: normalizer)
            attached = try storedAttachments(of: rows.indices.compactMap { stored($0)?.username })
            // Existing users first, in file order, so that an email one of them gives up
            // can be taken by a new user further down.
            // Prepared once and bound per user: a re-import can change 300,000 users.
            let columns = UserKeyColumns(database)
            func setEmail(_ username: String, _ email: String, _ key: String?) -> SQLQuery {
                "UPDATE users SET email = \(email), \(unescaped: columns.emailKey) = \(value: columns.emailKeyValue(key, of: email)) WHERE username = \(username)"
            }
            func setApproved(_ username: String, _ approved: Bool) -> SQLQuery { "UPDATE users SET approved = \(approved) WHERE username = \(username)" }
            let emailStatement = try database.prepare(setEmail("", "", nil).sql)
            let approvedStatement = try database.prepare(setApproved("", false).sql)
            for i in rows.indices {
                guard let u = stored(i) else { continue }
                let row = rows[i]
                var changed = false
                if u.email != row.email {
                    try emailStatement.bind(setEmail(u.username, row.email, try keyFor(row.email)).values)
                    try emailStatement.run()
                    changed = true
                }
                if let a = row.approved, a != u.approved {
                    try approvedStatement.bind(setApproved(u.username, a).values)
                    try approvedStatement.run()
                    changed = true
                }
                if !changed { changed = row.attachments.contains { isNew(i, $0) } }
                if changed { result.updated += 1 } else { result.unchanged += 1 }
            }
            let added = rows.indices.reduce(0) { n, i in stored(i) != nil ? n : n + 1 + rows.attachmentCount(i) }
            bulk = added > (bulkAdditions ?? RoleStore.incrementalLimit)
            let created = Timestamp.format(now)
            let addedBy: String? = bulk ? actor : nil
            // The first new user's key before the COPY: storing the key basis (with the first
            // key made) is a statement of its own, which PostgreSQL refuses in the middle of a
            // COPY. The others as each user is written: made first and held, a district's
            // 207,000 keys were 13 MB of the command's peak (issue 34).
            let firstNew = rows.indices.first { stored($0) == nil }
            let firstKey = try firstNew.flatMap { try keyFor(rows.email($0)) }
            // In username order (as SQLite's `NOCASE` compares: ASCII folded): each goes in
            // after the last in the username index and in the attachments' table (keyed by
            // username), not into the middle of the b-tree. The other indexes are built
            // after the rows when they are many.
            let byKey = rows.indices.sorted { a, b in rows.withUsername(a) { x in rows.withUsername(b) { Self.precedesIgnoringASCIICase(x, $0) } } }
            let newUsers = byKey.filter { stored($0) == nil }
            // The new users' SCIM ids from one getrandom(2) per 256, not two per id.
            var random = BufferedSystemRandom()
            try UserBulkLoad.load("users", adding: newUsers.count, in: database) {
                try database.insertRows(into: "users", columns: ["username", "email", "name", "approved", "created_at", columns.emailKey, "added_by"]
                                        + columns.scimIDColumns) { sink in
                    for i in newUsers {
                        try rows.withUsername(i) { try sink.add(utf8: $0) }
                        let email = rows.email(i)
                        try sink.add(email); try sink.add("")
                        try sink.add(rows.approved(i) ?? false); try sink.add(created)
                        try columns.add(i == firstNew ? firstKey : try keyFor(email), of: email, to: sink)
                        try sink.add(addedBy); try columns.addNewSCIMID(to: sink, using: &random)
                        try sink.endRow()
                    }
                }
            }
            result.added = newUsers.count
            // The new attachments, in the order of the table's key as the users are, each
            // with its place in the file (`added_seq`): where each row's first one is.
            var firstPosition: [Int64] = []
            firstPosition.reserveCapacity(rows.count)
            var position: Int64 = 0
            for i in rows.indices {
                firstPosition.append(position)
                position += Int64(newAttachmentCount(i))
            }
            func insertAttachments(into table: String) throws {
                try database.insertRows(into: table, columns: ["username", "kind", "record_id", "added_by", "added_at", "added_seq"]) { sink in
                    for i in byKey {
                        let user = stored(i)
                        // (An existing user's new attachment is a change of its own, in `changes`.)
                        let kept = user == nil && bulk
                        // The row's new attachments (by their place in the row) with their place in
                        // the file, in the key's order (kind, then the id's bytes).
                        var mine: [(k: Int, seq: Int64)] = []
                        var seq = firstPosition[i]
                        for k in 0..<rows.attachmentCount(i) where isNewAttachment(i, k) { mine.append((k, seq)); seq += 1 }
                        if mine.count > 1 {
                            mine.sort { x, y in
                                let kx = rows.attachmentKind(i, x.k), ky = rows.attachmentKind(i, y.k)
                                return kx != ky ? kx.rawValue < ky.rawValue
                                    : rows.withAttachmentID(i, x.k) { a in rows.withAttachmentID(i, y.k) { a.lexicographicallyPrecedes($0) } }
                            }
                        }
                        for (k, seq) in mine {
                            if let user { try sink.add(user.username) } else { try rows.withUsername(i) { try sink.add(utf8: $0) } }
                            try sink.add(rows.attachmentKind(i, k).rawValue); try rows.withAttachmentID(i, k) { try sink.add(utf8: $0) }
                            try sink.add(kept ? addedBy : nil); try sink.add(kept ? created : nil); try sink.add(kept ? seq : nil)
                            try sink.endRow()
                        }
                    }
                }
            }
            try UserBulkLoad.load("user_attachments", adding: Int(position), in: database) {
                // A first import's attachments (into an empty table) go in with the table's
                // pages packed full (`loadingPacked`: 11.6% of a district's 13.3 MB was empty
                // space), which SQLite does only with foreign keys set aside. Each one's
                // username is a user this transaction read from `users` or has just added
                // there (above), so the reference is known to hold without a probe per row,
                // unless an application's trigger on either table dropped such a user or
                // writes elsewhere: then the attachments go in directly, each checked.
                if position >= MirrorStore.bulkLoadMinimum,
                   try database.int("SELECT count(*) FROM (SELECT 1 FROM user_attachments LIMIT 1) x") == 0,
                   try !database.hasTriggers(on: ["users", "user_attachments"]) {
                    try database.trustingReferences { try database.loadingPacked("user_attachments", insertAttachments) }
                } else {
                    try insertAttachments(into: "user_attachments")
                }
            }
            // The next run cannot tell these users from the change log: it recomputes everyone.
            if bulk { try database.execute("DELETE FROM role_basis") }
        }, log: { record in
            // Per user, as the import decided above: the account, then its new attachments.
            for i in rows.indices {
                if let u = stored(i) {
                    for c in changes(of: u, rows[i], i) { try record(c) }
                } else if !bulk {
                    let row = rows[i]
                    try record(Change(entity: "users", id: row.username, field: nil, old: nil, new: row.email, kind: .added))
                    for a in row.attachments where isNew(i, a) {
                        try record(Change(entity: "users", id: row.username, field: a.kind.rawValue, old: nil, new: a.id, kind: .updated))
                    }
                }  // (a bulk import keeps a new user's entries in the rows it added)
            }
        }, events: {
            // The change feed: a new user is one `user.added` with its attachments (a first
            // import writes 200,000, as compact lines a block at a time), an existing user's
            // changes as the change log has them, all in the file's order.
            { sink in
                var added = UserAddedLines()
                for i in rows.indices {
                    if let u = stored(i) {
                        let changed = changes(of: u, rows[i], i)
                        if changed.isEmpty { continue }
                        try added.write(into: sink)
                        try ChangeEvents.write(changed, origin: .administrator, into: sink)
                        continue
                    }
                    added.append(rows, i)
                    if added.count == EventBatch.blockSize { try added.write(into: sink) }
                }
                try added.write(into: sink)
            }
        })
        if result.added + result.updated >= RosterStore.statisticsThreshold {
            try database.refreshStatistics(["users", "user_attachments"])
        }
        return result
    }

    /// The stored users a file names, by username or by email (keys lowercased): only
    /// those, through the indexes, when every username and email is ASCII (the case
    /// SQLite's and PostgreSQL's `nocase` fold) and the file is the smaller. Otherwise every
    /// user is read, so that the file's names compare with Swift's full case folding, as
    /// they always have.
    private func storedAccounts(touchedBy rows: UserImportRows) throws -> (byUsername: [String: UserRecord], emailOwner: [String: String]) {
        var byUsername: [String: UserRecord] = [:]
        var emailOwner: [String: String] = [:]
        func keep(_ u: UserRecord) {
            byUsername[u.username.lowercased()] = u
            emailOwner[u.email.lowercased()] = u.username.lowercased()
        }
        // (Also when there are fewer users than the file has rows, a first import above all:
        // reading them is cheaper than staging the file.)
        guard (try database.int("SELECT count(*) FROM users") ?? 0) >= rows.count,
              rows.indices.allSatisfy({ rows.isASCII($0) }) else {
            for u in try users() { keep(u) }
            return (byUsername, emailOwner)
        }
        try database.insertRows(into: "import_users", columns: ["username", "email"]) { sink in
            for i in rows.indices {
                try rows.withUsername(i) { try sink.add(utf8: $0) }; try rows.withEmail(i) { try sink.add(utf8: $0) }; try sink.endRow()
            }
        }
        try database.refreshStatistics(["import_users"])
        try database.preferringIndexLookups {
            try database.forEachRow("""
                SELECT u.username, u.email, u.name, u.approved, u.locked, u.created_at FROM import_users i CROSS JOIN users u ON u.username = i.username
                UNION SELECT u.username, u.email, u.name, u.approved, u.locked, u.created_at FROM import_users i CROSS JOIN users u ON u.email = i.email
                """) { r in
                keep(UserRecord(username: r.text(0), email: r.text(1), name: r.text(2), approved: r.bool(3), locked: r.bool(4), link: nil, createdAt: r.text(5)))
            }
        }
        return (byUsername, emailOwner)
    }

    /// The positions (in the order the rows list them) of attachments whose record is not
    /// in the mirror.
    private func missingRecords(_ rows: UserImportRows) throws -> Set<Int> {
        var kinds = Set<AttachmentKind>()
        try database.insertRows(into: "import_attachments", columns: ["seq", "kind", "record_id"]) { sink in
            var seq: Int64 = 0
            for i in rows.indices {
                for k in 0..<rows.attachmentCount(i) {
                    let kind = rows.attachmentKind(i, k)
                    kinds.insert(kind)
                    try sink.add(seq); try sink.add(kind.rawValue); try rows.withAttachmentID(i, k) { try sink.add(utf8: $0) }
                    try sink.endRow()
                    seq += 1
                }
            }
        }
        guard !kinds.isEmpty else { return [] }
        try database.refreshStatistics(["import_attachments"])
        var missing = Set<Int>()
        for kind in AttachmentKind.allCases where kinds.contains(kind) {
            let table = kind.entity.table, key = kind.entity.keyColumns[0]
            try database.forEachRow("""
                SELECT a.seq FROM import_attachments a
                WHERE a.kind = \(kind.rawValue) AND NOT EXISTS (SELECT 1 FROM \(unescaped: table) t WHERE t.\(unescaped: key) = a.record_id)
                """) { missing.insert(Int($0.int64(0))) }
        }
        return missing
    }

    /// The attachments the given (stored) users already have.
    private func storedAttachments(of usernames: [String]) throws -> Set<AttachmentKey> {
        guard !usernames.isEmpty else { return [] }
        try database.insertRows(into: "import_existing", columns: ["username"]) { sink in
            for u in Set(usernames) { try sink.add(u); try sink.endRow() }
        }
        try database.refreshStatistics(["import_existing"])
        var out = Set<AttachmentKey>()
        try database.preferringIndexLookups {
            try database.forEachRow("SELECT a.username, a.kind, a.record_id FROM import_existing e CROSS JOIN user_attachments a ON a.username = e.username") { r in
                guard let kind = AttachmentKind(rawValue: r.text(1)) else { return }
                out.insert(AttachmentKey(username: r.text(0).lowercased(), kind: kind, recordID: r.text(2)))
            }
        }
        return out
    }

    /// Whether `a` sorts before `b` as `COLLATE NOCASE` orders them (ASCII letters folded,
    /// bytes otherwise), compared in place: a first import sorts 200,000 usernames.
    static func precedesIgnoringASCIICase(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        func folded(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
        var x = a.makeIterator(), y = b.makeIterator()
        while true {
            switch (x.next(), y.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case let (p?, q?): if folded(p) != folded(q) { return folded(p) < folded(q) }
            }
        }
    }
}

/// One user's attachment to one record, with the username lowercased.
private struct AttachmentKey: Hashable {
    var username: String
    var kind: AttachmentKind
    var recordID: String
}
