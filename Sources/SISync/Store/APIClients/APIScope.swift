import Foundation

/// What an API client may do (issue 30). Each endpoint names the one scope it needs; a
/// client without it gets 403.
public enum APIScope: String, Sendable, CaseIterable, Comparable {
    /// Users and staff as `sisyncctl user show` shows them, without their history.
    case read
    /// Checking passwords (`POST /v1/logins`), with the lockout.
    case login
    /// Pairing parents with students by access code.
    case pair
    /// What a user may do with a form (`GET /v1/form-access`).
    case forms
    /// The change feed (`GET /v1/events`, docs/events.md).
    case events
    /// SCIM 2.0 for identity providers (`/scim/v2`, docs/scim.md): users and their approval.
    case scim

    public static func < (a: APIScope, b: APIScope) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// `read,login` (the `--scopes` option, and how the store keeps them): every name must be
    /// a scope, at least one; repeats are allowed and dropped.
    public static func parse(list text: String) throws(APIClientError) -> Set<APIScope> {
        var scopes: Set<APIScope> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let scope = APIScope(rawValue: name) else { throw .unknownScope(name) }
            scopes.insert(scope)
        }
        return scopes
    }

    /// The stored and shown form: in the order of `allCases`, comma-separated.
    public static func list(_ scopes: Set<APIScope>) -> String {
        scopes.sorted().map(\.rawValue).joined(separator: ",")
    }
}
