import Foundation

/// What linking needs to know about one user.
public struct LinkingUser: Sendable, Equatable {
    public var username: String
    public var emailKey: String
    public var approved: Bool
    public var link: Link?
    /// An identity provider's user (created over SCIM, or with an `externalId`): its
    /// approval is the provider's `active`, which `on_staff_deactivated = unapprove` leaves
    /// alone (issue 32).
    public var providerManaged: Bool

    public init(username: String, emailKey: String, approved: Bool, link: Link?, providerManaged: Bool = false) {
        self.username = username
        self.emailKey = emailKey
        self.approved = approved
        self.link = link
        self.providerManaged = providerManaged
    }
}

/// One change to users' links, as a run plans it (R6).
public enum LinkChange: Sendable, Equatable {
    /// A new auto link (replacing `previous`, an auto link to someone else, if set).
    case link(username: String, staffID: String, previous: String?)
    case unlink(username: String, staffID: String, kind: LinkKind, why: String)
    /// Two or more active staff share the user's email: no auto link.
    case ambiguous(username: String, email: String, staffIDs: [String])
    /// `on_staff_deactivated = unapprove`: the user's staff member was deactivated in this run.
    case unapprove(username: String, staffID: String)
}

extension LinkChange {
    /// The user the change is about.
    public var username: String {
        switch self {
        case .link(let user, _, _), .unlink(let user, _, _, _), .ambiguous(let user, _, _), .unapprove(let user, _): return user
        }
    }

    /// Why an unlink was planned, as the change feed's `link.removed` says it (docs/events.md):
    /// read from the reason `LinkPlanner.plan` wrote below, which people read in the journal.
    public var unlinkReason: String? {
        guard case .unlink(_, _, _, let why) = self else { return nil }
        if why.hasPrefix("the manual link ended") { return "manual link ended" }
        if why.hasSuffix("no longer exists") { return "staff removed" }
        if why.contains(" active staff share ") { return "ambiguous" }
        return "email changed"
    }
}

/// The linking part of a run's plan: a value, like the record plan.
public struct LinkPlan: Sendable, Equatable {
    /// Each user's changes are adjacent, in the order they apply: the planner adds a user's
    /// changes together (`LinkPlanner.add`, each user once), and `putInUserOrder` keeps them
    /// so. Applying a plan then finds a user's last link or unlink by looking ahead
    /// (`AccountStore.applyLinks`, which checks it first: `eachUsersChangesAreAdjacent`).
    public var changes: [LinkChange] = []
    /// Users' email keys to store (new users, changed emails, or all after the aliases
    /// changed), so that later runs look at only the users that can be affected.
    public var emailKeys: [String: String] = [:]
    /// Set when the stored keys were made with other `email_domain_aliases`.
    public var emailKeyBasis: String?
    /// For each auto link removed because the user's email no longer matches their staff
    /// member's, when the two differ only by domain: the unlink guard's alias hint.
    public var domainChanges: [DomainChange] = []

    public var made: Int { changes.reduce(0) { if case .link = $1 { return $0 + 1 }; return $0 } }
    public var removed: Int {
        changes.reduce(0) {
            if case .unlink = $1 { return $0 + 1 }
            if case .link(_, _, let previous) = $1, previous != nil { return $0 + 1 }
            return $0
        }
    }
    public var ambiguous: Int { changes.reduce(0) { if case .ambiguous = $1 { return $0 + 1 }; return $0 } }
    /// Auto links removed (what the unlink guard judges).
    public var autoLinksRemoved: Int { changes.reduce(0) { if case .unlink(_, _, .auto, _) = $1 { return $0 + 1 }; return $0 } }

    /// Whether each user's changes in `changes` are adjacent, as the planner gives them
    /// (`changes`), found without keeping every name: the changes are in the users' order
    /// (`putInUserOrder`), and among changes whose names are alike once lowercased (a
    /// user's always are) each user's come together, the user told by the name's bytes (as
    /// SQLite's key tells `jos\u{E9}` from `jose\u{301}`). A plan built otherwise (a caller
    /// of `RosterStore.apply` with changes of its own) is answered false, which is then
    /// only slower to apply (`AccountStore.applyLinks`).
    static func eachUsersChangesAreAdjacent(_ changes: [LinkChange]) -> Bool {
        var key: String?
        var alike: [String] = []
        for c in changes {
            let name = c.username, folded = name.lowercased()
            if folded != key {
                if let key, folded < key { return false }
                key = folded
                alike.removeAll(keepingCapacity: true)
            }
            if let last = alike.last, last.utf8.elementsEqual(name.utf8) { continue }
            if alike.contains(where: { $0.utf8.elementsEqual(name.utf8) }) { return false }
            alike.append(name)
        }
        return true
    }

    /// The plan with its changes in username order (case folded, as usernames compare), each
    /// user's own changes in the order they were planned: the order of the journal and the
    /// change feed, whatever order the users were read in (`putInUserOrder`).
    public func inUserOrder() -> LinkPlan {
        var sorted = self
        sorted.putInUserOrder()
        return sorted
    }

