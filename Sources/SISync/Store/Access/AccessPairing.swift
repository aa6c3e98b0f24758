import Foundation

import Foundation

/// Why an access-code command was refused.
public enum AccessError: Error, Equatable, CustomStringConvertible, Sendable {
    case noSuchStudent(String)
    case inactiveStudent(String)
    case noCode(String)
    case badCode
    case throttled(until: String)
    case notApproved(String)

    public var description: String {
        switch self {
        case .noSuchStudent(let s): return "no student `\(s)` in the mirror; check the id (sync first if the student is new)"
        case .inactiveStudent(let s): return "student \(s) is not active in the SIS; codes pair only with active students"
        case .noCode(let s): return "student \(s) has no access code yet; `sisyncctl access enable \(s)` creates one"
        case .badCode: return "that code does not pair with any student; check it against the letter (codes look like 7KQ4-M9TX)"
        case .throttled(let until): return "too many failed pairing attempts by this user (5 in 15 minutes); try again after \(until)"
        case .notApproved(let u): return "user \(u) is not approved; approve the account first (sisyncctl user approve \(u))"
        }
    }
}

/// A user paired with a student, as `access list` shows it.
public struct AccessPairing: Sendable, Equatable {
    public var username: String
    public var name: String
    public var email: String
    public var pairedAt: String
}

