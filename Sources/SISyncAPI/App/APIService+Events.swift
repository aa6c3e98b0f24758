import Foundation
import SISync

/// `GET /v1/events`: the change feed by cursor (docs/events.md), read like the other reads:
/// no run lock, never a write.
extension APIService {
    /// Events per page when `limit` is not given, and the most a page holds.
    static let defaultEventLimit = 100, maxEventLimit = 1000
    /// The longest `wait` a request may ask for.
    static let maxEventWait = 60

    /// `?after=CURSOR&limit=N&types=a,b.*&wait=30s` → `{"events": […], "next", "head"}`; 410
    /// with `head` for a cursor older than what is kept. With `wait`, an empty page waits
    /// until something newer commits (or the wait ends) and is then read again.
    func events(_ request: HTTPRequest, tenant: APITenant) throws -> HTTPResponse {
        let q = try Self.strictQuery(request, allowed: ["after", "limit", "types", "wait"])
        let after = try q["after"].map { text throws(Problem) -> Int64 in
            guard let n = Int64(text), n >= 0 else { throw Problem.badRequest("query parameter `after` takes an event id (0 or more), not `\(text.prefix(40))`") }
            return n
        } ?? 0
        let limit = try q["limit"].map { text throws(Problem) -> Int in
            guard let n = Int(text), (1...Self.maxEventLimit).contains(n) else {
                throw Problem.badRequest("query parameter `limit` takes 1 to \(Self.maxEventLimit), not `\(text.prefix(40))`")
            }
            return n
        } ?? Self.defaultEventLimit
        let wait = try q["wait"].map { text throws(Problem) -> Int in
            let digits = text.hasSuffix("s") ? String(text.dropLast()) : text
            guard let n = Int(digits), (0...Self.maxEventWait).contains(n) else {
                throw Problem.badRequest("query parameter `wait` takes 0s to \(Self.maxEventWait)s, not `\(text.prefix(40))`")
            }
            return n
        } ?? 0
        let filter: EventTypeFilter
        do { filter = try EventTypeFilter(parsing: q["types"] ?? "") } catch { throw Problem.badRequest("query parameter `types`: \(error)") }
        do {
            var page = try tenant.pool.withStore { try $0.events.events(after: after, limit: limit, filter: filter) }
            if page.events.isEmpty, wait > 0 {
                let cursor = page.next
                _ = try longPolls.run {
                    let newer = try tenant.pool.withStore { try $0.events.waitForEvents(after: cursor, timeout: Double(wait)) }
                    if newer { page = try tenant.pool.withStore { try $0.events.events(after: cursor, limit: limit, filter: filter) } }
                }
            }
            let body = "{\"events\":[" + page.events.map(\.json).joined(separator: ",") + "],\"next\":\(page.next),\"head\":\(page.head)}"
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        } catch let e as EventFeedError {
            switch e {
            case .pruned, .beyondHead:
                throw Problem(410, "cursor-gone", "The cursor is no longer in the feed", "\(e)", members: [("head", .int(e.head ?? 0))])
            case .unknownType:
                throw Problem.badRequest("\(e)")
            }
        }
    }
}
