import Foundation

/// One `[webhook.NAME]` section: an endpoint the change feed's events are posted to, one
/// event per request, signed per the Standard Webhooks specification (docs/events.md).
public struct WebhookSettings: Sendable, Equatable {
    /// NAME of `[webhook.NAME]`: how `sisyncctl webhook` and the journal call it.
    public var name: String
    /// https, or http to a loopback address only; redirects are not followed.
    public var url = ""
    /// A credential name looked up as `token_file` is; the file holds a `whsec_…` secret
    /// per line (two while one is rotated).
    public var secretFile = ""
    /// The event types this endpoint gets (empty: all).
    public var types = EventTypeFilter()
    /// Past this lag (the oldest undelivered event's age): a warning.
    public var maxLag = ConfigDuration(seconds: 15 * 60)
    /// An endpoint failing this long is paused until `sisyncctl webhook resume`.
    public var giveUpAfter = ConfigDuration(seconds: 3 * 86_400)
    /// The longest wait between two attempts (the backoff doubles from 1 s up to this).
    public var retryMax = ConfigDuration(seconds: 5 * 60)

    public init(name: String) { self.name = name }

    /// Whether `url` may be posted to: https anywhere, plain http only to this machine
    /// (the body is signed, not secret; a loopback receiver is a local relay).
    public static func isAllowed(_ url: String) -> Bool {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty else { return false }
        if scheme == "https" { return true }
        guard scheme == "http" else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }
}
