/// Where one endpoint's delivery stands (`webhook_state`): what `sisyncctl webhook list`
/// shows and the deliverer continues from.
public struct WebhookState: Sendable, Equatable {
    public var name: String
    /// The last event id the endpoint acknowledged (or that its `types` skipped).
    public var deliveredThrough: Int64
    public var deliveredAt: String?
    /// Failed attempts in a row (the backoff's exponent).
    public var failures: Int
    public var failingSince: String?
    public var lastError: String?
    /// Set when it failed past `give_up_after`: nothing is sent until it is resumed.
    public var pausedAt: String?
}
