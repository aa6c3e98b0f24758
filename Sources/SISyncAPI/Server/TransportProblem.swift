import SISync

/// The answers the server gives on its own, before a request reaches the handler: RFC 9457
/// problem documents like the endpoints' (what failed and what to do), never an HTML page.
package enum TransportProblem {
    package static func response(_ status: Int, _ title: String, _ detail: String) -> HTTPResponse {
        let body = JSONValue.object([
            ("type", .string("about:blank")), ("title", .string(title)), ("status", .int(status)), ("detail", .string(detail)),
        ]).rendered(pretty: false)
        return HTTPResponse(status: status, headers: [("Content-Type", "application/problem+json")], body: Array(body.utf8))
    }

    /// Written straight to the socket of a connection cut for slowness (libmicrohttpd is not
    /// writing to it then: it still waits for the request), before the connection is shut.
    static let timeoutBytes: [UInt8] = {
        let r = response(408, "Request Timeout", "the request did not arrive in time; send the headers within 10 s and the whole request within 30 s")
        let head = "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\nContent-Length: \(r.body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + r.body
    }()
}
