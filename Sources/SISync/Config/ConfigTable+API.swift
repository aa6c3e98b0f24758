/// `[api]`'s keys: what `sisync-api` reads (sisyncd reads and ignores them).
extension ConfigKey {
    static let api: [ConfigKey] = [
        .key("api", "listen", \.api.listen, default: "127.0.0.1:8420") { l throws(ConfigError) in
            let addresses = try l.list().map { (text: String) throws(ConfigError) -> APIListenAddress in
                guard let a = APIListenAddress(parsing: text) else { throw l.bad("addresses such as 127.0.0.1:8420, [::1]:8420 or unix:/run/sisync/api.sock") }
                return a
            }
            guard !addresses.isEmpty else { throw l.bad("at least one address") }
            return addresses
        },
        .key("api", "tls_certificate", \.api.tlsCertificate) { l throws(ConfigError) in l.optionalPath() },
        .key("api", "tls_key", \.api.tlsKey) { l throws(ConfigError) in l.optionalPath() },
        .key("api", "insecure_http", \.api.insecureHTTP, default: "false") { l throws(ConfigError) in try l.boolean() },
        .key("api", "trusted_proxies", \.api.trustedProxies) { l throws(ConfigError) in l.list() },
        .key("api", "write_wait", \.api.writeWait, default: "5s") { l throws(ConfigError) in try l.duration() },
        .key("api", "max_failures_per_minute", \.api.maxFailuresPerMinute, default: "10") { l throws(ConfigError) in try l.integer(1...100_000) },
        .key("api", "access_log", \.api.accessLog, default: "errors") { l throws(ConfigError) in try l.oneOf(APIAccessLog.self) },
        .key("api", "max_connections", \.api.maxConnections, default: "1024") { l throws(ConfigError) in try l.integer(1...65_536) },
        .key("api", "max_connections_per_client", \.api.maxConnectionsPerClient, default: "128") { l throws(ConfigError) in try l.integer(1...65_536) },
    ]
}
