/// What keeps a webhook endpoint from being delivered to, with what to do.
public enum WebhookError: Error, Equatable, CustomStringConvertible {
    /// The secret file cannot be used.
    case secret(endpoint: String, path: String, reason: String)
    /// `sisyncctl webhook resume NAME` of a name no `[webhook.NAME]` has.
    case noSuchEndpoint(String, configured: [String])

    public var description: String {
        switch self {
        case .secret(let endpoint, let path, let reason):
            return "[webhook.\(endpoint)] secret_file \(path): \(reason); the file holds one whsec_… secret per line (two while one is rotated)"
        case .noSuchEndpoint(let name, let configured):
            return "no [webhook.\(name)] in the configuration" + (configured.isEmpty ? "" : "; the endpoints are \(configured.joined(separator: ", "))")
        }
    }
}
