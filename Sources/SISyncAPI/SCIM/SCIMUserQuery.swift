import Foundation
import SISync

/// A list request of Users (RFC 7644 §3.4.2): the filter through the fixed map from SCIM
/// attribute to the store's `UserFilter` field, and paging. An attribute outside the map is
/// 400 `invalidFilter` naming it, never a query.
package struct SCIMUserQuery: Sendable, Equatable {
    /// The most a page holds (`count` above it is cut to it, as RFC 7644 §3.4.2.4 allows).
    package static let maxCount = 1000
    package static let defaultCount = 100

    package var filter: UserFilter?
    /// 1-based, as SCIM counts.
    package var startIndex = 1
    package var count = defaultCount

    package init(filter: String?, startIndex: String?, count: String?) throws(SCIMError) {
        if let filter, !filter.trimmingCharacters(in: .whitespaces).isEmpty {
            self.filter = try Self.translate(try SCIMFilter.parse(filter))
        }
        if let startIndex {
            guard let n = Int(startIndex) else { throw .invalidValue("`startIndex` must be a whole number (1 is the first result)") }
            self.startIndex = max(1, n)
        }
        if let count {
            guard let n = Int(count) else { throw .invalidValue("`count` must be a whole number (at most \(Self.maxCount))") }
            self.count = min(max(0, n), Self.maxCount)
        }
    }

    /// The store's filter for a SCIM filter on Users.
    package static func translate(_ f: SCIMFilter) throws(SCIMError) -> UserFilter {
        switch f {
        case .and(let a, let b): return .and(try translate(a), try translate(b))
        case .or(let a, let b): return .or(try translate(a), try translate(b))
        case .not(let a): return .not(try translate(a))
        case .present(let p): return try present(p)
        case .compare(let p, let op, let v): return try compare(p, op, v)
        case .valuePath(let p, let inner):
            try checkSchema(p)
            guard p.named("emails") else { throw .invalidFilter("`\(p)[...]`: sisync filters only `emails` by a value filter") }
            return try emailElement(inner)
        }
    }

    private static func checkSchema(_ p: SCIMAttributePath) throws(SCIMError) {
        if let s = p.schema, s.caseInsensitiveCompare(SCIMUser.schema) != .orderedSame {
            throw .invalidFilter("`\(p)`: sisync filters Users only on core attributes (userName, externalId, emails, active, meta)")
        }
    }

    private static func field(_ p: SCIMAttributePath) throws(SCIMError) -> UserFilter.Field {
        try checkSchema(p)
        let a = p.attribute.lowercased(), s = p.subAttribute?.lowercased()
        switch (a, s) {
        case ("id", nil): return .id
        case ("username", nil): return .username
        case ("externalid", nil): return .externalID
        case ("emails", nil), ("emails", "value"): return .email
        case ("active", nil): return .approved
        case ("meta", "lastmodified"): return .modified
        case ("meta", "created"): return .created
        default:
            throw .invalidFilter("sisync cannot filter Users on `\(p)`; it filters on userName, externalId, emails (and emails[type eq \"work\"].value), active, meta.created and meta.lastModified")
        }
    }

    private static func present(_ p: SCIMAttributePath) throws(SCIMError) -> UserFilter { .present(try field(p)) }

    private static func compare(_ p: SCIMAttributePath, _ op: SCIMCompare, _ v: SCIMFilterValue) throws(SCIMError) -> UserFilter {
        let f = try field(p)
        switch f {
        case .approved:
            let b: Bool
            switch v {
            case .bool(let x): b = x
            case .string(let s) where ["true", "false"].contains(s.lowercased()): b = s.lowercased() == "true"
            default: throw .invalidFilter("`active` compares with true or false")
            }
            guard op == .eq || op == .ne else { throw .invalidFilter("`active` takes eq or ne") }
            return .bool(.approved, b, equal: op == .eq)
        case .modified, .created:
            guard case .string(let s) = v, let date = Timestamp.parse(s) else {
                throw .invalidFilter("`\(p)` compares with a time in quotes, such as \"2026-09-01T00:00:00Z\"")
            }
            guard [.eq, .ne, .gt, .ge, .lt, .le].contains(op) else { throw .invalidFilter("`\(p)` takes eq, ne, gt, ge, lt or le") }
            return .compare(f, UserFilter.Comparison(rawValue: op.rawValue)!, Timestamp.format(date))
        case .emailType, .emailPrimary:
            throw .invalidFilter("`\(p)`: the email's type is filtered as emails[type eq \"work\"]")
        case .id, .username, .email, .externalID:
            switch v {
            case .string(let s): return .compare(f, UserFilter.Comparison(rawValue: op.rawValue)!, s)
            case .null where op == .eq: return .not(.present(f))
            case .null where op == .ne: return .present(f)
            default: throw .invalidFilter("`\(p)` compares with a string in quotes")
            }
        }
    }

    /// `emails[...]`: sisync keeps one email, `primary`, with the `type` the provider gave it
    /// (`work` when none was).
    private static func emailElement(_ inner: SCIMFilter) throws(SCIMError) -> UserFilter {
        switch inner {
        case .and(let a, let b): return .and(try emailElement(a), try emailElement(b))
        case .or(let a, let b): return .or(try emailElement(a), try emailElement(b))
        case .not(let a): return .not(try emailElement(a))
        case .valuePath(let p, _): throw .invalidFilter("`\(p)[...]` inside a value filter")
        case .present(let p):
            guard p.schema == nil, p.subAttribute == nil else { throw .invalidFilter("`\(p)` inside emails[...]") }
            switch p.attribute.lowercased() {
            case "value": return .present(.email)
            case "type", "primary": return .all
            default: throw .invalidFilter("emails[...] filters on value, type and primary")
            }
        case .compare(let p, let op, let v):
            guard p.schema == nil, p.subAttribute == nil else { throw .invalidFilter("`\(p)` inside emails[...]") }
            switch p.attribute.lowercased() {
            case "value": return try compare(SCIMAttributePath(attribute: "emails"), op, v)
            case "type":
                guard case .string(let s) = v, op == .eq || op == .ne else { throw .invalidFilter("emails[type ...] takes eq or ne and a string") }
                return .compare(.emailType, op == .eq ? .eq : .ne, s)
            case "primary":
                guard case .bool(let b) = v, op == .eq || op == .ne else { throw .invalidFilter("emails[primary ...] takes eq or ne and true or false") }
                return .bool(.emailPrimary, b, equal: op == .eq)
            default: throw .invalidFilter("emails[...] filters on value, type and primary")
            }
        }
    }
}
