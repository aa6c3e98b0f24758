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
    /// A URL the server named (`what`: a next link, a redirect) that leaves the origin of
    /// `[source] url`, or cannot be read for certain: not requested (issue 26 item 4).
    case offOrigin(url: String, what: String, link: String, origin: String)
    /// The OAuth token endpoint answered with a redirect, which is not followed: following
    /// a 307/308 would send the client secret again, to wherever it points.
    case tokenRedirected(url: String, status: Int, location: String?)
    /// The pages of a OneRoster API together exceed `max_bytes`.
    case tooLargeInTotal(url: String, limit: Int64)
    /// The last problem after several attempts.
    indirect case afterAttempts(Int, FetchError)

    /// What happened, with every URL in it shown as `DisplayedURL` does (secrets masked).
    public var description: String { DisplayedURL.redacting(in: text) }

    private var text: String {
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
            return "\(url): the export is larger than max_bytes (\(limit) bytes); raise [source] max_bytes (at most \(Configuration.maxBytesCap / (1024 * 1024))M) if this is expected"
        case .unsupportedURL(let url):
            return "\(url): unsupported URL scheme; use a path, file://, http:// or https://"
        case .credential(let path, let key, let reason):
            return "\(path): cannot read the file named by [source] \(key): \(reason)"
        case .aborted(let url):
            return "\(url): transfer aborted: the run was asked to stop (SIGTERM or SIGINT)"
        case .unexpectedBody(let url, let type, let bytes, let start):
            let size = bytes >= 1024 ? String(format: "%.1f KiB", Double(bytes) / 1024) : "\(bytes) bytes"
            return "\(url): got \(type), \(size), starting `\(start)`; is the token valid? (an HTML page is usually a login page of a proxy or SSO in front of the SIS)"
        case .notModifiedUnexpectedly(let url):
            return "\(url): the server answered 304 Not Modified for a file the database no longer holds as it was; run `sisyncctl sync --force` once to download every file"
        case .noAccessToken(let url, let type, let bytes):
            return "\(url): the OAuth token endpoint answered \(type), \(bytes) bytes, without an access_token; check [source] token_url, client_id, scope and the client secret file"
        case .offOrigin(let url, let what, let link, let origin):
            return "\(url): the server's \(what) `\(link)` leaves \(origin), where [source] url points (or cannot be read for certain); sisync requests nothing outside it, so no credential went there and nothing was applied"
        case .tokenRedirected(let url, let status, let location):
            return "\(url): the OAuth token endpoint answered HTTP \(status), a redirect\(location.map { " to \($0)" } ?? ""); sisync does not follow it (the client secret would be sent again); set [source] token_url to the endpoint's own address"
        case .tooLargeInTotal(let url, let limit):
            return "\(url): the pages of the OneRoster API together are larger than max_bytes (\(limit) bytes); raise [source] max_bytes (at most \(Configuration.maxBytesCap / (1024 * 1024))M) if this is expected"
        case .afterAttempts(let n, let last):
            return "\(last.text) (after \(n) attempts)"
        }
    }

    /// Whether `max_bytes` stopped the transfer (at once or after other attempts).
    var isTooLarge: Bool {
        if case .tooLarge = self { return true }
        if case .afterAttempts(_, let last) = self { return last.isTooLarge }
        return false
    }

    /// Whether the problem is with the configuration (exit 78) rather than the source (69).
    public var isConfigurationProblem: Bool {
        if case .credential = self { return true }
        if case .afterAttempts(_, let last) = self { return last.isConfigurationProblem }
        return false
    }
}
