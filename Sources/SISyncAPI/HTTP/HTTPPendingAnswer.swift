import Foundation

/// An answer that is not there yet: a long poll waiting for the next event. Whoever produces
/// the answer calls `complete`; the server, which parked the connection meanwhile, is told
/// through `whenAnswered` and resumes it. The first answer counts, so the server may also
/// answer itself (a client gone, a stop that cannot wait longer) and the producer's later
/// answer is dropped.
package final class HTTPPendingAnswer: @unchecked Sendable {
    private let lock = NSLock()
    private var answer: HTTPResponse?
    private var listener: (@Sendable (HTTPResponse) -> Void)?
    private let hurry: @Sendable () -> Void

    /// `hurry` asks the producer to answer now with what it has (the server is stopping, or
    /// the client went away); it must return at once and answer from its own thread.
    package init(hurry: @escaping @Sendable () -> Void) {
        self.hurry = hurry
    }

    package var isAnswered: Bool { lock.withLock { answer != nil } }

    /// Gives the answer, unless one was given already. True when this one counts.
    @discardableResult
    package func complete(_ response: HTTPResponse) -> Bool {
        let tell = lock.withLock { () -> (@Sendable (HTTPResponse) -> Void)?? in
            guard answer == nil else { return .none }
            answer = response
            return .some(listener)
        }
        guard case .some(let listener) = tell else { return false }
        listener?(response)
        return true
    }

    /// Calls `body` with the answer once it is given: at once when it is already there,
    /// else on the thread that gives it. One listener.
    package func whenAnswered(_ body: @escaping @Sendable (HTTPResponse) -> Void) {
        let now = lock.withLock { () -> HTTPResponse? in
            if let answer { return answer }
            listener = body
            return nil
        }
        if let now { body(now) }
    }

    /// Waits for the answer (the producer's own deadline bounds the wait).
    package func wait() -> HTTPResponse {
        let given = DispatchSemaphore(value: 0)
        whenAnswered { _ in given.signal() }
        given.wait()
        return lock.withLock { answer! }
    }

    package func hurryUp() { hurry() }
}
