import Foundation

/// Linking (R6): the users and staff emails it compares, and the links it makes.
extension AccountStore {

    // MARK: linking input

    /// The users linking must look at, with their links: every linked user, every user
    /// whose email key is one of `activeKeys` (the active staff's), and users whose key is
    /// not stored yet (new or changed by an administrator). Any other user has no link and
    /// no matching active staff member, so R6 leaves them as they are. Keys computed here
    /// go into the result and are stored by the run. With other aliases than the stored
    /// keys were made with, every user is read and re-keyed.
    ///
    /// The users come to `body` as they are read, in batches of at most `batchSize`, in no
    /// particular order and each user once (the queries below find disjoint sets): a run
    /// plans a batch and lets it go, so linking a district of a million users holds one
    /// batch of them (issue 34). The active keys go to the database in batches of
    /// `keyBatchSize`, not as one JSON array of every active staff member's key.
    /// `stop` is asked before each query and batch: a stop asked for while Swift code runs
    /// would not interrupt the statement that follows (SQLite's and PostgreSQL's interrupts
    /// stop only what is running then), and probing 300,000 keys takes seconds.
    public func forEachLinkingUserBatch(normalizer: EmailNormalizer, staff: StaffDirectory, batchSize: Int = 4096, keyBatchSize: Int = 4096,
                                        stop: StopSignal? = nil, _ body: ([LinkingUser]) throws -> Void) throws -> LinkingKeys {
        // The linked users (a few thousand) are found through the username index.
        try database.preferringIndexLookups {
            try readLinkingUsers(normalizer: normalizer, staff: staff, batchSize: max(1, batchSize), keyBatchSize: max(1, keyBatchSize),
                                 stop: stop, body)
        }
    }

