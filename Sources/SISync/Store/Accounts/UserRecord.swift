import Foundation

import Foundation

/// A user account as `sisyncctl user` shows it.
public struct UserRecord: Sendable, Equatable {
    public var username: String
    public var email: String
    public var name: String
    public var approved: Bool
    public var locked: Bool
    public var link: Link?
    public var createdAt: String

    /// A login name: not empty, no spaces (for `user add` and `user import` alike).
    public static func isValidUsername(_ name: String) -> Bool {
        // ASCII names (almost all) byte by byte; Character's whitespace test splits
        // graphemes, a tenth of a 200,000-user import.
        if name.utf8.allSatisfy({ $0 < 128 }) {
            return !name.isEmpty && !name.utf8.contains { $0 == 32 || (9...13).contains($0) }
        }
        return !name.isEmpty && !name.contains(where: \.isWhitespace)
    }
}

/// Why an administrator's change to accounts was refused.
public enum AccountError: Error, Equatable, CustomStringConvertible, Sendable {
    case usernameTaken(String)
    case emailTaken(email: String, by: String)
    case noSuchUser(String)
    case noSuchStaff(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .usernameTaken(let u): return "a user named `\(u)` already exists (usernames are unique regardless of case)"
        case .emailTaken(let e, let by): return "\(e) is already the email of user `\(by)` (emails are unique regardless of case)"
        case .noSuchUser(let u): return "no user `\(u)`; `sisyncctl user list` shows the users"
        case .noSuchStaff(let s): return "no staff record `\(s)`; `sisyncctl staff list --all --search ...` finds it"
        case .invalid(let m): return m
        }
    }
}


/// What a user can be attached to (their profile in the SIS).
public enum AttachmentKind: String, Sendable, CaseIterable {
    case student, household, donor

    var entity: EntityKind {
        switch self {
        case .student: return .students
        case .household: return .households
        case .donor: return .donors
        }
    }
}


/// Everything `user show` and `user list` say about an account.
public struct UserProfile: Sendable {
    public var user: UserRecord
    public var attachments: [AttachmentKind: [String]] = [:]
    public var manualRoles: [String] = []
    public var calculatedRoles: [CalculatedRole] = []
    public var schools: [String] = []
    public var ledgers: [String] = []
    /// Students paired through the parent portal's access codes.
    public var pairedStudents: [String] = []
    /// Form permission roles with their buildings (empty: assigned without buildings).
    public var permissionRoles: [(role: String, buildings: [String])] = []
}

/// Per-user lists an administrator keeps by hand: the schools a user works in and the
/// finance ledgers they may post to.
public enum UserList: String, Sendable {
    case school, ledger

    var table: String { self == .school ? "user_schools" : "user_ledgers" }
    var column: String { self == .school ? "school_id" : "ledger" }
}

