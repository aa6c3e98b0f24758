import Foundation

/// At most `slots` long polls (`GET /v1/events?wait=`) are parked at once, in all the
/// process's tenants. A parked poll holds no worker thread (the server suspends its
/// connection), only its connection and a few hundred bytes, so the bound is about memory
/// and descriptors; past it a request gets 503 with `Retry-After` rather than an empty page
/// at once, which a client would ask again at once.
package final class LongPollLimit: @unchecked Sendable {
    package let slots: Int
    private let lock = NSLock()
    private var waiting = 0

    /// The polls parked now.
    package var count: Int { lock.withLock { waiting } }

    /// Half of `[api] max_connections`' default: the other half stays for the other routes.
    package init(slots: Int = 512) {
        self.slots = max(0, slots)
    }

    /// Takes a slot: true, or false when all are taken.
    package func admit() -> Bool {
        lock.withLock {
            guard waiting < slots else { return false }
            waiting += 1
            return true
        }
    }

    /// Gives back a slot `admit` took.
    package func release() {
        lock.withLock { waiting = max(0, waiting - 1) }
    }
}
