import Foundation

/// Which kind of export the SIS provides.
public enum SourceFormat: String, Sendable, CaseIterable {
    case csv, json
    case oneRosterCSV = "oneroster-csv"
    case oneRosterREST = "oneroster-rest"
}

/// How sisync proves its identity to the SIS.
public enum SourceAuth: String, Sendable, CaseIterable {
    case none, bearer, basic, oauth2
}

/// What happens to users linked to a staff member the SIS no longer lists.
public enum StaffDeactivationPolicy: String, Sendable, CaseIterable {
    case keep, unapprove
}

/// The current school year: fixed in the config, or derived from the date.
public enum SchoolYearSetting: Sendable, Equatable {
    case auto
    case fixed(String)
}

/// The whole validated configuration. Built once from `sisync.conf`; a reload builds a
/// new one and keeps the old one if the new file is invalid.
public struct Configuration: Sendable {
    public var path: String
    // [sync]
    public var database: String = "/var/lib/sisync/sisync.db"
    /// The PostgreSQL schema that holds sisync's tables (`[sync] database_schema`).
    public var databaseSchema: String = PostgresStoreSettings.defaultSchema
    /// The PostgreSQL password's file (`[sync] database_password_file`); nil: `.pgpass`.
    public var databasePasswordFile: String?
    public var interval = ConfigDuration(seconds: 900)
    public var schoolYear: SchoolYearSetting = .auto
    public var schoolYearStart: (month: Int, day: Int) = (7, 1)
    /// `[guard]` (R5): the thresholds that hold a run for review.
    public var guardSettings = GuardSettings()
    public var maxInvalidRows: InvalidRowLimit = .percent(1)
    public var onStaffDeactivated: StaffDeactivationPolicy = .keep
    public var historyDays: Int = 400
    public var deactivateAfter = ConfigDuration(seconds: 0)
    /// `[sync] hold_deactivations`: windows of the year in which absent records are only
    /// marked missing.
    public var holdDeactivations: [DeactivationHold] = []
    public var metricsFile: String?
    /// Wait as a hot standby when another sisyncd holds the database (PostgreSQL only).
    public var standby = false
    /// How often a standby tries to take the database over.
    public var standbyPoll = ConfigDuration(seconds: 10)
    // [source]
    public var format: SourceFormat = .csv
    public var url: String?
    public var entities: [EntityKind] = EntityKind.allCases
    public var auth: SourceAuth = .none
    public var tokenFile: String?
    public var username: String?
    public var passwordFile: String?
    public var tokenURL: String?
    public var clientID: String?
    public var clientSecretFile: String?
    public var scope: String?
    public var entityURLs: [EntityKind: String] = [:]
    /// `[portal]`: what parent letters say besides the student and the code.
    public var portal = PortalSettings()
    /// `[source] schools`: only these schools' records are managed (nil: every school).
    public var schoolScope: SchoolScope?
    public var pageSize: Int = 1000
    public var timeout = ConfigDuration(seconds: 60)
    public var retries: Int = 3
    public var maxBytes: Int64 = 1024 * 1024 * 1024
    /// The largest `max_bytes`: 4095M, just under 4 GiB. An export is held in memory with
    /// 32-bit offsets (`EntityRows`, `KeyIndex`); a larger one could never be read.
    public static let maxBytesCap: Int64 = 4095 * 1024 * 1024
    public var caFile: String?
    // [linking]
    public var emailDomainAliases: [String: String] = [:]
    public var parentRelationships: [String] = ["parent", "guardian"]
    /// A digest of every setting as written (not comments or order): a hold stands for one
    /// export under one configuration, and a changed threshold or alias must re-plan it.
    public var settingsDigest = ""

    /// A configuration with every default, for tests and tools.
    public init(path: String = "<defaults>") { self.path = path }

