/// Staff as linking sees them after this run's changes: each staff member's email key and
/// whether they are active, and who shares an email. Built from the stored staff with the
/// run's staff plan laid over it, so links follow the export of the same run.
public struct StaffDirectory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var emailKey: String
        public var active: Bool
        public init(emailKey: String, active: Bool) {
            self.emailKey = emailKey
            self.active = active
        }
    }

    public private(set) var entries: [String: Entry]
    private var activeByEmail: [String: [String]] = [:]

    public init(entries: [String: Entry]) {
        self.entries = entries
        for (id, e) in entries where e.active && !e.emailKey.isEmpty {
            activeByEmail[e.emailKey, default: []].append(id)
        }
        for k in activeByEmail.keys { activeByEmail[k]!.sort() }
    }

    /// The stored staff with a run's staff plan applied.
    public static func after(_ plan: EntityPlan?, rows: EntityRows?, stored: [String: Entry], normalizer: EmailNormalizer) -> StaffDirectory {
        var entries = stored
        if let plan {
            let emailColumn = EntityKind.staff.valueColumns.firstIndex(of: "email")!
            if let rows {
                for r in plan.additions {
                    let row = Int(r)
                    entries[rows.key(row)] = Entry(emailKey: normalizer.key(rows.value(row, emailColumn)), active: !rows.isInactive(row))
                }
            }
            for u in plan.updates {
                var e = entries[u.key] ?? Entry(emailKey: "", active: true)
                if let f = u.fields.first(where: { $0.column == emailColumn }) { e.emailKey = normalizer.key(f.new) }
                if u.reactivate { e.active = true }
                if u.deactivate != nil { e.active = false }
                entries[u.key] = e
            }
        }
        return StaffDirectory(entries: entries)
    }

    /// Every email key an active staff member has: a user can only gain a link through one.
    public var activeEmailKeys: Set<String> { Set(activeByEmail.keys) }

    /// Active staff whose email key is `key`, sorted by id.
    public func activeStaff(withEmailKey key: String) -> [String] {
        key.isEmpty ? [] : activeByEmail[key] ?? []
    }
}
