import SISync

/// An RFC 7644 §3.12 error document: what every SCIM route answers when it refuses, with
/// the `scimType` a provider acts on (`uniqueness`: the user exists; `mutability`: leave
/// the attribute out) and a `detail` for the person reading the provider's log.
package struct SCIMError: Error, Sendable, Equatable {
    package enum Kind: String, Sendable {
        case invalidFilter, tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget, invalidValue, invalidVers, sensitive
    }

    package var status: Int
    package var scimType: Kind?
    package var detail: String
    package var headers: [(name: String, value: String)] = []

    package init(_ status: Int, _ scimType: Kind? = nil, _ detail: String, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
        self.headers = headers
    }

    package static func == (a: SCIMError, b: SCIMError) -> Bool {
        a.status == b.status && a.scimType == b.scimType && a.detail == b.detail
    }

    package static let schema = "urn:ietf:params:scim:api:messages:2.0:Error"

    /// RFC 7644 §3.12: `status` is a string.
    package var document: JSONValue {
        var members: [(String, JSONValue)] = [("schemas", .array([.string(Self.schema)])), ("status", .string(String(status)))]
        if let scimType { members.append(("scimType", .string(scimType.rawValue))) }
        members.append(("detail", .string(detail)))
        return .object(members)
    }

    static func invalidValue(_ detail: String) -> SCIMError { SCIMError(400, .invalidValue, detail) }
    static func invalidSyntax(_ detail: String) -> SCIMError { SCIMError(400, .invalidSyntax, detail) }
    static func mutability(_ detail: String) -> SCIMError { SCIMError(400, .mutability, detail) }
    static func invalidPath(_ detail: String) -> SCIMError { SCIMError(400, .invalidPath, detail) }
    static func invalidFilter(_ detail: String) -> SCIMError { SCIMError(400, .invalidFilter, detail) }
    static func notFound(_ detail: String) -> SCIMError { SCIMError(404, nil, detail) }
}
