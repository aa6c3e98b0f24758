/// `[api]`: how `sisync-api` listens and what it allows. The daemon reads the section too
/// (one file for both services) and ignores it, so a key mistyped here fails both alike.
public struct APISettings: Sendable, Equatable {
    /// Where to listen outside systemd (`--listen` replaces it; a socket systemd hands over
    /// wins over both).
    public var listen: [APIListenAddress] = [.tcp(host: "127.0.0.1", port: 8420)]
    /// PEM files (systemd credentials in the shipped unit). Both or neither.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Plain HTTP on an address other than loopback: refused unless this says so, since
    /// tokens and passwords would cross the network readable.
    public var insecureHTTP = false
    /// Reverse proxies whose `X-Forwarded-For` is believed and which the per-address
    /// connection limit leaves alone (addresses or CIDR blocks).
    public var trustedProxies: [String] = []
    /// How long a write waits for a run that holds the run lock before 503 (R9).
    public var writeWait = ConfigDuration(seconds: 5)
    /// Failed logins (and, separately, failed pairings) a client may cause per minute, over
    /// every process sharing the store, before 429.
    public var maxFailuresPerMinute = 10
    public var accessLog: APIAccessLog = .errors
    /// Open connections in all, and from one address (a proxy or the unix socket excepted).
    public var maxConnections = 1024
    public var maxConnectionsPerClient = 128

    public init() {}
}

/// Which requests `sisync-api` writes to the journal. Not every request by default:
/// journald drops entries past its rate limit (about 330 a second), sisyncd's with them.
public enum APIAccessLog: String, Sendable, CaseIterable {
    case errors, all, off
}

/// One address `sisync-api` listens on: `127.0.0.1:8420`, `[::1]:8420` or `unix:/run/sisync/api.sock`.
public enum APIListenAddress: Sendable, Equatable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    public init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/"), path.utf8.count < 108, !path.contains("\0") else { return nil }
            self = .unix(path: path)
            return
        }
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard !host.contains(":") else { return nil }
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }),
              let p = Int(port), (1...65535).contains(p) else { return nil }
        self = .tcp(host: String(host), port: p)
    }

    /// Loopback and unix sockets may carry plain HTTP behind a reverse proxy; any other
    /// address needs TLS or `insecure_http = true`.
    public var isLocal: Bool {
        switch self {
        case .unix: return true
        case .tcp(let host, _): return host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:" + path
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