    /// Reads and validates a configuration file.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw .missingFile(path: path)
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription) (is it UTF-8 text, readable by this user?)")
        }
        return try parse(text: text, path: path)
    }

    /// Validates configuration text; relative paths are resolved against the file's directory.
    public static func parse(text: String, path: String) throws(ConfigError) -> Configuration {
        let doc = try INIDocument(path: path, text: text)
        var c = Configuration(path: path)
        var entitiesLine: Int?
        // Relative paths are relative to the configuration file's directory, made absolute so
        // that messages and `status` show where the files really are.
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ p: String) -> String {
            if p.hasPrefix("/") || p.contains("://") { return p }
            return base.isEmpty ? p : ((base as NSString).appendingPathComponent(p) as NSString).standardizingPath
        }
        for (section, line) in doc.sections where !["sync", "source", "linking", "guard", "portal"].contains(section) {
            throw .unknownSection(file: path, line: line, section: section)
        }
        var standbyLine = 0
        var urlLine = 0
        // `[sync] max_deactivate_percent`/`count` are the `[guard]` keys' old spellings: one
        // setting, so giving it in both places is an error (which one would win?).
        var guardSpellings: [String: (section: String, line: Int)] = [:]
        c.settingsDigest = SHA256.hex(of: doc.entries.map { "\($0.section)\u{1F}\($0.key)\u{1F}\($0.value)\n" }.sorted().joined().utf8)
        for e in doc.entries {
            func bad(_ expected: String) -> ConfigError {
                .badValue(file: path, line: e.line, section: e.section, key: e.key, value: e.value, expected: expected)
            }
            func duration() throws(ConfigError) -> ConfigDuration {
                guard let d = ConfigDuration(parsing: e.value) else { throw bad("a duration such as 30s, 15m or 2h, at most \(ConfigDuration.maximum)") }
                return d
            }
            func integer(_ range: ClosedRange<Int>) throws(ConfigError) -> Int {
                guard let n = Int(e.value), range.contains(n) else {
                    throw bad("a whole number from \(range.lowerBound) to \(range.upperBound)")
                }
                return n
            }
            func nonEmpty() throws(ConfigError) -> String {
                guard !e.value.isEmpty else { throw bad("a value") }
                return e.value
            }
            func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws(ConfigError) -> T where T.RawValue == String {
                guard let v = T(rawValue: e.value.lowercased()) else {
                    throw bad("one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return v
            }
            func percentage() throws(ConfigError) -> Double {
                guard let p = Double(e.value.hasSuffix("%") ? String(e.value.dropLast()) : e.value), p >= 0, p <= 100 else {
                    throw bad("a percentage from 0 to 100")
                }
                return p
            }
            func boolean() throws(ConfigError) -> Bool {
                switch e.value.lowercased() {
                case "true", "yes", "on": return true
                case "false", "no", "off": return false
                default: throw bad("true or false")
                }
            }
            func list() -> [String] {
                e.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            switch (e.section, e.key) {
            case ("sync", "database"):
                let value = try nonEmpty()
                if PostgresTarget.isURI(value) {
                    try Self.checkPostgresURI(value, file: path, line: e.line)
                    c.database = value
                } else {
                    c.database = resolve(value)
                }
            case ("sync", "database_schema"):
                guard PostgresSchema.isValidName(e.value) else { throw bad("a schema name of lower-case letters, digits and _ (at most 63), starting with a letter") }
                c.databaseSchema = e.value
            case ("sync", "database_password_file"): c.databasePasswordFile = e.value.isEmpty ? nil : e.value
            case ("sync", "interval"):
                let d = try duration()
                guard d.seconds >= 1 else { throw bad("a duration of at least 1s") }
                c.interval = d
            case ("sync", "school_year"):
                let v = e.value.lowercased()
                if v == "auto" { c.schoolYear = .auto } else {
                    let parts = v.split(separator: "-")
                    guard parts.count == 2, parts[0].count == 4, parts[1].count == 4,
                          let a = Int(parts[0]), let b = Int(parts[1]), b == a + 1 else { throw bad("`auto` or a year such as 2026-2027") }
                    c.schoolYear = .fixed(v)
                }
            case ("sync", "school_year_start"):
                let parts = e.value.split(separator: "-")
                guard parts.count == 2, let m = Int(parts[0]), let d = Int(parts[1]), (1...12).contains(m), (1...31).contains(d) else {
                    throw bad("a month and day as MM-DD, such as 07-01")
                }
                c.schoolYearStart = (m, d)
            case ("sync", "max_deactivate_percent"), ("sync", "max_deactivate_count"),
                 ("guard", "max_deactivate_percent"), ("guard", "max_deactivate_count"):
                if let other = guardSpellings[e.key], other.section != e.section {
                    throw bad("the setting in one place only: [\(other.section)] \(e.key) on line \(other.line) is the same setting (its old spelling is [sync]); remove one of the two lines")
                }
                guardSpellings[e.key] = (e.section, e.line)
                if e.key == "max_deactivate_percent" { c.guardSettings.deactivate.percent = try percentage() } else { c.guardSettings.deactivate.count = try integer(0...Int(Int32.max)) }
            case ("guard", "per_school"): c.guardSettings.perSchool = try boolean()
            case ("guard", "per_school_min"): c.guardSettings.perSchoolMin = try integer(0...Int(Int32.max))
            case ("guard", "max_unlink_percent"): c.guardSettings.unlink.percent = try percentage()
            case ("guard", "max_unlink_count"): c.guardSettings.unlink.count = try integer(0...Int(Int32.max))
            case ("guard", "max_revoke_percent"): c.guardSettings.revoke.percent = try percentage()
            case ("guard", "max_revoke_count"): c.guardSettings.revoke.count = try integer(0...Int(Int32.max))
            case ("guard", "held_plan_days"): c.guardSettings.heldPlanDays = try integer(1...3650)
            case ("guard", let key) where key.hasSuffix(".max_deactivate_percent") || key.hasSuffix(".max_deactivate_count"):
                let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
                guard let kind = EntityKind(rawValue: parts[0]) else {
                    throw .unknownKey(file: path, line: e.line, section: e.section, key: e.key)
                }
                if parts[1] == "max_deactivate_percent" { c.guardSettings.entityPercent[kind] = try percentage() } else { c.guardSettings.entityCount[kind] = try integer(0...Int(Int32.max)) }
            case ("sync", "max_invalid_rows"):
                guard let l = InvalidRowLimit(parsing: e.value) else { throw bad("a count such as 10 or a percentage such as 1%") }
                c.maxInvalidRows = l
            case ("sync", "on_staff_deactivated"): c.onStaffDeactivated = try oneOf(StaffDeactivationPolicy.self)
            case ("sync", "history_days"): c.historyDays = try integer(1...100_000)
            case ("sync", "deactivate_after"): c.deactivateAfter = try duration()
            case ("sync", "hold_deactivations"):
                var holds: [DeactivationHold] = []
                for window in list() {
                    guard let hold = DeactivationHold(parsing: window) else {
                        throw bad("windows of the year as MM-DD..MM-DD, comma-separated, such as 06-15..08-31 (a window may wrap the year end: 12-20..01-05)")
                    }
                    holds.append(hold)
                }
                c.holdDeactivations = holds
            case ("sync", "metrics_file"): c.metricsFile = e.value.isEmpty ? nil : resolve(e.value)
            case ("sync", "standby"):
                c.standby = try boolean()
                standbyLine = e.line
            case ("sync", "standby_poll"):
                let d = try duration()
                guard d.seconds >= 1 else { throw bad("a duration of at least 1s") }
                c.standbyPoll = d
            case ("source", "format"): c.format = try oneOf(SourceFormat.self)
            case ("source", "url"):
                try Self.checkSourceURL(e.value, file: path, line: e.line, key: e.key)
                c.url = e.value.isEmpty ? nil : resolve(e.value)
                urlLine = e.line
            case ("source", "entities"):
                var kinds: [EntityKind] = []
                for name in list() {
                    guard let k = EntityKind(rawValue: name.lowercased()) else {
                        throw bad("a comma-separated list of " + EntityKind.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    if !kinds.contains(k) { kinds.append(k) }
                }
                guard kinds.contains(.staff) else { throw bad("a list that includes staff (staff is always required)") }
                c.entities = EntityKind.allCases.filter { kinds.contains($0) }
                entitiesLine = e.line
            case ("source", "auth"): c.auth = try oneOf(SourceAuth.self)
            case ("source", "token_file"): c.tokenFile = e.value.isEmpty ? nil : e.value
            case ("source", "username"): c.username = e.value.isEmpty ? nil : e.value
            case ("source", "password_file"): c.passwordFile = e.value.isEmpty ? nil : e.value
            case ("source", "token_url"):
                try Self.checkSourceURL(e.value, file: path, line: e.line, key: e.key)
                c.tokenURL = e.value.isEmpty ? nil : e.value
            case ("source", "client_id"): c.clientID = e.value.isEmpty ? nil : e.value
            case ("source", "client_secret_file"): c.clientSecretFile = e.value.isEmpty ? nil : e.value
            case ("source", "scope"): c.scope = e.value.isEmpty ? nil : e.value
            case ("source", "schools"):
                let ids = list()
                guard !ids.isEmpty, ids.allSatisfy({ !$0.contains(";") }) else { throw bad("one or more school ids, comma-separated (101, 102)") }
                c.schoolScope = SchoolScope(schools: Set(ids))
            case ("source", "page_size"): c.pageSize = try integer(1...100_000)
            case ("source", "timeout"):
                let d = try duration()
                guard d.seconds >= 1 else { throw bad("a duration of at least 1s") }
                c.timeout = d
            case ("source", "retries"): c.retries = try integer(0...20)
            case ("source", "max_bytes"):
                guard let n = parseByteSize(e.value), n <= Self.maxBytesCap else {
                    throw bad("a size such as 512M or 1G, at most \(Self.maxBytesCap / (1024 * 1024))M (the export is held in memory with 32-bit offsets)")
                }
                c.maxBytes = n
            case ("source", "ca_file"): c.caFile = e.value.isEmpty ? nil : resolve(e.value)
            case ("source", let key) where key.hasSuffix("_url") && EntityKind(rawValue: String(key.dropLast(4))) != nil:
                let kind = EntityKind(rawValue: String(key.dropLast(4)))!
                try Self.checkSourceURL(e.value, file: path, line: e.line, key: e.key)
                if !e.value.isEmpty { c.entityURLs[kind] = resolve(e.value) }
            case ("portal", "district_name"): c.portal.districtName = try nonEmpty()
            case ("portal", "portal_url"):
                let url = try nonEmpty()
                guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > 8, !url.contains(" ") else {
                    throw bad("the portal's address, such as https://portal.district.example.org")
                }
                c.portal.portalURL = url
            case ("portal", "contact"): c.portal.contact = try nonEmpty()
            case ("portal", "paper"): c.portal.paper = try oneOf(PortalSettings.Paper.self)
            case ("portal", "letter_template"): c.portal.letterTemplate = resolve(try nonEmpty())
            case ("portal", let key) where key.hasPrefix("school.") && key.count > 7:
                c.portal.schoolNames[String(key.dropFirst(7))] = try nonEmpty()
            case ("linking", "email_domain_aliases"):
                var aliases: [String: String] = [:]
                for pair in list() {
                    let sides = pair.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                    guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty else {
                        throw bad("a comma-separated list of `alias.domain = domain` pairs")
                    }
                    aliases[sides[0]] = sides[1]
                }
                c.emailDomainAliases = aliases
            case ("linking", "parent_relationships"):
                let names = list().map { $0.lowercased() }
                guard !names.isEmpty else { throw bad("a comma-separated list such as Parent, Guardian") }
                c.parentRelationships = names
            default:
                throw .unknownKey(file: path, line: e.line, section: e.section, key: e.key)
            }
        }
        if c.format == .oneRosterCSV || c.format == .oneRosterREST {
            // OneRoster carries people only: staff, students and their families.
            let carried = OneRosterTranslation.kinds
            if let line = entitiesLine {
                if let other = c.entities.first(where: { !carried.contains($0) }) {
                    throw .badValue(file: path, line: line, section: "source", key: "entities", value: other.rawValue,
                                    expected: "entities a OneRoster export carries: " + carried.map(\.rawValue).joined(separator: ", "))
                }
            } else {
                c.entities = carried
            }
            if let kind = c.entityURLs.keys.sorted().first {
                throw .badValue(file: path, line: 0, section: "source", key: kind.rawValue + "_url", value: c.entityURLs[kind]!,
                                expected: "no per-entity URL: a OneRoster source is one bundle or one API base url")
            }
        }
        if c.format == .csv || c.format == .oneRosterCSV {
            if c.url == nil {
                let missing = c.entities.filter { c.entityURLs[$0] == nil }
                if !missing.isEmpty && c.format == .csv {
                    throw .missingKey(file: path, section: "source", key: "url (or \(missing.map { $0.rawValue + "_url" }.joined(separator: ", ")))")
                }
                if c.format == .oneRosterCSV { throw .missingKey(file: path, section: "source", key: "url") }
            }
        } else if c.url == nil {
            throw .missingKey(file: path, section: "source", key: "url")
        }
        if c.format == .oneRosterREST, let url = c.url, SourceOrigin(url) == nil {
            throw .badValue(file: path, line: urlLine, section: "source", key: "url", value: url,
                            expected: "the http:// or https:// address of the OneRoster API, in plain ASCII (its scheme, host and port are the only place sisync sends the credential)")
        }
        if c.standby, !PostgresTarget.isURI(c.database) {
            throw .badValue(file: path, line: standbyLine, section: "sync", key: "standby", value: "true",
                            expected: "false with a SQLite database: a standby takes over through PostgreSQL's session locks (database = postgresql://…)")
        }
        switch c.auth {
        case .none: break
        case .bearer:
            if c.tokenFile == nil { throw .missingKey(file: path, section: "source", key: "token_file (needed by auth = bearer)") }
        case .basic:
            if c.username == nil { throw .missingKey(file: path, section: "source", key: "username (needed by auth = basic)") }
            if c.passwordFile == nil { throw .missingKey(file: path, section: "source", key: "password_file (needed by auth = basic)") }
        case .oauth2:
            for (k, v) in [("token_url", c.tokenURL), ("client_id", c.clientID), ("client_secret_file", c.clientSecretFile)] where v == nil {
                throw .missingKey(file: path, section: "source", key: "\(k) (needed by auth = oauth2)")
            }
        }
        return c
    }

    /// Where the store lives, as `[sync] database`, `database_schema` and
    /// `database_password_file` say.
    public var store: StoreLocation {
        StoreLocation(database: database, schema: databaseSchema, passwordFile: databasePasswordFile)
    }

    /// A source URL with a user name or password before the host is refused: it would be
    /// written into messages and sent to any host a redirect names. `auth = basic` keeps
    /// the password in a file and gives it only to the configured host.
    static func checkSourceURL(_ value: String, file: String, line: Int, key: String) throws(ConfigError) {
        guard DisplayedURL.hasUserInfo(value) else { return }
        throw .badValue(file: file, line: line, section: "source", key: key, value: DisplayedURL(value).description,
                        expected: "a URL without a user name or password before the host; put them in `auth = basic` with `username` and `password_file` instead (see config/sisync.conf)")
    }

    /// A PostgreSQL URI sisync accepts: one libpq can read, no password in it (it would
    /// end up in logs and `ps`), and TLS that verifies the server unless libpq will only
    /// reach a unix socket or the loopback, judged on libpq's reading of the URI and the
    /// `PG*` variables of `environment` (issue 26 item 8). Messages show the URI without
    /// any password.
    package static func checkPostgresURI(_ uri: String, file: String, line: Int,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) {
        let target = PostgresTarget(uri: uri)
        if target.hadPassword {
            throw .badValue(file: file, line: line, section: "sync", key: "database", value: target.display,
                            expected: "a URI without a password: put the password in a file named by database_password_file (or ~/.pgpass)")
        }
        let options: [String: String]
        do { options = try PostgresConnection.options(of: uri) } catch {
            throw .badValue(file: file, line: line, section: "sync", key: "database", value: target.display,
                            expected: "a libpq URI (postgresql://USER@HOST/DB?sslmode=verify-full); libpq says: \(error)")
        }
        if let reason = PostgresTLSRequirement.unverifiedServer(options: options, environment: environment) {
            let mode = options["sslmode"] ?? "prefer (libpq's default, which does not verify)"
            throw .badValue(file: file, line: line, section: "sync", key: "database", value: target.display,
                            expected: "sslmode=verify-full (or verify-ca) in the URI, because \(reason) and sslmode is \(mode); "
                                + "add ?sslmode=verify-full (with sslrootcert=FILE for a private CA), or name a unix socket "
                                + "(host=/var/run/postgresql) or 127.0.0.1 and leave PGHOST, PGHOSTADDR and PGSERVICE unset")
        }
    }

    /// What R7 needs from the configuration on `date`.
    /// The last day of the `hold_deactivations` window `date` falls in (`YYYY-MM-DD`), or nil.
    public func deactivationsHeld(on date: Date) -> String? {
        DeactivationHold.lastDay(of: holdDeactivations, containing: date)
    }

    public func roleSettings(on date: Date) -> RoleSettings {
        RoleSettings(schoolYear: currentSchoolYear(on: date), parentRelationships: parentRelationships)
    }

    /// The school year that R7 and enrollment checks use on `date`.
    public func currentSchoolYear(on date: Date) -> String {
        switch schoolYear {
        case .fixed(let y): return y
        case .auto:
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = TimeZone(identifier: "UTC")!
            let parts = cal.dateComponents([.year, .month, .day], from: date)
            let y = parts.year!, m = parts.month!, d = parts.day!
            let started = (m, d) >= (schoolYearStart.month, schoolYearStart.day)
            let first = started ? y : y - 1
            return "\(first)-\(first + 1)"
        }
    }
}
