/// What reading the users for linking leaves besides the users: the email keys it made
/// (new users, changed emails, or everyone's after `email_domain_aliases` changed), to be
/// stored by the run, and the aliases they were made with when those changed.
public struct LinkingKeys: Sendable, Equatable {
    /// Username to its new email key.
    public var keys: [String: String]
    /// Set when every key was remade with other aliases than the stored ones.
    public var basis: String?
    /// How many active staff keys were looked up among the unlinked users whose key is
    /// their email: those no linked user holds as their own (`AccountStore.isOwnKey`).
    public var probedKeys = 0
}
