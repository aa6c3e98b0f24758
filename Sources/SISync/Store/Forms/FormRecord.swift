import Foundation

import Foundation

/// Why a form or permission-role command was refused.
public enum FormError: Error, Equatable, CustomStringConvertible, Sendable {
    case noSuchForm(String)
    case noSuchRole(String)
    case exists(kind: String, name: String)
    case defaultAboveMax(PermissionLevel, PermissionLevel)
    case invalid(String)

    public var description: String {
        switch self {
        case .noSuchForm(let f): return "no form `\(f)`; `sisyncctl form list --include-deleted` shows them"
        case .noSuchRole(let r): return "no role `\(r)`; `sisyncctl role list --deleted` shows them"
        case .exists(let kind, let name): return "a \(kind) named `\(name)` already exists (names are unique regardless of case)"
        case .defaultAboveMax(let d, let m): return "the default (\(d)) is above the max (\(m)); a user can never be given more than the max"
        case .invalid(let m): return m
        }
    }
}

/// A form as `form list` shows it.
public struct FormRecord: Sendable, Equatable {
    public var name: String
    public var group: String
    public var deleted: Bool
}

/// A permission role as `role list` shows it.
public struct PermissionRoleRecord: Sendable, Equatable {
    public var name: String
    public var deleted: Bool
    public var mergedInto: String?
    public var users: Int
}

