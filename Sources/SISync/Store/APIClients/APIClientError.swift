/// Why an API client could not be added, found or revoked: what happened and what to do.
public enum APIClientError: Error, Equatable, CustomStringConvertible, Sendable {
    case unknownScope(String)
    case invalidName(String)
    case exists(String)
    case noSuchClient(String)

    public var description: String {
        switch self {
        case .unknownScope(let s):
            return "`\(s)` is not an API scope; use a comma-separated list of \(APIScope.allCases.map(\.rawValue).joined(separator: ", "))"
        case .invalidName(let n):
            return "`\(n)` cannot name an API client: use 1 to 64 letters, digits, '.', '-' or '_' (the change log shows it as api:NAME)"
        case .exists(let n):
            return "an API client named `\(n)` already exists; revoke it first (sisyncctl api client revoke \(n)) to give it a new token"
        case .noSuchClient(let n):
            return "no API client `\(n)`; `sisyncctl api client list` shows them"
        }
    }
}
