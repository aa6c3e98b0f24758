/// OneRoster 1.2's roles.csv, held until the users are read: its rows come in any order, so
/// each user's must wait for it. Each row is kept as four numbers (its user's id, its role's
/// name and its org, each numbered once, and whether it is primary), not as a `Role` in a
/// dictionary of arrays by `String`: for a district's 570,000 users with UUID ids, the
/// dictionary took 120 MB.
struct OneRosterUserRoles: Sendable {
    private struct Row {
        var user: Int32
        var name: Int32
        /// -1: no org.
        var org: Int32
        var primary: Bool
    }

    private var users = OneRosterIDs()
    private var orgs = OneRosterIDs()
    private var names = OneRosterIDs()
    /// In the file's order until `seal`, then by user, each user's in the file's order.
    private var rows: [Row] = []
    /// After `seal`, where each user's rows start in `rows` (one more than the users).
    private var starts: [Int] = []

    var isEmpty: Bool { rows.isEmpty }

    /// Takes a row of `user`, after the ones read before it.
    mutating func add(user: String, name: String, primary: Bool, org: String?) {
        precondition(starts.isEmpty, "a role added after the roles were sealed")
        rows.append(Row(user: users.number(user), name: names.number(name), org: org.map { orgs.number($0) } ?? -1, primary: primary))
    }

    /// Puts each user's rows together, in the file's order (a counting sort: stable).
    mutating func seal() {
        var starts = [Int](repeating: 0, count: users.count + 1)
        for r in rows { starts[Int(r.user) + 1] += 1 }
        for i in 0..<users.count { starts[i + 1] += starts[i] }
        var next = starts
        var sorted = [Row](repeating: Row(user: 0, name: 0, org: -1, primary: true), count: rows.count)
        for r in rows {
            sorted[next[Int(r.user)]] = r
            next[Int(r.user)] += 1
        }
        rows = sorted
        self.starts = starts
    }

    /// `user`'s roles, in the file's order; nil when roles.csv gives it none.
    func roles(of user: String) -> [OneRosterRoster.Role]? {
        precondition(!starts.isEmpty || rows.isEmpty, "roles read before they were sealed")
        guard let n = users.find(user) else { return nil }
        return rows[starts[Int(n)]..<starts[Int(n) + 1]].map { r in
            OneRosterRoster.Role(name: names.id(r.name), primary: r.primary, org: r.org < 0 ? nil : orgs.id(r.org))
        }
    }
}
