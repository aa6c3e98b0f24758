import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The source's secrets, read from files only (README, "Configuration"): `token_file`, `password_file`,
/// `client_secret_file`. Relative names are looked up in `$CREDENTIALS_DIRECTORY`
/// (systemd `LoadCredential=`), or in `/etc/credstore/` outside the service. A file others
/// can read is used, with a warning.
public struct SourceCredentials {
    public let configuration: Configuration
    public let environment: [String: String]
    public let log: EventLog?
    /// `/etc/credstore` (tests give another).
    public let credentialStore: String

    public init(configuration: Configuration, environment: [String: String] = ProcessInfo.processInfo.environment, log: EventLog?,
                credentialStore: String = ExportFetcher.credentialStore) {
        self.configuration = configuration
        self.environment = environment
        self.log = log
        self.credentialStore = credentialStore
    }

    /// The trimmed contents of the secret file named by `key`.
    public func secret(_ name: String, key: String) throws(FetchError) -> String {
        let path = ExportFetcher.credentialPath(name, environment: environment, store: credentialStore)
        guard let data = FileManager.default.contents(atPath: path) else {
            let outside = !name.hasPrefix("/") && (environment["CREDENTIALS_DIRECTORY"] ?? "").isEmpty
            throw .credential(path: path, key: key, reason: outside
                ? "missing or unreadable (a relative name is looked up in $CREDENTIALS_DIRECTORY under systemd, and in \(credentialStore)/ outside it; run sisyncctl as root or give an absolute path)"
                : Self.notLoaded(name, environment: environment) ?? "missing or unreadable")
        }
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & 0o004 != 0 {
            log?.log(LogEvent(.fetchFailed, .warning, "\(path) ([source] \(key)) is readable by every user on this machine; chmod 600 it, or use LoadCredential="))
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw .credential(path: path, key: key, reason: "the file is empty") }
        return value
    }
}

extension SourceCredentials {
    /// The names `systemd/sisync.service` loads with `LoadCredential=` (issue 26 item 13).
    public static let unitCredentials = ["sis-token", "sis-password", "sis-client-secret", "pg-password"]

    /// Why a secret is "missing or unreadable", and what to do: a relative `name` the service
    /// did not receive is a file missing from the credential store, or one its unit does not
    /// load (systemd skips a `LoadCredential=` whose file is missing, so the unit started).
    /// Nil outside the service or for an absolute path.
    static func notLoaded(_ name: String, environment: [String: String]) -> String? {
        guard !name.hasPrefix("/"), !(environment["CREDENTIALS_DIRECTORY"] ?? "").isEmpty else { return nil }
        let loading = unitCredentials.contains(name)
            ? "sisync.service loads it from there (sisync-tenants.service needs LoadCredential=\(name) in a drop-in, systemctl edit)"
            : "the unit needs LoadCredential=\(name) in a drop-in (systemctl edit; sisync.service loads only \(unitCredentials.joined(separator: ", ")))"
        return "missing: systemd did not hand the service a credential \(name). Put it in \(ExportFetcher.credentialStore)/\(name) "
            + "(root, mode 0600); \(loading); then restart the service"
    }
}

/// OAuth 2.0 access tokens, kept for the life of the process until shortly before they
/// expire, so a daemon asks the token endpoint once per token, not once per file.
public final class OAuthTokenCache: @unchecked Sendable {
    public static let shared = OAuthTokenCache()
    private let lock = NSLock()
    private var tokens: [String: (token: String, expires: Date)] = [:]

    func token(for key: String, now: Date) -> String? {
        lock.withLock { tokens[key].flatMap { $0.expires > now ? $0.token : nil } }
    }

    func store(_ token: String, for key: String, expires: Date) { lock.withLock { tokens[key] = (token, expires) } }

    func forget(_ key: String) { _ = lock.withLock { tokens.removeValue(forKey: key) } }
}
