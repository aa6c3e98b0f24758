/// What needs an administrator's eyes (`sisyncctl audit`, README "Users, links and roles"): each finding is a
/// place where accounts and the SIS disagree in a way sync must not fix by itself.
public struct AuditReport: Sendable, Equatable {
    /// Two or more active staff with one email: nobody with that email can be linked.
    public struct AmbiguousEmail: Sendable, Equatable {
        public var email: String
        public var staffIDs: [String]
    }

    /// A manual link between a user and a staff record whose emails differ: on purpose
    /// (an intern recording for a teacher) or a mistake that puts John's entries under Jane.
    public struct CrossLink: Sendable, Equatable {
        public var username: String
        public var staffID: String
        public var userEmail: String
        public var staffEmail: String
        public var reason: String
    }

    public struct InactiveLink: Sendable, Equatable {
        public var username: String
        public var staffID: String
        public var deactivatedAt: String?
    }

    /// An identity provider keeps this user enabled (SCIM `active`) while its linked staff
    /// record is inactive: sisync does not unapprove a provider's user, so someone should
    /// disable it in the provider, or tell the SIS (issue 32).
    public struct ProviderEnabled: Sendable, Equatable {
        public var username: String
        public var staffID: String
        public var provisionedBy: String?
    }

    public var ambiguousEmails: [AmbiguousEmail] = []
    public var providerEnabledInactive: [ProviderEnabled] = []
    public var crossLinks: [CrossLink] = []
    public var linkedToInactive: [InactiveLink] = []
    public var ledgersWithoutFinance: [String] = []
    public var schoolsWithoutStaffLink: [String] = []

    public var findings: Int {
        ambiguousEmails.count + crossLinks.count + linkedToInactive.count + ledgersWithoutFinance.count + schoolsWithoutStaffLink.count
            + providerEnabledInactive.count
    }
}
