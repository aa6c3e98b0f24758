/// What the server calls for each complete, bounded request. It runs on the server's worker
/// threads, several at once, so it holds no actor-isolated state: each call gets what it
/// needs (a store connection per thread, a lock for shared counters) by itself.
package protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) -> HTTPResponse
}
