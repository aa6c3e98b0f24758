import Foundation

/// A staff record as `sisyncctl staff` shows it (docs/json.md).
public struct StaffRecord: Sendable, Equatable {
    public var staffID: String
    public var firstName: String
    public var lastName: String
    public var email: String
    public var title: String
    public var schoolIDs: [String]
    /// False when the SIS disabled the account (OneRoster `enabledUser = false`); the
    /// record stays active, so links and past data are untouched.
    public var enabled: Bool = true
    public var active: Bool
    public var deactivatedAt: String?
    public var missingSince: String?
}

/// Which staff `staff list` shows.
public enum StaffFilter: Sendable { case active, inactive, all }
