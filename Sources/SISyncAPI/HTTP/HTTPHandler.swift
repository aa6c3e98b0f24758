/// What the server calls for each complete, bounded request. It runs on the server's worker
/// threads, several at once, so it holds no actor-isolated state: each call gets what it
/// needs (a store connection per thread, a lock for shared counters) by itself.
package protocol HTTPHandler: Sendable {
    /// The answer, waiting for it when it comes later (tests, the fuzz harness).
    func handle(_ request: HTTPRequest) -> HTTPResponse
    /// The answer, or a promise of one (a long poll): the server then parks the connection
    /// and no worker thread waits for it. By default the answer of `handle`.
    func respond(_ request: HTTPRequest) -> HTTPOutcome
}

extension HTTPHandler {
    package func respond(_ request: HTTPRequest) -> HTTPOutcome { .answer(handle(request)) }
}

/// What a handler gives the server for a request.
package enum HTTPOutcome: Sendable {
    case answer(HTTPResponse)
    /// Answered later, from another thread (`HTTPPendingAnswer.complete`).
    case later(HTTPPendingAnswer)
}
