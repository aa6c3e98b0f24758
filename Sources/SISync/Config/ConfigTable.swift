import Foundation

/// Every key of sisync.conf, one line each: section, name, field, default, parser.
/// Adding a key is a line here, its entry in man/sisync.conf.5 (PackagingTests fails
/// without it) and its comment in config/sisync.conf. Rules between keys (auth needs its
/// files, OneRoster carries no per-entity URL, a standby needs PostgreSQL) stay in
/// `Configuration.parse`, after every line is read.
extension ConfigKey {
    /// The order of the sections is the manual page's and the unknown-section message's.
    public static let table: [ConfigKey] = sync + source + linking + guardKeys + portal + api + events + webhooks

    static let sync: [ConfigKey] = [
        .key("sync", "database", \.database, default: "/var/lib/sisync/sisync.db") { l throws(ConfigError) in
            let value = try l.nonEmpty()
            guard PostgresTarget.isURI(value) else { return l.resolved(value) }
            try Configuration.checkPostgresURI(value, file: l.file, line: l.entry.line)
            return value
        },
        .key("sync", "database_schema", \.databaseSchema, default: PostgresStoreSettings.defaultSchema) { l throws(ConfigError) in
            guard PostgresSchema.isValidName(l.value) else { throw l.bad("a schema name of lower-case letters, digits and _ (at most 63), starting with a letter") }
            return l.value
        },
        .key("sync", "database_password_file", \.databasePasswordFile) { l throws(ConfigError) in l.optional() },
        .key("sync", "interval", \.interval, default: "15m") { l throws(ConfigError) in try l.duration(atLeast: 1) },
        .key("sync", "school_year", \.schoolYear, default: "auto") { l throws(ConfigError) in try schoolYear(l) },
        .key("sync", "school_year_start", \.schoolYearStart, default: "07-01") { l throws(ConfigError) in try schoolYearStart(l) },
        .key("sync", "max_deactivate_percent", \.guardSettings.deactivate.percent, default: "10") { l throws(ConfigError) in
            try l.onlySpellingOfGuardKey(); return try l.percentage()
        },
        .key("sync", "max_deactivate_count", \.guardSettings.deactivate.count, default: "5") { l throws(ConfigError) in
            try l.onlySpellingOfGuardKey(); return try l.count()
        },
        .key("sync", "max_invalid_rows", \.maxInvalidRows, default: "1%") { l throws(ConfigError) in
            guard let limit = InvalidRowLimit(parsing: l.value) else { throw l.bad("a count such as 10 or a percentage such as 1%") }
            return limit
        },
        .key("sync", "on_staff_deactivated", \.onStaffDeactivated, default: "keep") { l throws(ConfigError) in try l.oneOf(StaffDeactivationPolicy.self) },
        .key("sync", "history_days", \.historyDays, default: "400") { l throws(ConfigError) in try l.integer(1...100_000) },
        .key("sync", "deactivate_after", \.deactivateAfter, default: "0h") { l throws(ConfigError) in try l.duration() },
        .key("sync", "hold_deactivations", \.holdDeactivations) { l throws(ConfigError) in try holdDeactivations(l) },
        .key("sync", "metrics_file", \.metricsFile) { l throws(ConfigError) in l.optionalPath() },
        .key("sync", "standby", \.standby, default: "false") { l throws(ConfigError) in try l.boolean() },
        .key("sync", "standby_poll", \.standbyPoll, default: "10s") { l throws(ConfigError) in try l.duration(atLeast: 1) },
    ]

