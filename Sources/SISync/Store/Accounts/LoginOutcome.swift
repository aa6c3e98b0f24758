import Foundation

/// What `sisyncctl user login` decided, and the reason it gives.
public enum LoginOutcome: Equatable, Sendable {
    case accepted
    /// Also the answer for an unknown user and for a wrong password of a locked or
    /// unapproved account, word for word: only the right password learns those.
    case wrongPassword
    case locked
    case notApproved

    public var reason: String {
        switch self {
        case .accepted: return "accepted"
        case .wrongPassword: return "wrong username or password"
        case .locked: return "the account is locked after 5 failed logins; an administrator can unlock it (sisyncctl user unlock) or set a new password"
        case .notApproved: return "the account is not approved yet; an administrator approves it (sisyncctl user approve)"
        }
    }
}