    private func readLinkingUsers(normalizer: EmailNormalizer, staff: StaffDirectory, batchSize: Int, keyBatchSize: Int, stop: StopSignal?,
                                  _ body: ([LinkingUser]) throws -> Void) throws -> LinkingKeys {
        func stopIfAsked() throws(StoreError) { if let stop, stop.isStopping { throw .interrupted } }
        let aliases = Self.keyBasis(normalizer)
        let stored = try storedKeyBasis()
        let select: SQLQuery = """
            SELECT u.username, u.email, u.email_key, u.approved, l.staff_id, l.kind, l.reason, l.until, \(unescaped: Self.providerManaged)
            FROM users u LEFT JOIN links l ON l.username = u.username
            """
        var result = LinkingKeys(keys: [:], basis: nil)
        var batch: [LinkingUser] = []
        batch.reserveCapacity(min(batchSize, 4096))
        func flush() throws {
            guard !batch.isEmpty else { return }
            try stopIfAsked()
            try body(batch)
            batch.removeAll(keepingCapacity: true)
        }
        // The reads that may hold every user (new aliases, or users an application inserted
        // without a key) go a page at a time: on PostgreSQL libpq would hold the whole result.
        // The keys of linked users whose email is ASCII and, in lower case, their key (see
        // the probes below).
        var linkedOwnKeys = Set<String>()
        func collect(_ query: SQLQuery, paged: Bool = false, trustStoredKey: Bool, onlyActive: Bool, notingOwnKeys: Bool = false) throws {
            func row(_ r: any StoreStatement) throws {
                let username = r.text(0)
                var key: String
                if trustStoredKey, !r.isNull(2) { key = r.text(2) } else {
                    key = normalizer.key(r.text(1))
                    if r.isNull(2) || r.text(2) != key { result.keys[username] = key }
                }
                if notingOwnKeys, Self.isOwnKey(key, ofASCIIEmail: r.text(1)) { linkedOwnKeys.insert(key) }
                // A user is read here only if they may link; re-check after keying.
                guard !r.isNull(4) || !onlyActive || !staff.activeStaff(withEmailKey: key).isEmpty else { return }
                let link = r.isNull(4) ? nil : Link(staffID: r.text(4), kind: LinkKind(rawValue: r.text(5)) ?? .auto, reason: r.string(6), until: r.string(7))
                batch.append(LinkingUser(username: username, emailKey: key, approved: r.bool(3), link: link, providerManaged: r.bool(8)))
                if batch.count >= batchSize { try flush() }
            }
            if paged { try database.forEachRowInPages(query, pageSize: batchSize, row) } else { try database.forEachRow(query, row) }
            try flush()
        }
        if stored != aliases {
            result.basis = aliases
            try collect(select, paged: true, trustStoredKey: false, onlyActive: true)
            return result
        }
        // (`otherKey` is the predicate of the partial index `users_by_other_email_key`, as
        // it is written there, so that both stores' planners read the few users it holds.)
        try collect("\(sql: select) WHERE \(unescaped: UserKeyColumns(database).otherKey) AND u.email_key IS NULL", paged: true, trustStoredKey: false, onlyActive: true)
        // Linked users with a stored key (those without one were read just above).
        try stopIfAsked()
        try collect("""
            SELECT u.username, u.email, u.email_key, u.approved, l.staff_id, l.kind, l.reason, l.until, \(unescaped: Self.providerManaged)
            FROM links l JOIN users u ON u.username = l.username WHERE u.email_key IS NOT NULL
            """, trustStoredKey: true, onlyActive: false, notingOwnKeys: true)
        // Unlinked users keyed like an active staff member, each batch of keys as one JSON
        // array: most have their email in lower case for a key and are found by probing the
        // unique email index (which ignores case) with each key, keeping those whose stored
        // key is that key; the few others by reading the partial index and looking each
        // one's key up in the list (`+` keeps SQLite from probing that index per key). The
        // first half keeps only users whose key is `lower(email)`, the exact opposite of the
        // partial index, so no user comes twice: PostgreSQL's `nocase` also finds an email in
        // another Unicode normal form equal to its key, whose `lower` is not the key.
        // The first half probes only keys no linked user holds as their own ASCII email in
        // lower case: the one user whose email is such a key (emails are unique ignoring
        // case, and ASCII's lower case is both stores' `lower`) is that linked user, whom
        // `NOT EXISTS` would drop. Most active staff are linked: an unchanged district run
        // probed 20,000 keys to find 18 users, most of its linking's time on both stores.
        var start = 0
        let keyCount = staff.activeEmailKeyCount
        while start < keyCount {
            try stopIfAsked()
            let end = min(start + keyBatchSize, keyCount)
            let keys = staff.activeEmailKeys(start..<end)
            let json = CompactJSON.stringArray(keys)
            let probed = keys.filter { !linkedOwnKeys.contains($0) }
            let unlinked = probed.count == keys.count ? json : CompactJSON.stringArray(probed)
            result.probedKeys += probed.count
            try collect("""
                SELECT u.username, u.email, u.email_key, u.approved, NULL, NULL, NULL, NULL, \(unescaped: Self.providerManaged)
                FROM json_each(\(unlinked)) k CROSS JOIN users u ON u.email = k.value
                WHERE u.email_key = k.value AND u.email_key = lower(u.email) COLLATE BINARY
                  AND NOT EXISTS (SELECT 1 FROM links l WHERE l.username = u.username)
                UNION ALL
                SELECT u.username, u.email, u.email_key, u.approved, NULL, NULL, NULL, NULL, \(unescaped: Self.providerManaged) FROM users u
                WHERE \(unescaped: UserKeyColumns(database).otherKey) AND +u.email_key IN (SELECT value FROM json_each(\(json)))
                  AND NOT EXISTS (SELECT 1 FROM links l WHERE l.username = u.username)
                """, trustStoredKey: true, onlyActive: false)
            start = end
        }
        return result
    }

    // The users whose email key is not their email in lower case, or not made yet
    // (`UserKeyColumns.otherKey`): those `users_by_other_email_key` (schema 13) holds, a few
    // in a district. Every other user's key is their email as the unique email index
    // compares it (ignoring case), so a key is looked up there, and an index of every key
    // (a b-tree more written for every user) is not needed. `lower` is ASCII's on SQLite,
    // as `NOCASE` is; on PostgreSQL both are Unicode's.

    /// Whether `key` is `email` in lower case, `email` being ASCII (whose lower case SQLite
    /// and PostgreSQL agree on, and whose case the unique email index ignores on both).
    static func isOwnKey(_ key: String, ofASCIIEmail email: String) -> Bool {
        var k = key.utf8.makeIterator()
        for b in email.utf8 {
            guard b < 0x80, let c = k.next(), c == ((b >= 65 && b <= 90) ? b + 32 : b) else { return false }
        }
        return k.next() == nil
    }

    /// Whether a user is an identity provider's (issue 32): created over SCIM or carrying an
    /// `externalId`.
    static let providerManaged = "(u.external_id IS NOT NULL OR u.provisioned_by IS NOT NULL)"

