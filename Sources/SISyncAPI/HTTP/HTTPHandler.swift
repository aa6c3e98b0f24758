/// What the server calls for each complete, bounded request. It runs on the server's worker
/// threads, several at once, so it holds no actor-isolated state: each call gets what it
/// needs (a store connection per thread, a lock for shared counters) by itself.
package protocol HTTPHandler: Sendable {
    /// The answer, waiting for it when it comes later (tests, the fuzz harness).
    func handle(_ request: HTTPRequest) -> HTTPResponse
    /// The answer, or a promise of one (a long poll): the server then parks the connection
    /// and no worker thread waits for it. By default the answer of `handle`.
    func respond(_ request: HTTPRequest) -> HTTPOutcome
    /// What the server answers on its own to a request for `path` that never reaches
    /// `respond` (too large, malformed, too many waiting, stopping): a client reads it in the
    /// error format of the routes it called, so a handler whose routes speak another one
    /// (SCIM's RFC 7644 documents) shapes it. By default an RFC 9457 problem document.
    func transportAnswer(status: Int, title: String, detail: String, path: String) -> HTTPResponse
}

extension HTTPHandler {
    package func respond(_ request: HTTPRequest) -> HTTPOutcome { .answer(handle(request)) }

    package func transportAnswer(status: Int, title: String, detail: String, path: String) -> HTTPResponse {
        TransportProblem.response(status, title, detail)
    }
}

/// What a handler gives the server for a request.
package enum HTTPOutcome: Sendable {
    case answer(HTTPResponse)
    /// Answered later, from another thread (`HTTPPendingAnswer.complete`).
    case later(HTTPPendingAnswer)
}
