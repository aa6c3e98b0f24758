import Foundation

/// At most `slots` long polls (`GET /v1/events?wait=`) wait at once. A waiting request holds
/// one of libmicrohttpd's worker threads (a bounded blocking wait, not a suspended
/// connection), so waits must never take every worker from the other routes: a request
/// past the limit is answered at once with what there is, and the client polls again.
package final class LongPollLimit: @unchecked Sendable {
    package let slots: Int
    private let lock = NSLock()
    private var waiting = 0

    /// The requests waiting now.
    package var count: Int { lock.withLock { waiting } }

    /// Half of the server's default workers (`HTTPServerLimits.threads`: twice the cores).
    package init(slots: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)) {
        self.slots = max(0, slots)
    }

    /// Runs `body` in a slot and returns true, or returns false without running it.
    package func run(_ body: () throws -> Void) rethrows -> Bool {
        let admitted = lock.withLock { () -> Bool in
            guard waiting < slots else { return false }
            waiting += 1
            return true
        }
        guard admitted else { return false }
        defer { lock.withLock { waiting -= 1 } }
        try body()
        return true
    }
}