    /// The aliases email keys were made with, as stored in `email_key_basis`.
    static func keyBasis(_ normalizer: EmailNormalizer) -> String {
        let pairs = normalizer.aliases.sorted { $0.key < $1.key }.map { "[\"\($0.key)\",\"\($0.value)\"]" }
        return "[" + pairs.joined(separator: ",") + "]"
    }

    func storedKeyBasis() throws -> String? {
        let s = try database.query("SELECT aliases FROM email_key_basis WHERE id = 1")
        return try s.step() ? s.text(0) : nil
    }

    /// The key a new or changed email gets when an administrator writes it: made with the
    /// configured aliases when they are those of the stored keys (or none are stored yet),
    /// else NULL, and the next run makes it.
    func emailKeyForWrite(_ email: String, normalizer: EmailNormalizer?) throws -> String? {
        try emailKeyWriter(normalizer: normalizer)(email)
    }

    /// `emailKeyForWrite` for many emails in one transaction: the stored basis is read
    /// once, not once per email (and stored, if there is none, with the first key made).
    func emailKeyWriter(normalizer: EmailNormalizer?) throws -> (String) throws -> String? {
        guard let normalizer else { return { _ in nil } }
        let basis = Self.keyBasis(normalizer)
        switch try storedKeyBasis() {
        case nil:
            var stored = false
            return { [database] email in
                if !stored {
                    try database.run("INSERT INTO email_key_basis (id, aliases) VALUES (1, \(basis))")
                    stored = true
                }
                return normalizer.key(email)
            }
        case basis?: return { normalizer.key($0) }
        default: return { _ in nil }
        }
    }

    /// The auto links there are (what the unlink guard weighs a run against).
    public func autoLinkCount() throws -> Int {
        try database.int("SELECT count(*) FROM links WHERE kind = 'auto'") ?? 0
    }

    /// Every stored staff member's email key and activity.
    public func staffDirectoryEntries(normalizer: EmailNormalizer) throws -> [String: StaffDirectory.Entry] {
        var out: [String: StaffDirectory.Entry] = [:]
        try forEachStaffEmail(normalizer: normalizer) { out[$0] = StaffDirectory.Entry(emailKey: $1, active: $2) }
        return out
    }

    /// Each stored staff member's id, email key and activity, as they are read (a run
    /// builds its `StaffDirectory` from them without a dictionary of every staff member).
    public func forEachStaffEmail(normalizer: EmailNormalizer, _ body: (_ id: String, _ emailKey: String, _ active: Bool) throws -> Void) throws {
        try database.forEachRow("SELECT staff_id, email, active FROM staff") { r in
            try body(r.text(0), normalizer.key(r.text(1)), r.bool(2))
        }
    }

    /// The statement that writes a run's new links, staged in `temp.link_changes`, into
    /// `links`, in the key's order, so that each goes in at the end of the b-tree. SQLite
    /// reads them as they were staged (`rowid`): the staging table is filled in the plan's
    /// order, which is the users' (`LinkPlan.putInUserOrder`: names lowercased, which for ASCII
    /// names is the order of the key's `nocase`), so no sort is needed. Sorted again, the
    /// 89,152 new links of five times a district filled SQLite's sorter: 12 MB more at the
    /// run's peak, which grew with the district (issue 34). A name outside ASCII may come a
    /// little out of the key's order, which costs only a seek. PostgreSQL sorts them in its
    /// server.
    static func insertingStagedLinks(stamp: String, actor: String, postgres: Bool) -> SQLQuery {
        """
        INSERT INTO links (username, staff_id, kind, reason, until, created_at, created_by)
        SELECT username, staff_id, 'auto', NULL, NULL, \(stamp), \(actor) FROM temp.link_changes WHERE action = 'link'
        \(unescaped: postgres ? "ORDER BY username COLLATE NOCASE" : "ORDER BY rowid")
        """
    }

