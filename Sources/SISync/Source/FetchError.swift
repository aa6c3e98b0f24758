/// Why an export could not be fetched. Any of these fails the run with exit 69 (78 for a
/// credential file problem); a failed fetch is never read as an empty roster.
public enum FetchError: Error, Equatable, CustomStringConvertible, Sendable {
    case unreadableFile(path: String, reason: String)
    case transfer(url: String, code: Int, message: String)
    case httpStatus(url: String, status: Int)
    case tooLarge(url: String, limit: Int64)
    case unsupportedURL(url: String)
    case credential(path: String, key: String, reason: String)
    case aborted(url: String)
    /// An HTML page or a body that cannot be the configured format (an SSO login page...).
    case unexpectedBody(url: String, contentType: String, bytes: Int64, start: String)
    /// A 304 for a file the database no longer mirrors (its validators are stale).
    case notModifiedUnexpectedly(url: String)
    /// The OAuth token endpoint answered without an access token.
    case noAccessToken(url: String, contentType: String, bytes: Int64)
    /// The last problem after several attempts.
    indirect case afterAttempts(Int, FetchError)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read the export: \(reason); check [source] url and that the file exists"
        case .transfer(let url, let code, let message):
            return "\(url): transfer failed (curl error \(code)): \(message)"
        case .httpStatus(let url, let status):
            if status == 401 || status == 403 {
                return "\(url): the server answered HTTP \(status); check the credential ([source] auth and its token or password file)"
            }
            return "\(url): the server answered HTTP \(status)"
        case .tooLarge(let url, let limit):
            return "\(url): the export is larger than max_bytes (\(limit) bytes); raise [source] max_bytes if this is expected"
        case .unsupportedURL(let url):
            return "\(url): unsupported URL scheme; use a path, file://, http:// or https://"
        case .credential(let path, let key, let reason):
            return "\(path): cannot read the file named by [source] \(key): \(reason)"
        case .aborted(let url):
            return "\(url): transfer aborted because the daemon is stopping"
        case .unexpectedBody(let url, let type, let bytes, let start):
            let size = bytes >= 1024 ? String(format: "%.1f KiB", Double(bytes) / 1024) : "\(bytes) bytes"
            return "\(url): got \(type), \(size), starting `\(start)`; is the token valid? (an HTML page is usually a login page of a proxy or SSO in front of the SIS)"
        case .notModifiedUnexpectedly(let url):
            return "\(url): the server answered 304 Not Modified for a file the database no longer holds as it was; run `sisyncctl sync --force` once to download every file"
        case .noAccessToken(let url, let type, let bytes):
            return "\(url): the OAuth token endpoint answered \(type), \(bytes) bytes, without an access_token; check [source] token_url, client_id, scope and the client secret file"
        case .afterAttempts(let n, let last):
            return "\(last) (after \(n) attempts)"
        }
    }

    /// Whether the problem is with the configuration (exit 78) rather than the source (69).
    public var isConfigurationProblem: Bool {
        if case .credential = self { return true }
        if case .afterAttempts(_, let last) = self { return last.isConfigurationProblem }
        return false
    }
}
