/// `[webhook.NAME]`'s keys, one section per endpoint (docs/events.md, "Webhooks").
extension ConfigKey {
    /// A key of every `[webhook.NAME]` section, setting the named endpoint's settings.
    private static func webhook(_ name: String, _ read: @escaping @Sendable (ConfigLine, inout WebhookSettings) throws(ConfigError) -> Void) -> ConfigKey {
        .pattern("webhook.NAME", name, spellings: [name], matches: { $0 == name }) { (l, c) throws(ConfigError) in
            let endpoint = String(l.entry.section.dropFirst("webhook.".count))
            try read(l, &c.webhooks[endpoint, default: WebhookSettings(name: endpoint)])
        }
    }

    static let webhooks: [ConfigKey] = [
        webhook("url") { (l, w) throws(ConfigError) in
            guard WebhookSettings.isAllowed(l.value) else {
                throw l.bad("an https:// URL (http:// only to 127.0.0.1, ::1 or localhost): the events go to it")
            }
            w.url = l.value
        },
        webhook("secret_file") { (l, w) throws(ConfigError) in w.secretFile = try l.nonEmpty() },
        webhook("types") { (l, w) throws(ConfigError) in
            do { w.types = try EventTypeFilter(parsing: l.value) } catch { throw l.bad("event types or prefixes such as staff.*,link.created (docs/events.md): \(error)") }
        },
        webhook("max_lag") { (l, w) throws(ConfigError) in w.maxLag = try l.duration(atLeast: 1) },
        webhook("give_up_after") { (l, w) throws(ConfigError) in w.giveUpAfter = try l.duration(atLeast: 1) },
        webhook("retry_max") { (l, w) throws(ConfigError) in w.retryMax = try l.duration(atLeast: 1) },
    ]
}
