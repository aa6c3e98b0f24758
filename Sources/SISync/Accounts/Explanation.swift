/// `sisyncctl explain U`: why a user has each link and role, and why not the ones they
/// lack, in sentences an administrator can act on. Built from the data as it is now, so
/// it also says what the next run will change.
public struct Explanation: Sendable, Equatable {
    public struct LinkReason: Sendable, Equatable {
        public var staffID: String
        public var kind: LinkKind
        public var why: String
    }

    public struct Held: Sendable, Equatable {
        public var name: String
        /// Only attribute roles carry one.
        public var schoolYear: String?
        public var source: String
        public var why: String
    }

    public struct Missing: Sendable, Equatable {
        public var name: String
        public var why: String
    }

    public var username: String
    public var link: LinkReason?
    public var roles: [Held] = []
    public var notGranted: [Missing] = []
}
