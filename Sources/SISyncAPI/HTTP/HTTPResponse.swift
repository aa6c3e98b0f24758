/// One answer: status, headers and the whole body (every answer of the API is small JSON).
package struct HTTPResponse: Sendable, Equatable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// For the access log and the metrics, set by the endpoints: the route's template
    /// (`/v1/users/{username}`, never the path, which holds names) and the API client's name.
    package var route: String?
    package var clientName: String?

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], route: String? = nil, clientName: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.route = route
        self.clientName = clientName
    }

    package func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    package static func == (a: HTTPResponse, b: HTTPResponse) -> Bool {
        a.status == b.status && a.body == b.body && a.route == b.route && a.clientName == b.clientName && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }
}
