import Foundation

/// A user as an identity provider sees it over SCIM (issue 32, docs/scim.md): the fields a
/// provider writes, and the facts it may only read. `provisionedBy` and `externalID` make a
/// user the provider's: its approval is then the provider's `active`, which
/// `on_staff_deactivated = unapprove` leaves alone.
public struct ProvisionedUser: Sendable, Equatable {
    /// What a provider writes (POST, PUT, and PATCH once applied).
    public struct Fields: Sendable, Equatable {
        public var username: String
        public var email: String
        /// The display name (`users.name`); `givenName familyName` when the provider sends
        /// only those.
        public var name: String
        public var givenName: String?
        public var familyName: String?
        public var approved: Bool
        public var externalID: String?
        /// The `type` the provider gave the email sisync keeps (`work`, `home`, its own);
        /// nil for users of `sisyncctl` and imports, whose email is a work one.
        public var emailType: String?
        /// The email's `primary` as the provider gave it; nil when it gave none.
        public var emailPrimary: Bool?
        /// The provider removed `active` (RFC 7644 §3.5.2.2: it is then unassigned): the
        /// user is not approved, and shows no `active` while it is not.
        public var activeRemoved: Bool

        public init(username: String, email: String, name: String, givenName: String? = nil, familyName: String? = nil,
                    approved: Bool, externalID: String? = nil, emailType: String? = nil, emailPrimary: Bool? = nil,
                    activeRemoved: Bool = false) {
            self.username = username
            self.email = email
            self.name = name
            self.givenName = givenName
            self.familyName = familyName
            self.approved = approved
            self.externalID = externalID
            self.emailType = emailType
            self.emailPrimary = emailPrimary
            self.activeRemoved = activeRemoved
        }
    }

    /// The SCIM `id` (`users.scim_id`): assigned by sisync, stable across renames.
    public var id: String
    public var fields: Fields
    public var locked: Bool
    public var link: Link?
    /// The SCIM client that created the user; nil for users of `sisyncctl`, imports and
    /// applications.
    public var provisionedBy: String?
    public var createdAt: String
    /// The last administrator's change to the account (any actor), else `createdAt`.
    public var modifiedAt: String

    /// Whether the provider's `active` decides the user's approval (issue 32).
    public var isProviderManaged: Bool { provisionedBy != nil || fields.externalID != nil }
}

/// A filter over users through a fixed set of fields, each one column, compared with bound
/// values (SCIM's `filter`; `AccountStore.provisionedUsers` turns it into SQL).
public indirect enum UserFilter: Sendable, Equatable {
    public enum Field: String, Sendable, CaseIterable {
        case id, username, email, externalID, approved, modified, created
        /// The email's `type` as the provider gave it (`work` when none was): eq and ne,
        /// regardless of case.
        case emailType
        /// The email's `primary` (true when none was given): with `bool`.
        case emailPrimary
    }

    public enum Comparison: String, Sendable {
        case eq, ne, co, sw, ew, gt, ge, lt, le
    }

    case compare(Field, Comparison, String)
    case bool(Field, Bool, equal: Bool)
    case present(Field)
    case and(UserFilter, UserFilter)
    case or(UserFilter, UserFilter)
    case not(UserFilter)
    /// Matches nothing (`emails[type eq "home"]`: sisync keeps no such email).
    case none
    /// Matches every user (`emails[type eq "work"]`: every user's one email is that).
    case all
}
