import Foundation

/// When to try a download again (README, "Configuration", fetching over HTTP(S)): `retries` more attempts for connection
/// errors, timeouts, 5xx and 429; exponential backoff from 1 s capped at 60 s with full
/// jitter, or the server's `Retry-After` (also capped at 60 s). Pure, so it is tested
/// without waiting.
public struct RetryPolicy: Sendable {
    public var retries: Int
    public var cap: TimeInterval = 60

    public init(retries: Int) { self.retries = retries }

    /// Whether an HTTP status is worth another attempt.
    public static func isRetryable(status: Int) -> Bool { status == 429 || (500...599).contains(status) }

    /// Seconds to wait before attempt `attempt + 1` (attempt 1 is the first try).
    public func delay(afterAttempt attempt: Int, retryAfter: String?, now: Date = Date(),
                      random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> TimeInterval {
        if let retryAfter, let seconds = Self.seconds(retryAfter: retryAfter, now: now) {
            return min(max(0, seconds), cap)
        }
        let ceiling = min(cap, pow(2, Double(attempt - 1)))
        return random(0...ceiling)
    }

    /// `Retry-After` as delta-seconds or an HTTP date.
    static func seconds(retryAfter: String, now: Date) -> TimeInterval? {
        let text = retryAfter.trimmingCharacters(in: .whitespaces)
        if let n = Double(text) { return n }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: text).map { $0.timeIntervalSince(now) }
    }
}
