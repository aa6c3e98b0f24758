import Foundation
import SISync

/// The parked long polls of one tenant (`GET /v1/events?wait=`) and the one thread that
/// wakes them: it waits for the head of the feed to pass the lowest parked cursor (PostgreSQL
/// `LISTEN sisync_events`; on SQLite a look at the head every 0.1 s) or for the nearest
/// deadline, then settles the polls it concerns. A poll whose events a `types` filter
/// skipped moves its cursor and stays parked. The thread runs only while something is
/// parked, and holds one store of the pool meanwhile; the requests hold no thread at all.
final class LongPollWaiter: @unchecked Sendable {
    /// What a poll says when asked: its answer, or to wait on past a new cursor.
    enum Settlement {
        case answer(HTTPResponse)
        case wait(after: Int64)
    }

    /// Reads the page after the cursor and answers, or says to wait on; `final` (the
    /// deadline passed, the server stops, the store failed) must answer.
    typealias Settle = @Sendable (_ cursor: Int64, _ final: Bool) -> Settlement

    private struct Poll {
        let answer: HTTPPendingAnswer
        var cursor: Int64
        let deadline: Date
        let settle: Settle
        var hurried = false
    }

    private let pool: StorePool
    private let limit: LongPollLimit
    private let lock = NSLock()
    private var polls: [Int: Poll] = [:]
    private var nextID = 0
    private var running = false
    /// Set when a poll is parked or hurried: the waiting thread looks again at once.
    private var changed = false
    /// The longest the thread waits before it looks at its polls again (a poll parked
    /// with a lower cursor, a hurry, a client gone are also seen through `changed`).
    static let slice: Double = 0.5
    /// Its thread's name (15 bytes, what Linux keeps), seen in `top -H` and by the tests.
    static let threadName = "sisync-api-poll"

    init(pool: StorePool, limit: LongPollLimit) {
        self.pool = pool
        self.limit = limit
    }

    /// The polls parked now (for the tests: a poll gone with its client must leave).
    var count: Int { lock.withLock { polls.count } }

    /// Parks a poll whose page after `cursor` was empty, in a slot of `limit` the caller
    /// took (given back when the poll leaves).
    func park(after cursor: Int64, until deadline: Date, settle: @escaping Settle) -> HTTPPendingAnswer {
        lock.lock()
        let id = nextID
        nextID += 1
        let answer = HTTPPendingAnswer(hurry: { [weak self] in self?.hurry(id) })
        polls[id] = Poll(answer: answer, cursor: cursor, deadline: deadline, settle: settle)
        changed = true
        let start = !running
        running = true
        lock.unlock()
        if start {
            Thread.detachNewThread { [self] in
                // Foundation's Thread.name does not reach Linux; the thread's own comm file does.
                try? Self.threadName.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
                run()
            }
        }
        return answer
    }

    private func leave(_ id: Int) {
        lock.withLock { _ = polls.removeValue(forKey: id) }
        limit.release()
    }

    private func hurry(_ id: Int) {
        lock.withLock {
            polls[id]?.hurried = true
            changed = true
        }
    }

    private func run() {
        while true {
            let next = lock.withLock { () -> (cursor: Int64, deadline: Date)? in
                guard !polls.isEmpty else { running = false; return nil }
                changed = false
                return (polls.values.map(\.cursor).min()!, polls.values.map { $0.hurried ? .distantPast : $0.deadline }.min()!)
            }
            guard let next else { return }
            let span = min(Self.slice, max(0, next.deadline.timeIntervalSinceNow))
            // nil when the store fails: every poll then answers (its own read fails too and
            // says so), so a store that is down never makes the thread spin.
            let head: Int64? = try? pool.withStore { store in
                _ = try store.events.waitForEvents(after: next.cursor, timeout: span, stopping: { [self] in lock.withLock { changed } })
                return try store.events.head()
            }
            let now = Date()
            let due = lock.withLock {
                polls.filter { _, p in p.answer.isAnswered || p.hurried || p.deadline <= now || head.map { p.cursor < $0 } ?? true }
            }
            for (id, p) in due {
                if p.answer.isAnswered {
                    leave(id)
                    continue
                }
                switch p.settle(p.cursor, p.hurried || p.deadline <= now || head == nil) {
                case .answer(let r):
                    // Gone before it is answered: a client that has its answer finds the slot free.
                    leave(id)
                    p.answer.complete(r)
                case .wait(let cursor):
                    lock.withLock { polls[id]?.cursor = max(cursor, p.cursor) }
                }
            }
        }
    }
}
