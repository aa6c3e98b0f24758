import SISync

/// One endpoint of the API: method, path template and the scope it needs (nil: no token,
/// only `/v1/health`). `Route.all` is the router's whole table; docs/openapi.yaml documents
/// each (a test holds them together).
package struct Route: Sendable, Equatable {
    package enum Endpoint: Sendable, Equatable {
        case health, user, staff, logins, pairings, formAccess, events
        /// SCIM 2.0 (docs/scim.md): discovery, Users, and Groups (roles).
        case scimConfig, scimResourceTypes, scimResourceType, scimSchemas, scimSchema, scimUsers, scimUser, scimGroups, scimGroup
        /// `POST …/.search` (RFC 7644 §3.4.3): a list with its parameters in the body.
        case scimUsersSearch, scimGroupsSearch, scimRootSearch
    }

    package let method: String
    /// `/v1/users/{username}`: literal segments and `{name}` parameters, one segment each.
    package let template: String
    package let scope: APIScope?
    package let endpoint: Endpoint
    /// The template's segments, a parameter's as its name: taken apart once, not on every
    /// request's match.
    private let pattern: [Segment]

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    init(method: String, template: String, scope: APIScope?, endpoint: Endpoint) {
        self.method = method
        self.template = template
        self.scope = scope
        self.endpoint = endpoint
        pattern = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { p in
            p.hasPrefix("{") && p.hasSuffix("}") ? .parameter(String(p.dropFirst().dropLast())) : .literal(String(p))
        }
    }

    package static let all: [Route] = [
        Route(method: "GET", template: "/v1/health", scope: nil, endpoint: .health),
        Route(method: "GET", template: "/v1/users/{username}", scope: .read, endpoint: .user),
        Route(method: "GET", template: "/v1/staff/{id}", scope: .read, endpoint: .staff),
        Route(method: "POST", template: "/v1/logins", scope: .login, endpoint: .logins),
        Route(method: "POST", template: "/v1/pairings", scope: .pair, endpoint: .pairings),
        Route(method: "GET", template: "/v1/form-access", scope: .forms, endpoint: .formAccess),
        Route(method: "GET", template: "/v1/events", scope: .events, endpoint: .events),
        Route(method: "GET", template: "/scim/v2/ServiceProviderConfig", scope: .scim, endpoint: .scimConfig),
        Route(method: "GET", template: "/scim/v2/ResourceTypes", scope: .scim, endpoint: .scimResourceTypes),
        Route(method: "GET", template: "/scim/v2/ResourceTypes/{id}", scope: .scim, endpoint: .scimResourceType),
        Route(method: "GET", template: "/scim/v2/Schemas", scope: .scim, endpoint: .scimSchemas),
        Route(method: "GET", template: "/scim/v2/Schemas/{id}", scope: .scim, endpoint: .scimSchema),
        Route(method: "POST", template: "/scim/v2/.search", scope: .scim, endpoint: .scimRootSearch),
        Route(method: "POST", template: "/scim/v2/Users/.search", scope: .scim, endpoint: .scimUsersSearch),
        Route(method: "POST", template: "/scim/v2/Groups/.search", scope: .scim, endpoint: .scimGroupsSearch),
        Route(method: "GET", template: "/scim/v2/Users", scope: .scim, endpoint: .scimUsers),
        Route(method: "POST", template: "/scim/v2/Users", scope: .scim, endpoint: .scimUsers),
        Route(method: "GET", template: "/scim/v2/Users/{id}", scope: .scim, endpoint: .scimUser),
        Route(method: "PUT", template: "/scim/v2/Users/{id}", scope: .scim, endpoint: .scimUser),
        Route(method: "PATCH", template: "/scim/v2/Users/{id}", scope: .scim, endpoint: .scimUser),
        Route(method: "DELETE", template: "/scim/v2/Users/{id}", scope: .scim, endpoint: .scimUser),
        Route(method: "GET", template: "/scim/v2/Groups", scope: .scim, endpoint: .scimGroups),
        Route(method: "POST", template: "/scim/v2/Groups", scope: .scim, endpoint: .scimGroups),
        Route(method: "GET", template: "/scim/v2/Groups/{id}", scope: .scim, endpoint: .scimGroup),
        Route(method: "PUT", template: "/scim/v2/Groups/{id}", scope: .scim, endpoint: .scimGroup),
        Route(method: "PATCH", template: "/scim/v2/Groups/{id}", scope: .scim, endpoint: .scimGroup),
        Route(method: "DELETE", template: "/scim/v2/Groups/{id}", scope: .scim, endpoint: .scimGroup),
    ]

    /// The template's parameters from the decoded segments, or nil when they do not fit.
    func match(_ decoded: [String]) -> [String: String]? {
        guard pattern.count == decoded.count else { return nil }
        var parameters: [String: String] = [:]
        for (p, s) in zip(pattern, decoded) {
            switch p {
            case .parameter(let name):
                guard !s.isEmpty else { return nil }
                parameters[name] = s
            case .literal(let text):
                guard text == s else { return nil }
            }
        }
        return parameters
    }
}

/// A request's path taken apart: the tenant of `/t/NAME/…` when the process serves several,
/// and each remaining segment percent-decoded on its own, so that `%2F` stays inside its
/// segment and never splits one.
package struct RequestPath: Sendable, Equatable {
    package var tenant: String?
    package var segments: [String]

    package enum Problem: Error, Equatable { case notAbsolute, badEncoding, controlCharacter }

    package init(_ raw: String, tenants: Bool) throws(Problem) {
        guard raw.hasPrefix("/") else { throw .notAbsolute }
        var parts = try raw.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { s throws(Problem) in try Self.decode(s) }
        tenant = nil
        if tenants, parts.count >= 2, parts[0] == "t" {
            tenant = parts[1]
            parts.removeFirst(2)
        }
        segments = parts
    }

    /// `%XX` decoded; the result must be UTF-8 without control characters (names, ids).
    static func decode(_ segment: Substring) throws(Problem) -> String {
        // Most segments have no escape: checked in place, not copied byte by byte.
        if !segment.utf8.contains(UInt8(ascii: "%")) {
            guard !segment.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw .controlCharacter }
            return String(segment)
        }
        var out: [UInt8] = []
        let bytes = Array(segment.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let h = HexDigit.value(bytes[i + 1]), let l = HexDigit.value(bytes[i + 2]) else { throw .badEncoding }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw .badEncoding }
        guard !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { throw .controlCharacter }
        return s
    }
}
