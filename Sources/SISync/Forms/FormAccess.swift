/// The effective permission of a user for one form in one building (README, "Form permissions").
/// Pure: the store gathers the user's role assignments, this decides.
public struct FormAccess: Sendable, Equatable {
    /// One of the user's roles: its setting for the form (nil when the role does not set
    /// it) and the buildings it was assigned for (empty: assigned without buildings).
    public struct Assignment: Sendable {
        public var role: String
        public var setting: FormSetting?
        public var buildings: Set<String>
        public init(role: String, setting: FormSetting?, buildings: Set<String>) {
            self.role = role
            self.setting = setting
            self.buildings = buildings
        }
    }

    public var defaultLevel: PermissionLevel
    public var maxLevel: PermissionLevel
    /// The level of a user explicitly added to a document with `grant`: the higher of the
    /// default and the grant capped at max.
    public var grantedLevel: PermissionLevel?

    /// Creating a document (and having one transferred) takes max owner.
    public var canCreate: Bool { maxLevel == .owner }

    /// The level the user has on a document: the granted level when added to it, else the default.
    public var level: PermissionLevel { grantedLevel ?? defaultLevel }

    public static func evaluate(_ assignments: [Assignment], building: String, grant: PermissionLevel? = nil) -> FormAccess {
        var levels: [FormSetting] = []
        if assignments.isEmpty {
            // No role at all: may create any form, sees only documents they are added to.
            levels = [FormSetting(default: .none, max: .owner)]
        }
        for a in assignments {
            if a.buildings.isEmpty {
                levels.append(FormSetting(default: .none, max: .owner))
            } else if a.buildings.contains(building) {
                levels.append(a.setting ?? FormSetting(default: .none, max: .none))
            }
        }
        // Roles that do not cover the building give none/none.
        let d = levels.map(\.defaultLevel).max() ?? .none
        let m = levels.map(\.maxLevel).max() ?? .none
        var access = FormAccess(defaultLevel: d, maxLevel: m, grantedLevel: nil)
        if let grant { access.grantedLevel = Swift.max(d, Swift.min(grant, m)) }
        return access
    }
}
