/// `[events]`: the change feed (issue 31, docs/events.md). Off by default: a district that
/// consumes no events writes none and pays nothing for them.
public struct EventSettings: Sendable, Equatable {
    /// `[events] enabled`.
    public var enabled = false
    /// Events older than this many days are pruned after runs.
    public var keepDays = 90
    /// At most this many events are kept (the oldest go first); nil: no cap.
    public var maxEvents: Int?
    /// How long `sisyncd --once` delivers pending webhooks before it exits.
    public var onceDeliver = ConfigDuration(seconds: 30)
    /// Whether any `[webhook.NAME]` is configured (set by the configuration reader).
    public var hasWebhooks = false

    public init(enabled: Bool = false, keepDays: Int = 90, maxEvents: Int? = nil) {
        self.enabled = enabled
        self.keepDays = keepDays
        self.maxEvents = maxEvents
    }

    /// Whether changes are written as events: `enabled`, or (issue 31's push part) any
    /// `[webhook.NAME]`, which needs the log to deliver from.
    public var isOn: Bool { enabled || hasWebhooks }
}