    static let source: [ConfigKey] = [
        .key("source", "format", \.format, default: "csv") { l throws(ConfigError) in try l.oneOf(SourceFormat.self) },
        .key("source", "url", \.url) { l throws(ConfigError) in
            let url = try l.sourceURL()
            return url.isEmpty ? nil : l.resolved(url)
        },
        .pattern("source", "ENTITY_url", spellings: EntityKind.allCases.map { $0.rawValue + "_url" },
                 matches: { $0.hasSuffix("_url") && EntityKind(rawValue: String($0.dropLast(4))) != nil }) { (l, c) throws(ConfigError) in
            let url = try l.sourceURL()
            if !url.isEmpty { c.entityURLs[EntityKind(rawValue: String(l.entry.key.dropLast(4)))!] = l.resolved(url) }
        },
        .key("source", "entities", \.entities, default: EntityKind.allCases.map(\.rawValue).joined(separator: ", ")) { l throws(ConfigError) in
            try entities(l)
        },
        .key("source", "schools", \.schoolScope) { l throws(ConfigError) in
            let ids = l.list()
            guard !ids.isEmpty, ids.allSatisfy({ !$0.contains(";") }) else { throw l.bad("one or more school ids, comma-separated (101, 102)") }
            return SchoolScope(schools: Set(ids))
        },
        .key("source", "auth", \.auth, default: "none") { l throws(ConfigError) in try l.oneOf(SourceAuth.self) },
        .key("source", "token_file", \.tokenFile) { l throws(ConfigError) in l.optional() },
        .key("source", "username", \.username) { l throws(ConfigError) in l.optional() },
        .key("source", "password_file", \.passwordFile) { l throws(ConfigError) in l.optional() },
        .key("source", "token_url", \.tokenURL) { l throws(ConfigError) in try l.sourceURL().isEmpty ? nil : l.value },
        .key("source", "client_id", \.clientID) { l throws(ConfigError) in l.optional() },
        .key("source", "client_secret_file", \.clientSecretFile) { l throws(ConfigError) in l.optional() },
        .key("source", "scope", \.scope) { l throws(ConfigError) in l.optional() },
        .key("source", "page_size", \.pageSize, default: "1000") { l throws(ConfigError) in try l.integer(1...100_000) },
        .key("source", "timeout", \.timeout, default: "60s") { l throws(ConfigError) in try l.duration(atLeast: 1) },
        .key("source", "retries", \.retries, default: "3") { l throws(ConfigError) in try l.integer(0...20) },
        .key("source", "max_bytes", \.maxBytes, default: "1G") { l throws(ConfigError) in
            guard let n = parseByteSize(l.value), n <= Configuration.maxBytesCap else {
                throw l.bad("a size such as 512M or 1G, at most \(Configuration.maxBytesCap / (1024 * 1024))M (the export is held in memory with 32-bit offsets)")
            }
            return n
        },
        .key("source", "ca_file", \.caFile) { l throws(ConfigError) in l.optionalPath() },
    ]

    static let linking: [ConfigKey] = [
        .key("linking", "email_domain_aliases", \.emailDomainAliases) { l throws(ConfigError) in try emailDomainAliases(l) },
        .key("linking", "parent_relationships", \.parentRelationships, default: "Parent, Guardian") { l throws(ConfigError) in
            let names = l.list().map { $0.lowercased() }
            guard !names.isEmpty else { throw l.bad("a comma-separated list such as Parent, Guardian") }
            return names
        },
    ]

    static let guardKeys: [ConfigKey] = [
        .key("guard", "max_deactivate_percent", \.guardSettings.deactivate.percent, default: "10") { l throws(ConfigError) in
            try l.onlySpellingOfGuardKey(); return try l.percentage()
        },
        .key("guard", "max_deactivate_count", \.guardSettings.deactivate.count, default: "5") { l throws(ConfigError) in
            try l.onlySpellingOfGuardKey(); return try l.count()
        },
        .pattern("guard", "ENTITY.max_deactivate_percent", spellings: EntityKind.allCases.map { $0.rawValue + ".max_deactivate_percent" },
                 matches: { entity(in: $0, before: ".max_deactivate_percent") != nil }) { (l, c) throws(ConfigError) in
            c.guardSettings.entityPercent[entity(in: l.entry.key, before: ".max_deactivate_percent")!] = try l.percentage()
        },
        .pattern("guard", "ENTITY.max_deactivate_count", spellings: EntityKind.allCases.map { $0.rawValue + ".max_deactivate_count" },
                 matches: { entity(in: $0, before: ".max_deactivate_count") != nil }) { (l, c) throws(ConfigError) in
            c.guardSettings.entityCount[entity(in: l.entry.key, before: ".max_deactivate_count")!] = try l.count()
        },
        .key("guard", "per_school", \.guardSettings.perSchool, default: "false") { l throws(ConfigError) in try l.boolean() },
        .key("guard", "per_school_min", \.guardSettings.perSchoolMin, default: "10") { l throws(ConfigError) in try l.count() },
        .key("guard", "max_unlink_percent", \.guardSettings.unlink.percent, default: "10") { l throws(ConfigError) in try l.percentage() },
        .key("guard", "max_unlink_count", \.guardSettings.unlink.count, default: "20") { l throws(ConfigError) in try l.count() },
        .key("guard", "max_revoke_percent", \.guardSettings.revoke.percent, default: "20") { l throws(ConfigError) in try l.percentage() },
        .key("guard", "max_revoke_count", \.guardSettings.revoke.count, default: "50") { l throws(ConfigError) in try l.count() },
        .key("guard", "held_plan_days", \.guardSettings.heldPlanDays, default: "7") { l throws(ConfigError) in try l.integer(1...3650) },
        .key("guard", "rekey", \.guardSettings.rekey, default: "hold") { l throws(ConfigError) in try l.oneOf(RekeyMode.self) },
        .key("guard", "rekey_min_share", \.guardSettings.rekeyMinShare, default: "50") { l throws(ConfigError) in try l.percentage() },
    ]

    /// The entity of `students.max_deactivate_percent`, nil for a key that is not one.
    static func entity(in key: String, before suffix: String) -> EntityKind? {
        key.hasSuffix(suffix) ? EntityKind(rawValue: String(key.dropLast(suffix.count))) : nil
    }
}