    /// Puts the changes in username order (`inUserOrder`), where they are.
    ///
    /// The changes' positions are sorted, each compared by its user's folded name made once:
    /// a name and a number per change beside them, where a copy of every change with its
    /// key and position (growing as it was filled, then sorted into another) was the largest
    /// thing a run held while it linked five times a district's users (issue 34). The
    /// changes are then moved into their places, cycle by cycle: copied into a new array in
    /// that order (6 MB for the 89,152 links of five times a district), they were the peak
    /// of that run's memory.
    public mutating func putInUserOrder() {
        let keys = changes.map { $0.username.lowercased() }
        // Users are read in no particular order, but a plan made of one batch may be in order.
        if zip(keys, keys.dropFirst()).allSatisfy({ $0 <= $1 }) { return }
        var order = Array(0..<Int32(keys.count))
        order.sort { a, b in keys[Int(a)] != keys[Int(b)] ? keys[Int(a)] < keys[Int(b)] : a < b }
        // Position i takes the change at order[i]. Each cycle of the permutation is followed
        // once; a position placed is marked by its order becoming its own position.
        for start in 0..<order.count where order[start] != Int32(start) {
            let first = changes[start]
            var at = start
            while Int(order[at]) != start {
                let from = Int(order[at])
                changes[at] = changes[from]
                order[at] = Int32(at)
                at = from
            }
            changes[at] = first
            order[at] = Int32(at)
        }
    }
}

/// Decides links from emails (R6). Pure: users and staff in, a `LinkPlan` out. Each user's
/// links depend on that user and the staff alone, so the planner takes users as a stream,
/// a batch at a time (`add(_:to:)`), and a run never holds every user of a district (issue 34).
public struct LinkPlanner: Sendable {
    public let now: Date
    public let unapproveOnDeactivation: Bool
    public let staff: StaffDirectory
    /// The staff this run deactivates (for `on_staff_deactivated`).
    public let deactivatedNow: Set<String>

    public init(now: Date, unapproveOnDeactivation: Bool, staff: StaffDirectory, deactivatedNow: Set<String>) {
        self.now = now
        self.unapproveOnDeactivation = unapproveOnDeactivation
        self.staff = staff
        self.deactivatedNow = deactivatedNow
    }

    public init(now: Date, unapproveOnDeactivation: Bool) {
        self.init(now: now, unapproveOnDeactivation: unapproveOnDeactivation, staff: StaffDirectory(entries: [:]), deactivatedNow: [])
    }

    /// The plan for `users`, in any order and batching: its changes in username order
    /// (`LinkPlan.inUserOrder`), as the journal lists them.
    public func plan<Users: Sequence<LinkingUser>>(users: Users) -> LinkPlan {
        var plan = LinkPlan()
        for user in users { add(user, to: &plan) }
        plan.putInUserOrder()
        return plan
    }

    /// `plan(users:)` with the staff given here (the form linking had before it streamed).
    public func plan(users: [LinkingUser], staff: StaffDirectory, deactivatedNow: Set<String>) -> LinkPlan {
        LinkPlanner(now: now, unapproveOnDeactivation: unapproveOnDeactivation, staff: staff, deactivatedNow: deactivatedNow).plan(users: users)
    }

    /// Adds a batch of users' changes to `plan` (in the batch's order: `putInUserOrder`
    /// sorts). Each user comes once in a plan: a user's changes are planned together.
    public func add(_ users: some Sequence<LinkingUser>, to plan: inout LinkPlan) {
        for user in users { add(user, to: &plan) }
    }

    /// Adds one user's changes to `plan`.
    public func add(_ user: LinkingUser, to plan: inout LinkPlan) {
        var current = user.link
        if let link = current, link.kind == .manual {
            guard link.hasEnded(at: now) else {
                // Manual links are never changed by sync.
                unapproveIfNeeded(user, link, &plan)
                return
            }
            plan.changes.append(.unlink(username: user.username, staffID: link.staffID, kind: .manual,
                                        why: "the manual link ended on \(link.until!)"))
            current = nil
        }
        let matches = staff.activeStaff(withEmailKey: user.emailKey)
        switch matches.count {
        case 1:
            if current?.staffID != matches[0] {
                plan.changes.append(.link(username: user.username, staffID: matches[0], previous: current?.staffID))
                current = Link(staffID: matches[0], kind: .auto)
            }
        case 0:
            if let link = current {
                let entry = staff.entry(link.staffID)
                let stillMatches = entry.map { !$0.active && $0.emailKey == user.emailKey && !user.emailKey.isEmpty } ?? false
                if !stillMatches {
                    let why = entry == nil ? "staff \(link.staffID) no longer exists"
                        : "the user's email no longer matches staff \(link.staffID)"
                    plan.changes.append(.unlink(username: user.username, staffID: link.staffID, kind: .auto, why: why))
                    if let entry, let move = DomainChange.between(userKey: user.emailKey, staffKey: entry.emailKey) {
                        plan.domainChanges.append(move)
                    }
                    current = nil
                }
            }
        default:
            plan.changes.append(.ambiguous(username: user.username, email: user.emailKey, staffIDs: matches))
            if let link = current {
                plan.changes.append(.unlink(username: user.username, staffID: link.staffID, kind: .auto,
                                            why: "\(countWords(matches.count)) active staff share \(user.emailKey): \(matches.joined(separator: ", "))"))
                current = nil
            }
        }
        if let link = current { unapproveIfNeeded(user, link, &plan) }
    }

    private func unapproveIfNeeded(_ user: LinkingUser, _ link: Link, _ plan: inout LinkPlan) {
        if unapproveOnDeactivation, user.approved, !user.providerManaged, deactivatedNow.contains(link.staffID) {
            plan.changes.append(.unapprove(username: user.username, staffID: link.staffID))
        }
    }
}
