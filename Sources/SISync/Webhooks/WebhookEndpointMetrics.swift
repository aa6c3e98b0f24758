import Foundation

/// What the metrics file says about one `[webhook.NAME]` endpoint (docs/events.md,
/// "Metrics and alerts"): how far behind it is, in events and in seconds, the last event it
/// acknowledged, its failures in a row and whether it is paused. Its `max_lag` goes with
/// them, so that the alert compares the lag with each endpoint's own limit.
public struct WebhookEndpointMetrics: Sendable, Equatable {
    public var endpoint: String
    /// The last event id it acknowledged (or that its `types` skipped).
    public var deliveredThrough: Int64
    /// Event ids after it up to the feed's head (what `sisyncctl webhook list` calls behind).
    public var lagEvents: Int64
    /// The age of the oldest event it has not acknowledged; 0 when caught up.
    public var lagSeconds: Double
    public var failures: Int
    public var paused: Bool
    public var maxLagSeconds: Double

    public init(endpoint: String, deliveredThrough: Int64, lagEvents: Int64, lagSeconds: Double, failures: Int, paused: Bool, maxLagSeconds: Double) {
        self.endpoint = endpoint
        self.deliveredThrough = deliveredThrough
        self.lagEvents = lagEvents
        self.lagSeconds = lagSeconds
        self.failures = failures
        self.paused = paused
        self.maxLagSeconds = maxLagSeconds
    }

    /// Where one endpoint's delivery stands in `store`, at `now`. An endpoint the deliverer
    /// has not seen yet starts at the head (nothing behind). `oldestPending` is when the
    /// oldest event it has not acknowledged happened, nil when there is none to show:
    /// `sisyncctl webhook list` tells "no lag" (`-`) from a lag of 0 s by it; the metrics
    /// file says 0 for both.
    public static func measure(_ settings: WebhookSettings, store: RosterStore, head: Int64, now: Date) throws
        -> (metrics: WebhookEndpointMetrics, state: WebhookState?, oldestPending: Date?) {
        let state = try store.webhooks.state(settings.name)
        let through = state?.deliveredThrough ?? head
        // A cursor pruned away has no oldest event to show (the endpoint is paused for it).
        let oldest = (try? store.events.events(after: through, limit: 1, filter: settings.types).events.first?.at).flatMap { $0 }.flatMap(Timestamp.parse)
        let lag = oldest.map { max(0, now.timeIntervalSince($0).rounded(.down)) } ?? 0
        let metrics = WebhookEndpointMetrics(endpoint: settings.name, deliveredThrough: through, lagEvents: max(0, head - through), lagSeconds: lag,
                                             failures: state?.failures ?? 0, paused: state?.pausedAt != nil, maxLagSeconds: settings.maxLag.seconds)
        return (metrics, state, oldest)
    }

    /// The metric families for `endpoints`, labelled `endpoint`; nothing when there are none
    /// (a daemon without `[webhook.NAME]`, or a standby, writes no webhook series).
    public static func text(_ endpoints: [WebhookEndpointMetrics]) -> String {
        guard !endpoints.isEmpty else { return "" }
        let sorted = endpoints.sorted { $0.endpoint < $1.endpoint }
        func samples(_ value: (WebhookEndpointMetrics) -> Double) -> [(labels: String, value: Double)] {
            sorted.map { (MetricsFile.labels([("endpoint", $0.endpoint)]), value($0)) }
        }
        return MetricsFile.family("sisync_webhook_delivered_event_id", "The last event id the endpoint acknowledged (or its types skipped).", "gauge",
                                  samples { Double($0.deliveredThrough) })
            + MetricsFile.family("sisync_webhook_lag_events", "Event ids after the last one the endpoint acknowledged, up to the feed's head.", "gauge",
                                 samples { Double($0.lagEvents) })
            + MetricsFile.family("sisync_webhook_lag_seconds", "The age of the oldest event the endpoint has not acknowledged (0 when caught up).", "gauge",
                                 samples { $0.lagSeconds })
            + MetricsFile.family("sisync_webhook_max_lag_seconds", "The endpoint's [webhook.NAME] max_lag.", "gauge", samples { $0.maxLagSeconds })
            + MetricsFile.family("sisync_webhook_failures", "Failed attempts in a row (0 after an acknowledged event).", "gauge", samples { Double($0.failures) })
            + MetricsFile.family("sisync_webhook_paused", "1 while the endpoint is paused (failing past give_up_after) until sisyncctl webhook resume.", "gauge",
                                 samples { $0.paused ? 1 : 0 })
    }
}
