/// A calculated role held by a user: its name and, for attribute roles, a school year.
public struct CalculatedRole: Sendable, Hashable, Comparable {
    public var username: String
    public var role: String
    /// `""` for roles without a year (only attribute roles carry one).
    public var schoolYear: String

    public init(username: String, role: String, schoolYear: String = "") {
        self.username = username
        self.role = role
        self.schoolYear = schoolYear
    }

    public static func < (a: CalculatedRole, b: CalculatedRole) -> Bool {
        (a.username.lowercased(), a.role, a.schoolYear) < (b.username.lowercased(), b.role, b.schoolYear)
    }

    /// `Honor Roll (2026-2027)` or `Staff`.
    public var label: String { schoolYear.isEmpty ? role : "\(role) (\(schoolYear))" }
}

/// The roles a run grants and revokes (R7): recomputed from the data on every run,
/// manual roles never touched. A first import grants hundreds of thousands, so the plan
/// carries the counts and the first `listed` of each; the store applies the full sets.
public struct RolePlan: Sendable, Equatable {
    public static let listed = 1000

    public var granted: [CalculatedRole] = []
    public var revoked: [CalculatedRole] = []
    public var grantedCount = 0
    public var revokedCount = 0
    /// The grants are in `user_roles` already, written as they were planned (a first run's,
    /// `RoleStore.grantEveryDesiredRole`): applying the plan writes only their events.
    var grantsStored = false
    /// With `grantsStored`: `user_roles` held no row before them and the database has no
    /// trigger that could write it, so every row it holds is one of them (their events read it without asking `source`).
    var grantsAreEveryStoredRole = false

    public init(granted: [CalculatedRole] = [], revoked: [CalculatedRole] = []) {
        self.granted = granted
        self.revoked = revoked
        grantedCount = granted.count
        revokedCount = revoked.count
    }

    public var isEmpty: Bool { grantedCount == 0 && revokedCount == 0 }

    /// The five roles R7 derives by name; attribute roles take their attribute's name.
    public static let fixedNames = ["Staff", "Student", "Parent", "Applicant", "Admissions Evaluator"]
}
