import Foundation

/// At most (cores − 1, at least 1) password hashes at once (issue 30): a hash is slow on
/// purpose, and logins must never take every core from the reads. A few more logins may
/// wait briefly for a turn; beyond that, or past the wait, they are turned away (503).
package final class PasswordHashingLimit: @unchecked Sendable {
    package let slots: Int
    package let waiting: Int
    package let wait: TimeInterval
    private let semaphore: DispatchSemaphore
    private let lock = NSLock()
    private var queued = 0

    package init(slots: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1), waiting: Int? = nil, wait: TimeInterval = 2) {
        self.slots = max(1, slots)
        self.waiting = waiting ?? self.slots
        self.wait = wait
        semaphore = DispatchSemaphore(value: self.slots)
    }

    /// Runs `body` in a turn, or returns nil when none came in time.
    package func run<T>(_ body: () throws -> T) rethrows -> T? {
        if semaphore.wait(timeout: .now()) != .success {
            let admitted = lock.withLock { () -> Bool in
                guard queued < waiting else { return false }
                queued += 1
                return true
            }
            guard admitted else { return nil }
            let got = semaphore.wait(timeout: .now() + wait) == .success
            lock.withLock { queued -= 1 }
            guard got else { return nil }
        }
        defer { semaphore.signal() }
        return try body()
    }
}
