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

    /// The link each user has after the plan.
    public func links(after users: [LinkingUser]) -> [String: Link] {
        var result: [String: Link] = [:]
        for u in users { if let l = u.link { result[u.username.lowercased()] = l } }
        for c in changes {
            switch c {
            case .link(let user, let staff, _): result[user.lowercased()] = Link(staffID: staff, kind: .auto)
            case .unlink(let user, _, _, _): result[user.lowercased()] = nil
            default: break
            }
        }
        return result
    }
}

/// Decides links from emails (R6). Pure: users and staff in, a `LinkPlan` out.
public struct LinkPlanner: Sendable {
    public let now: Date
    public let unapproveOnDeactivation: Bool

    public init(now: Date, unapproveOnDeactivation: Bool) {
        self.now = now
        self.unapproveOnDeactivation = unapproveOnDeactivation
    }

    /// `deactivatedNow` are the staff this run deactivates (for `on_staff_deactivated`).
    public func plan(users: [LinkingUser], staff: StaffDirectory, deactivatedNow: Set<String>) -> LinkPlan {
        var plan = LinkPlan()
        for user in users {
            var current = user.link
            if let link = current, link.kind == .manual {
                guard link.hasEnded(at: now) else {
                    // Manual links are never changed by sync.
                    unapproveIfNeeded(user, link, deactivatedNow, &plan)
                    continue
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
                    let entry = staff.entries[link.staffID]
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
            if let link = current { unapproveIfNeeded(user, link, deactivatedNow, &plan) }
        }
        return plan
    }

    private func unapproveIfNeeded(_ user: LinkingUser, _ link: Link, _ deactivated: Set<String>, _ plan: inout LinkPlan) {
        if unapproveOnDeactivation, user.approved, !user.providerManaged, deactivated.contains(link.staffID) {
            plan.changes.append(.unapprove(username: user.username, staffID: link.staffID))
        }
    }
}
