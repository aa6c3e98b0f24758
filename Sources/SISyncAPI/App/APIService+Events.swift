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
    /// with `head` for a cursor older than what is kept. With `wait`, an empty page is not
    /// answered yet: the request is parked (`context.later`, no thread waits for it) until
    /// something newer that `types` takes commits or the wait ends; 503 with `Retry-After`
    /// when `longPolls` are all taken.
    func events(_ request: HTTPRequest, _ context: inout RequestContext) throws -> HTTPResponse {
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
        let tenant = context.tenant!
        let page = try Self.eventPage(tenant, after: after, limit: limit, filter: filter)
        guard page.events.isEmpty, wait > 0 else { return Self.rendered(page) }
        guard longPolls.admit() else {
            throw Problem.busy(retryAfter: 1, "\(longPolls.slots) long polls wait already, the most this sisync-api parks; ask again after Retry-After seconds, or without `wait`")
        }
        let asked = context
        context.later = tenant.waiter.park(after: page.next, until: context.now.addingTimeInterval(Double(wait))) { [self] cursor, final in
            do {
                let page = try Self.eventPage(tenant, after: cursor, limit: limit, filter: filter)
                if page.events.isEmpty && !final { return .wait(after: page.next) }
                return .answer(stamped(Self.rendered(page), asked))
            } catch {
                return .answer(answer(to: error, asked))
            }
        }
        return Self.rendered(page)
    }

    /// One page of the feed; a cursor the feed no longer has (or never had) is 410 with the head.
    private static func eventPage(_ tenant: APITenant, after cursor: Int64, limit: Int, filter: EventTypeFilter) throws -> EventPage {
        do {
            return try tenant.pool.withStore { try $0.events.events(after: cursor, limit: limit, filter: filter) }
        } catch let e as EventFeedError {
            switch e {
            case .pruned, .beyondHead:
                throw Problem(410, "cursor-gone", "The cursor is no longer in the feed", "\(e)", members: [("head", .int(e.head ?? 0))])
            case .unknownType:
                throw Problem.badRequest("\(e)")
            }
        }
    }

    private static func rendered(_ page: EventPage) -> HTTPResponse {
        let body = "{\"events\":[" + page.events.map(\.json).joined(separator: ",") + "],\"next\":\(page.next),\"head\":\(page.head)}"
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }
}
