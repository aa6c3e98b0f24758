/// One request as the server read it, bounded before it gets here (body, headers, URL):
/// what an endpoint needs and nothing of the C library, so the service can be tested (and
/// fuzzed) by calling it with values.
package struct HTTPRequest: Sendable, Equatable {
    package var method: String
    /// The path as sent, percent-encoding intact (`/v1/users/j%20doe`); the router decodes
    /// each segment, so an encoded `/` cannot split one.
    package var path: String
    /// The query string's pairs, decoded, in order (a name may repeat).
    package var query: [(name: String, value: String)]
    /// Header names in lower case, in order.
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// Who is asking: the peer, or the first untrusted address of `X-Forwarded-For` when
    /// the peer is a trusted proxy.
    package var client: HTTPClient

    package init(method: String, path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
                 body: [UInt8] = [], client: HTTPClient = .unixSocket) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.client = client
    }

    /// The first value of a header (names compare in lower case).
    package func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    package func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    package static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.path == b.path && a.body == b.body && a.client == b.client
            && a.query.elementsEqual(b.query, by: { $0 == $1 }) && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }
}

/// Where a request came from, for the access log, the per-address limits and throttling.
package enum HTTPClient: Sendable, Equatable, CustomStringConvertible {
    case address(String)
    case unixSocket

    package var description: String {
        switch self {
        case .address(let a): return a
        case .unixSocket: return "unix"
        }
    }
}
