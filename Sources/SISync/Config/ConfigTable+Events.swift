/// `[events]`'s keys: the change feed (docs/events.md).
extension ConfigKey {
    static let events: [ConfigKey] = [
        .key("events", "enabled", \.events.enabled, default: "false") { l throws(ConfigError) in try l.boolean() },
        .key("events", "keep_days", \.events.keepDays, default: "90") { l throws(ConfigError) in try l.integer(1...100_000) },
        .key("events", "max_events", \.events.maxEvents) { l throws(ConfigError) in
            l.value.isEmpty ? nil : try l.integer(1...Int(Int64.max / 2))
        },
        .key("events", "once_deliver", \.events.onceDeliver, default: "30s") { l throws(ConfigError) in try l.duration() },
    ]
}
