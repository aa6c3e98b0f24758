import SISync

/// Plain HTTP only on loopback and unix sockets (issue 30): elsewhere tokens and passwords
/// would cross the network readable. TLS (`[api] tls_certificate`, `tls_key`) or
/// `insecure_http = true` lifts it. Judged on what the kernel says each socket is bound to,
/// so that it holds for a socket systemd hands over as for `[api] listen` and `--listen`.
package enum PlainHTTPRule {
    /// Where a socket's address was chosen, for the message.
    package enum Origin: Equatable, Sendable {
        case configuration(file: String, line: Int)
        case commandLine
        case systemd
    }

    /// The refusal for the first socket that breaks the rule, or nil.
    package static func refusal(_ sockets: [(bound: ListenSocket.BoundAddress, origin: Origin)], tls: Bool, insecureHTTP: Bool,
                                configPath: String) -> String? {
        guard !tls, !insecureHTTP, let bad = sockets.first(where: { !$0.bound.isLocal }) else { return nil }
        let source: String
        switch bad.origin {
        case .configuration(let file, let line): source = "\(file):\(line): [api] listen = \(bad.bound)"
        case .commandLine: source = "--listen \(bad.bound)"
        case .systemd: source = "the socket systemd passed (\(bad.bound); ListenStream= in sisync-api.socket)"
        }
        return "\(source): sisync-api refuses plain HTTP on an address other than loopback, since bearer tokens and passwords "
            + "would cross the network readable. Set [api] tls_certificate and tls_key in \(configPath), or listen on 127.0.0.1 "
            + "or a unix socket behind a reverse proxy that terminates TLS, or, on a network you trust, set [api] insecure_http = true"
    }
}
