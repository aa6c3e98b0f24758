import SISync

/// An RFC 9457 problem document: every error the API answers (`application/problem+json`),
/// saying what failed and what to do. `type` names the kind of problem (docs/api.md lists
/// them); `detail` is for the person reading the application's log.
package struct Problem: Error, Sendable, Equatable {
    package var status: Int
    package var type: String
    package var title: String
    package var detail: String
    /// Extra headers: `WWW-Authenticate`, `Retry-After`, `Allow`.
    package var headers: [(name: String, value: String)] = []
    /// Extension members after `detail` (RFC 9457 §3.2): what a client acts on, such as the
    /// feed's `head` in a 410.
    package var members: [(String, JSONValue)] = []

    package init(_ status: Int, _ kind: String, _ title: String, _ detail: String, headers: [(name: String, value: String)] = [],
                 members: [(String, JSONValue)] = []) {
        self.status = status
        self.type = Self.typePrefix + kind
        self.title = title
        self.detail = detail
        self.headers = headers
        self.members = members
    }

    package static let typePrefix = "urn:sisync:problem:"

    package static func == (a: Problem, b: Problem) -> Bool {
        a.status == b.status && a.type == b.type && a.detail == b.detail && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }

    package var response: HTTPResponse {
        let body = JSONValue.object([("type", .string(type)), ("title", .string(title)), ("status", .int(status)), ("detail", .string(detail))] + members)
        return HTTPResponse(status: status, headers: [("Content-Type", "application/problem+json")] + headers, body: Array(body.rendered(pretty: false).utf8))
    }

    // The problems more than one endpoint answers.

    static func badRequest(_ detail: String) -> Problem {
        Problem(400, "bad-request", "The request is malformed", detail)
    }

    static func notFound(_ detail: String) -> Problem {
        Problem(404, "not-found", "Not found", detail)
    }

    /// The one answer for no token and a wrong token alike.
    static let unauthorized = Problem(401, "unauthorized", "A valid bearer token is needed",
                                      "send `Authorization: Bearer TOKEN` with the token `sisyncctl api client add` printed for this application",
                                      headers: [("WWW-Authenticate", "Bearer realm=\"sisync\"")])

    static func busy(retryAfter seconds: Int, _ detail: String) -> Problem {
        Problem(503, "busy", "Try again shortly", detail, headers: [("Retry-After", String(max(1, seconds)))])
    }

    static func throttled(retryAfter seconds: Int, _ detail: String) -> Problem {
        Problem(429, "too-many-failures", "Too many failures", detail, headers: [("Retry-After", String(max(1, seconds)))])
    }

    static let storeUnavailable = Problem(503, "store-unavailable", "The store does not answer",
                                          "sisync-api could not read its store; the journal of sisync-api says why (MESSAGE_ID of api_failed). Try again later",
                                          headers: [("Retry-After", "5")])
}
