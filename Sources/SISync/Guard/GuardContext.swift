/// What the guard weighs a plan against that the plan does not hold: read from the store
/// before judging, so that the guard itself stays a pure function of values.
public struct GuardContext: Sendable, Equatable {
    /// Each school's active staff or students and how many of them the run deactivates
    /// (only read with `per_school`).
    public var schools: [SchoolShare] = []
    /// Auto links before the run.
    public var autoLinks = 0
    /// The domains, when the auto links the run removes are of users whose email differs
    /// from their staff member's new one only by domain (an SIS domain migration).
    public var domainChange: DomainChange?

    public init() {}
}

/// One school's share of an entity's active records and of a run's deactivations.
public struct SchoolShare: Sendable, Equatable {
    public var kind: EntityKind
    public var school: String
    public var active: Int
    public var deactivated: Int
}

/// Staff emails moved from one domain to another while the users' stayed.
public struct DomainChange: Sendable, Hashable {
    /// The staff's new domain (`k12.district.org`).
    public var staffDomain: String
    /// The users' domain (`district.org`).
    public var userDomain: String

    /// The user's and the staff member's email keys differ only by domain.
    public static func between(userKey: String, staffKey: String) -> DomainChange? {
        guard let u = userKey.lastIndex(of: "@"), let s = staffKey.lastIndex(of: "@"),
              userKey[..<u] == staffKey[..<s], !userKey[..<u].isEmpty else { return nil }
        let userDomain = String(userKey[userKey.index(after: u)...]), staffDomain = String(staffKey[staffKey.index(after: s)...])
        return userDomain == staffDomain || userDomain.isEmpty || staffDomain.isEmpty ? nil : DomainChange(staffDomain: staffDomain, userDomain: userDomain)
    }
}
