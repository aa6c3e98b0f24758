/// What a user may do with a document: `none < view < edit < owner` (README, "Form permissions").
public enum PermissionLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case none = 0, view, edit, owner

    public static func < (a: PermissionLevel, b: PermissionLevel) -> Bool { a.rawValue < b.rawValue }

    public init?(name: String) {
        switch name.lowercased() {
        case "none": self = .none
        case "view": self = .view
        case "edit": self = .edit
        case "owner": self = .owner
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .view: return "view"
        case .edit: return "edit"
        case .owner: return "owner"
        }
    }
}

/// A role's setting for one form: the level a user gets on documents of students in the
/// role's buildings (default), and the most they can be given (max).
public struct FormSetting: Sendable, Equatable {
    public var defaultLevel: PermissionLevel
    public var maxLevel: PermissionLevel
    public init(default d: PermissionLevel, max m: PermissionLevel) {
        defaultLevel = d
        maxLevel = m
    }
}
