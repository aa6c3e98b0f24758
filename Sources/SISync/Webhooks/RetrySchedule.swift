/// When a failed delivery is tried again (docs/events.md, "Webhooks"): exponential backoff
/// with full jitter. The wait before the n-th retry is a random share of `first × 2^(n−1)`,
/// capped at `retry_max`: 1 s, 2 s, 4 s … 5 min by default, each drawn anew from 0 up to
/// it, so that many endpoints failing at once do not retry in step.
public struct RetrySchedule: Sendable {
    public var first: Double
    public var cap: Double

    public init(first: Double = 1, cap: Double) {
        self.first = first
        self.cap = cap
    }

    /// The longest wait after `failures` failures in a row (1 or more).
    public func ceiling(after failures: Int) -> Double {
        let exponent = min(max(failures - 1, 0), 40)
        return min(cap, first * Double(1 << UInt64(exponent)))
    }

    /// The wait, with `share` in 0...1 (random in the deliverer: full jitter).
    public func wait(after failures: Int, share: Double) -> Double {
        ceiling(after: failures) * min(max(share, 0), 1)
    }
}
