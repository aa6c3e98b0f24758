import Foundation

/// `sisyncctl user import`: many users in one transaction.
extension AccountStore {
    /// Imports checked rows in one transaction: new users are added, existing ones (same
    /// username, any case) updated, none removed; listed attachments are added. Problems
    /// that need the database (an email that belongs to another user, a record that is not
    /// in the mirror) are all collected and nothing is written.
    public func importUsers(_ rows: [UserImportRow], file: String, actor: String, now: Date,
                            normalizer: EmailNormalizer? = nil) throws -> UserImportResult {
        var result = UserImportResult()
        _ = try auditTrail.administer(actor: actor, now: now) {
            var existing: [String: UserRecord] = [:]
            var emailOwner: [String: String] = [:]
            for u in try users() {
                existing[u.username.lowercased()] = u
                emailOwner[u.email.lowercased()] = u.username.lowercased()
            }
            let inFile = Set(rows.map { $0.username.lowercased() })
            var problems: [String] = []
            var lookups: [AttachmentKind: any StoreStatement] = [:]
            for kind in AttachmentKind.allCases {
                lookups[kind] = try database.prepare("SELECT 1 FROM \(kind.entity.table) WHERE \(kind.entity.keyColumns[0]) = ?")
            }
            for row in rows {
                if let owner = emailOwner[row.email.lowercased()], owner != row.username.lowercased(), !inFile.contains(owner) {
                    problems.append("\(row.line): \(row.email) is already the email of user `\(existing[owner]!.username)`")
                }
                for (kind, ids) in row.attachments.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    let s = lookups[kind]!
                    for id in ids {
                        try s.bind(1, id)
                        if !(try s.step()) { problems.append("\(row.line): no \(kind.rawValue) record `\(id)` in the mirror") }
                        s.reset()
                    }
                }
            }
            guard problems.isEmpty else { throw UserImportError(file: file, problems: problems) }
            let insert = try database.prepare("INSERT INTO users (username, email, name, approved, created_at, email_key) VALUES (?, ?, '', ?, ?, ?)")
            let setEmail = try database.prepare("UPDATE users SET email = ?, email_key = ? WHERE username = ?")
            let setApproved = try database.prepare("UPDATE users SET approved = ? WHERE username = ?")
            let attach = try database.prepare("INSERT OR IGNORE INTO user_attachments (username, kind, record_id) VALUES (?, ?, ?)")
            var changes: [Change] = []
            let created = Timestamp.format(now)
            for row in rows {
                var rowChanges: [Change] = []
                let username: String
                if let u = existing[row.username.lowercased()] {
                    username = u.username
                    if u.email != row.email {
                        try setEmail.bind(1, row.email); try setEmail.bind(2, try emailKeyForWrite(row.email, normalizer: normalizer))
                        try setEmail.bind(3, username); try setEmail.run()
                        rowChanges.append(Change(entity: "users", id: username, field: "email", old: u.email, new: row.email, kind: .updated))
                    }
                    if let a = row.approved, a != u.approved {
                        try setApproved.bind(1, a); try setApproved.bind(2, username); try setApproved.run()
                        rowChanges.append(Change(entity: "users", id: username, field: "approved", old: String(u.approved), new: String(a), kind: .updated))
                    }
                } else {
                    username = row.username
                    try insert.bind(1, username); try insert.bind(2, row.email); try insert.bind(3, row.approved ?? false)
                    try insert.bind(4, created); try insert.bind(5, try emailKeyForWrite(row.email, normalizer: normalizer))
                    try insert.run()
                    rowChanges.append(Change(entity: "users", id: username, field: nil, old: nil, new: row.email, kind: .added))
                }
                for (kind, ids) in row.attachments.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    for id in ids {
                        try attach.bind(1, username); try attach.bind(2, kind.rawValue); try attach.bind(3, id)
                        try attach.run()
                        if database.changes > 0 {
                            rowChanges.append(Change(entity: "users", id: username, field: kind.rawValue, old: nil, new: id, kind: .updated))
                        }
                    }
                }
                if existing[row.username.lowercased()] == nil { result.added += 1 } else if rowChanges.isEmpty { result.unchanged += 1 } else { result.updated += 1 }
                changes += rowChanges
            }
            return changes
        }
        if result.added + result.updated >= RosterStore.statisticsThreshold {
            try database.refreshStatistics(["users", "user_attachments"])
        }
        return result
    }
}
