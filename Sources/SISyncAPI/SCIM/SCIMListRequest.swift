import SISync

/// What a list asks (RFC 7644 §3.4.2): `filter`, `startIndex`, `count`, `attributes`,
/// `excludedAttributes`, from a GET's query or from the body of a `POST …/.search`
/// (§3.4.3, a SearchRequest): both are then read by the same code. Values stay as the query
/// would carry them, so that each is checked in one place (`SCIMUserQuery`,
/// `SCIMProjection`).
package struct SCIMListRequest: Sendable, Equatable {
    package static let searchSchema = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

    package var filter: String?
    package var startIndex: String?
    package var count: String?
    package var attributes: String?
    package var excludedAttributes: String?

    package init(filter: String? = nil, startIndex: String? = nil, count: String? = nil, attributes: String? = nil, excludedAttributes: String? = nil) {
        self.filter = filter
        self.startIndex = startIndex
        self.count = count
        self.attributes = attributes
        self.excludedAttributes = excludedAttributes
    }

    /// A GET's query parameters.
    init(query request: HTTPRequest) {
        self.init(filter: request.queryValue("filter"), startIndex: request.queryValue("startIndex"), count: request.queryValue("count"),
                  attributes: request.queryValue("attributes"), excludedAttributes: request.queryValue("excludedAttributes"))
    }

    /// A SearchRequest body. `sortBy` is refused (`/ServiceProviderConfig` says sort is not
    /// supported), as is anything that is not the type RFC 7644 gives it.
    package init(searchBody body: JSONValue) throws(SCIMError) {
        guard case .object = body else { throw .invalidSyntax("the body of a .search must be a JSON object (a SearchRequest)") }
        if let schemas = body[scim: "schemas"] {
            guard case .array(let items) = schemas, items.contains(where: { $0.stringValue == Self.searchSchema }) else {
                throw .invalidSyntax("`schemas` of a .search must be [\"\(Self.searchSchema)\"]")
            }
        }
        if let sort = body[scim: "sortBy"], sort != .null { throw .invalidValue("sisync does not sort (ServiceProviderConfig: sort not supported); leave out `sortBy`") }
        filter = try SCIMUser.optionalString(body[scim: "filter"], "filter")
        startIndex = try Self.number(body[scim: "startIndex"], "startIndex")
        count = try Self.number(body[scim: "count"], "count")
        attributes = try Self.names(body[scim: "attributes"], "attributes")
        excludedAttributes = try Self.names(body[scim: "excludedAttributes"], "excludedAttributes")
    }

    private static func number(_ v: JSONValue?, _ name: String) throws(SCIMError) -> String? {
        switch v {
        case nil, .null?: return nil
        case .int(let n)?: return String(n)
        default: throw .invalidValue("`\(name)` must be a whole number")
        }
    }

    /// `["userName", "emails"]` as the query's `userName,emails`.
    private static func names(_ v: JSONValue?, _ name: String) throws(SCIMError) -> String? {
        switch v {
        case nil, .null?: return nil
        case .array(let items)?:
            var out: [String] = []
            for item in items {
                guard let s = item.stringValue, !s.contains(",") else { throw .invalidValue("`\(name)` is an array of attribute names") }
                out.append(s)
            }
            return out.isEmpty ? nil : out.joined(separator: ",")
        default: throw .invalidValue("`\(name)` is an array of attribute names")
        }
    }
}
