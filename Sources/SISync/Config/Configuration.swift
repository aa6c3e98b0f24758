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
    /// `[api]`: how `sisync-api` serves the applications.
    public var api = APISettings()
    /// `[events]`: the change feed (docs/events.md).
    public var events = EventSettings()
    /// `[webhook.NAME]`: the endpoints the feed's events are posted to, by NAME.
    public var webhooks: [String: WebhookSettings] = [:]
    /// `[source] schools`: only these schools' records are managed (nil: every school).
    public var schoolScope: SchoolScope?
    public var pageSize: Int = 1000
    public var timeout = ConfigDuration(seconds: 60)
    public var retries: Int = 3
    public var maxBytes: Int64 = 1024 * 1024 * 1024
    /// The largest `max_bytes`: 4095M, just under 4 GiB. An entity's rows are counted with
    /// 32-bit offsets and numbered with Int32 (`EntityRows`); a larger one could never be read.
    public static let maxBytesCap: Int64 = 4095 * 1024 * 1024
    public var caFile: String?
    // [linking]
    public var emailDomainAliases: [String: String] = [:]
    public var parentRelationships: [String] = ["parent", "guardian"]
    /// A digest of every setting as written (not comments or order): a hold stands for one
    /// export under one configuration, and a changed threshold or alias must re-plan it.
    /// Sections no run reads (`runIndependentSections`) are left out: a new API listener
    /// must not void an administrator's held run, nor switching the change feed on.
    public var settingsDigest = ""
    static let runIndependentSections: Set<String> = ["api", "events"]

    /// Whether a section is one no run reads (`[webhook.NAME]` with `[events]`).
    static func isRunIndependent(_ section: String) -> Bool {
        runIndependentSections.contains(section) || section.hasPrefix("webhook.")
    }

    /// A configuration with every default, for tests and tools.
    public init(path: String = "<defaults>") { self.path = path }

    /// Reads and validates a configuration file.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        var problems: [ConfigError] = []
        let c = try load(path: path, problems: &problems)
        if let first = problems.first { throw first }
        return c
    }

    /// Reads a configuration file, adding every problem of its text to `problems` rather
    /// than stopping at the first (`sisyncd --check-config`); throws only when there is no
    /// text to read (a missing or unreadable file).
    package static func load(path: String, problems: inout [ConfigError]) throws(ConfigError) -> Configuration {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw .missingFile(path: path)
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription) (is it UTF-8 text, readable by this user?)")
        }
        return parse(text: text, path: path, problems: &problems)
    }

    /// Validates configuration text; relative paths are resolved against the file's directory.
    /// Each line is read by its key's entry in `ConfigKey.table`; the rules between keys
    /// follow, once every line is read.
    public static func parse(text: String, path: String) throws(ConfigError) -> Configuration {
        var problems: [ConfigError] = []
        let c = parse(text: text, path: path, problems: &problems)
        if let first = problems.first { throw first }
        return c
    }

    /// `parse`, adding every problem to `problems` in the order `parse` would meet them (its
    /// error is the first). A line in an unknown section is not reported again as an unknown
    /// key; a rule between keys is judged with the defaults of keys that were refused.
    package static func parse(text: String, path: String, problems: inout [ConfigError]) -> Configuration {
        let doc = INIDocument(path: path, text: text, problems: &problems)
        var c = Configuration(path: path)
        for (section, line) in doc.sections.sorted(by: { $0.value < $1.value }) where !ConfigKey.isKnown(section: section) {
            problems.append(.unknownSection(file: path, line: line, section: section))
        }
        c.settingsDigest = SHA256.hex(of: doc.entries.filter { !Self.isRunIndependent($0.section) }.map { "\($0.section)\u{1F}\($0.key)\u{1F}\($0.value)\n" }.sorted().joined().utf8)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        for e in doc.entries where ConfigKey.isKnown(section: e.section) {
            guard let key = ConfigKey.entry(section: e.section, key: e.key) else {
                problems.append(.unknownKey(file: path, line: e.line, section: e.section, key: e.key))
                continue
            }
            do throws(ConfigError) {
                try key.read(ConfigLine(entry: e, file: path, directory: directory, document: doc), &c)
            } catch {
                problems.append(error)
            }
        }
        checkRulesBetweenKeys(&c, document: doc, path: path, problems: &problems)
        return c
    }

    /// The rules between keys, once every line is read. A rule that fails adds its problem
    /// and the next rule is judged.
    private static func checkRulesBetweenKeys(_ c: inout Configuration, document doc: INIDocument, path: String,
                                              problems: inout [ConfigError]) {
        /// Where a key is given, for the rules between keys (0: not given).
        func line(_ section: String, _ key: String) -> Int {
            doc.entries.first { $0.section == section && $0.key == key }?.line ?? 0
        }
        /// Runs one rule, keeping its problem and going on to the next.
        func rule(_ check: () throws(ConfigError) -> Void) {
            do throws(ConfigError) { try check() } catch { problems.append(error) }
        }
        rule { () throws(ConfigError) in
            if c.format == .oneRosterCSV || c.format == .oneRosterREST {
                // OneRoster carries people only: staff, students and their families.
                let carried = OneRosterTranslation.kinds
                if case let given = line("source", "entities"), given > 0 {
                    if let other = c.entities.first(where: { !carried.contains($0) }) {
                        throw .badValue(file: path, line: given, section: "source", key: "entities", value: other.rawValue,
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
        }
        rule { () throws(ConfigError) in
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
        }
        rule { () throws(ConfigError) in
            if c.format == .oneRosterREST, let url = c.url, SourceOrigin(url) == nil {
                throw .badValue(file: path, line: line("source", "url"), section: "source", key: "url", value: url,
                                expected: "the http:// or https:// address of the OneRoster API, in plain ASCII (its scheme, host and port are the only place sisync sends the credential)")
            }
        }
        rule { () throws(ConfigError) in
            c.events.hasWebhooks = !c.webhooks.isEmpty
            for w in c.webhooks.values.sorted(by: { $0.name < $1.name }) {
                if w.url.isEmpty { throw .missingKey(file: path, section: "webhook.\(w.name)", key: "url") }
                if w.secretFile.isEmpty { throw .missingKey(file: path, section: "webhook.\(w.name)", key: "secret_file (a credential name; never the secret itself)") }
            }
        }
        rule { () throws(ConfigError) in
            // A record's addition event is read from the record and, once it changed, from
            // the change log (docs/events.md): the change log must outlive the events.
            if c.events.isOn, c.events.keepDays > c.historyDays {
                throw .badValue(file: path, line: line("events", "keep_days"), section: "events", key: "keep_days", value: String(c.events.keepDays),
                                expected: "at most [sync] history_days (\(c.historyDays)): the feed reads a record's state when it was added from the change log")
            }
        }
        rule { () throws(ConfigError) in
            if c.standby, !PostgresTarget.isURI(c.database) {
                throw .badValue(file: path, line: line("sync", "standby"), section: "sync", key: "standby", value: "true",
                                expected: "false with a SQLite database: a standby takes over through PostgreSQL's session locks (database = postgresql://…)")
            }
        }
        rule { () throws(ConfigError) in
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
        }
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