    /// Writes a run's link changes (inside the run's transaction).
    func applyLinks(_ plan: LinkPlan, stamp: String, actor: String) throws {
        if let basis = plan.emailKeyBasis {
            try database.run("INSERT INTO email_key_basis (id, aliases) VALUES (1, \(basis)) ON CONFLICT (id) DO UPDATE SET aliases = excluded.aliases")
        }
        // Set-based through staging tables: a first run keys 200,000 users and makes 17,000
        // links, and a round trip per row to PostgreSQL would take seconds.
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS new_email_keys (username TEXT NOT NULL COLLATE NOCASE, email_key TEXT NOT NULL);
            CREATE TEMP TABLE IF NOT EXISTS link_changes (username TEXT NOT NULL COLLATE NOCASE, staff_id TEXT, action TEXT NOT NULL);
            DELETE FROM temp.new_email_keys;
            DELETE FROM temp.link_changes;
            """)
        if !plan.emailKeys.isEmpty {
            try database.insertRows(into: "temp.new_email_keys", columns: ["username", "email_key"]) { rows in
                for (user, key) in plan.emailKeys { try rows.add(user); try rows.add(key); try rows.endRow() }
            }
            try database.refreshStatistics(["temp.new_email_keys"])
            try database.execute("UPDATE users SET \(UserKeyColumns(database).setEmailKey(fromColumn: "k.email_key")) FROM temp.new_email_keys k WHERE users.username = k.username")
        }
        var links = 0, unapprovals = 0
        for c in plan.changes {
            switch c {
            case .link, .unlink: links += 1
            case .unapprove: unapprovals += 1
            case .ambiguous: break
            }
        }
        guard links + unapprovals > 0 else { return }
        // A user has one link: the user's last link or unlink decides it, as the plan lists
        // them. In a run's plan each user's changes are adjacent (`LinkPlan.changes`, checked
        // here without keeping every name), so the last is the one that no link or unlink of
        // the same user (the same bytes) follows before another user's change. (Found with a
        // dictionary of every changed user, that was 3-6 MB more at the peak of a run linking
        // five times a district's users; issue 34.) Any other plan takes the dictionary.
        let changes = plan.changes
        var lastByName: [[UInt8]: Int]?
        if !LinkPlan.eachUsersChangesAreAdjacent(changes) {
            var last: [[UInt8]: Int] = [:]
            for (i, c) in changes.enumerated() {
                switch c {
                case .link(let user, _, _), .unlink(let user, _, _, _): last[Array(user.utf8)] = i
                case .unapprove, .ambiguous: break
                }
            }
            lastByName = last
        }
        func isUsersLast(_ i: Int) -> Bool {
            if let lastByName { return lastByName[Array(changes[i].username.utf8)] == i }
            let user = changes[i].username.utf8
            var j = i + 1
            while j < changes.count, changes[j].username.utf8.elementsEqual(user) {
                switch changes[j] {
                case .link, .unlink: return false
                case .unapprove, .ambiguous: j += 1
                }
            }
            return true
        }
        // The links the run inserts (a user's last change, a link): what the bulk-load rule
        // weighs, not the changes, whose unlinks and repeats insert nothing.
        var linksAdded = 0
        try database.insertRows(into: "temp.link_changes", columns: ["username", "staff_id", "action"]) { rows in
            for (i, c) in changes.enumerated() {
                switch c {
                case .link(let user, let staff, _) where isUsersLast(i):
                    linksAdded += 1
                    try rows.add(user); try rows.add(staff); try rows.add("link"); try rows.endRow()
                case .unlink(let user, _, _, _) where isUsersLast(i):
                    try rows.add(user); try rows.add(nil as String?); try rows.add("unlink"); try rows.endRow()
                case .unapprove(let user, _):
                    try rows.add(user); try rows.add(nil as String?); try rows.add("unapprove"); try rows.endRow()
                case .link, .unlink, .ambiguous:
                    break
                }
            }
        }
        try database.refreshStatistics(["temp.link_changes"])
        if links > 0 {
            try database.execute("DELETE FROM links WHERE username IN (SELECT username FROM temp.link_changes WHERE action <> 'unapprove')")
            // A first run's links (17,830 in the synthetic district) are all the table will
            // have: on PostgreSQL its key and its reference to `users` are made again after
            // them, in a third of the CPU of probing both row by row.
            try database.bulkLoading("links", adding: linksAdded) {
                try database.run(Self.insertingStagedLinks(stamp: stamp, actor: actor, postgres: database is PostgresDatabase))
            }
        }
        if unapprovals > 0 {
            try database.execute("UPDATE users SET approved = FALSE WHERE username IN (SELECT username FROM temp.link_changes WHERE action = 'unapprove')")
        }
    }

    /// Usernames linked to a staff record.
    public func linkedUsers(staffID: String) throws -> [String] {
        var out: [String] = []
        try database.forEachRow("SELECT username FROM links WHERE staff_id = \(staffID) ORDER BY username") { out.append($0.text(0)) }
        return out
    }

    /// A manual link, with the administrator's reason (and optional last day).
    public func linkManually(_ username: String, staffID: String, reason: String, until: String?, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            guard try mirror.staffMember(id: staffID) != nil else { throw AccountError.noSuchStaff(staffID) }
            try database.run("DELETE FROM links WHERE username = \(u.username)")
            try database.run("""
                INSERT INTO links (username, staff_id, kind, reason, until, created_at, created_by)
                VALUES (\(u.username), \(staffID), 'manual', \(reason), \(until), \(Timestamp.format(now)), \(actor))
                """)
            let note = until.map { "\(staffID) (manual until \($0): \(reason))" } ?? "\(staffID) (manual: \(reason))"
            return [Change(entity: "users", id: u.username, field: "link", old: u.link?.staffID, new: note, kind: .linked)]
        }
    }

    public func unlink(_ username: String, actor: String, now: Date) throws {
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard let u = try user(username) else { throw AccountError.noSuchUser(username) }
            guard let l = u.link else { return [] }
            try database.run("DELETE FROM links WHERE username = \(u.username)")
            return [Change(entity: "users", id: u.username, field: "link", old: l.staffID, new: nil, kind: .unlinked)]
        }
    }
    /// The audit of `sisyncctl audit` (README, "Users, links and roles") over the database as it is now. Emails compare as R6 compares
    /// them (`normalizer`), so the audit agrees with what linking does.
    public func audit(normalizer: EmailNormalizer) throws -> AuditReport {
        var report = AuditReport()
        var byEmail: [String: [String]] = [:]
        try database.forEachRow("SELECT staff_id, email FROM staff WHERE active = TRUE AND email <> '' ORDER BY staff_id") { r in
            let key = normalizer.key(r.text(1))
            byEmail[key, default: []].append(r.text(0))
        }
        report.ambiguousEmails = byEmail.filter { $0.value.count > 1 }
            .map { AuditReport.AmbiguousEmail(email: $0.key, staffIDs: $0.value) }
            .sorted { $0.email < $1.email }
        try database.forEachRow("""
            SELECT l.username, l.staff_id, u.email, s.email, coalesce(l.reason, '') FROM links l
            JOIN users u ON u.username = l.username JOIN staff s ON s.staff_id = l.staff_id
            WHERE l.kind = 'manual' ORDER BY l.username COLLATE NOCASE
            """) { r in
            if normalizer.key(r.text(2)) != normalizer.key(r.text(3)) {
                report.crossLinks.append(.init(username: r.text(0), staffID: r.text(1), userEmail: r.text(2), staffEmail: r.text(3), reason: r.text(4)))
            }
        }
        try database.forEachRow("""
            SELECT l.username, l.staff_id, s.deactivated_at FROM links l JOIN staff s ON s.staff_id = l.staff_id
            WHERE s.active = FALSE ORDER BY l.username COLLATE NOCASE
            """) { r in
            report.linkedToInactive.append(.init(username: r.text(0), staffID: r.text(1), deactivatedAt: r.string(2)))
        }
        try database.forEachRow("""
            SELECT l.username, l.staff_id, u.provisioned_by FROM links l JOIN users u ON u.username = l.username
            JOIN staff s ON s.staff_id = l.staff_id
            WHERE s.active = FALSE AND u.approved = TRUE AND \(unescaped: Self.providerManaged) ORDER BY l.username COLLATE NOCASE
            """) { r in
            report.providerEnabledInactive.append(.init(username: r.text(0), staffID: r.text(1), provisionedBy: r.string(2)))
        }
        try database.forEachRow("""
            SELECT DISTINCT g.username FROM user_ledgers g
            WHERE NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.username = g.username AND r.role = 'Finance' COLLATE NOCASE)
            ORDER BY g.username
            """) { report.ledgersWithoutFinance.append($0.text(0)) }
        try database.forEachRow("""
            SELECT DISTINCT us.username FROM user_schools us
            WHERE NOT EXISTS (SELECT 1 FROM links l JOIN staff s ON s.staff_id = l.staff_id WHERE l.username = us.username AND s.active = TRUE)
            ORDER BY us.username
            """) { report.schoolsWithoutStaffLink.append($0.text(0)) }
        return report
    }
}
