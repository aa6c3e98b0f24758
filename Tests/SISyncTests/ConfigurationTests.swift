import XCTest
@testable import SISync

final class ConfigurationTests: XCTestCase {
    private func parse(_ text: String) throws -> Configuration {
        try Configuration.parse(text: text, path: "/etc/sisync/sisync.conf")
    }

    func testEveryKeyOfTheExampleParses() throws {
        let c = try parse("""
            # comment
            [sync]
            database = /var/lib/sisync/sisync.db
            interval = 15m
            school_year = auto
            school_year_start = 07-01
            max_deactivate_percent = 10
            max_deactivate_count = 5
            max_invalid_rows = 1%
            on_staff_deactivated = unapprove   # inline comment
            history_days = 400
            deactivate_after = 48h
            metrics_file =

            [source]
            format = json
            url = https://sis.example.org/export.json
            entities = staff, students, households, household_relationships, applicants, donors, attributes
            auth = bearer
            token_file = sis-token
            timeout = 60s
            retries = 3
            max_bytes = 1G
            ca_file =
            staff_url = https://sis.example.org/staff.csv

            [linking]
            email_domain_aliases = staff.district.org = district.org
            parent_relationships = Parent, Guardian
            """)
        XCTAssertEqual(c.interval.seconds, 900)
        XCTAssertEqual(c.deactivateAfter.seconds, 172_800)
        XCTAssertEqual(c.maxInvalidRows, .percent(1))
        XCTAssertEqual(c.onStaffDeactivated, .unapprove)
        XCTAssertEqual(c.format, .json)
        XCTAssertEqual(c.maxBytes, 1 << 30)
        XCTAssertEqual(c.entities.count, 7)
        XCTAssertNil(c.metricsFile)
        XCTAssertEqual(c.emailDomainAliases, ["staff.district.org": "district.org"])
        XCTAssertEqual(c.entityURLs[.staff], "https://sis.example.org/staff.csv")
    }

    /// A configuration saved on Windows ("\r\n" is one Character in Swift) reads line by line.
    func testCRLFLineEndingsAreLines() throws {
        let c = try Configuration.parse(text: "[sync]\r\ninterval = 5m\r\n[source]\r\nurl = /srv/export/\r\nentities = staff, students\r\n", path: "/etc/sisync/sisync.conf")
        XCTAssertEqual(c.interval.seconds, 300)
        XCTAssertEqual(c.entities, [.staff, .students])
        XCTAssertThrowsError(try Configuration.parse(text: "[sync]\r\ninterval = 5m\r\nbogus = 1\r\n", path: "/etc/sisync/sisync.conf")) { e in
            XCTAssertTrue("\(e)".contains("sisync.conf:3"), "\(e)")
        }
    }

    func testUnknownKeyNamesFileLineAndKey() {
        XCTAssertThrowsError(try parse("[sync]\ninterval = 5m\nintervall = 5m\n[source]\nurl = /x\n")) { e in
            XCTAssertEqual(e as? ConfigError, .unknownKey(file: "/etc/sisync/sisync.conf", line: 3, section: "sync", key: "intervall"))
            XCTAssertTrue("\(e)".contains("sisync.conf:3"))
        }
    }

    func testRepeatedKeyAndUnknownSectionAreErrors() {
        XCTAssertThrowsError(try parse("[sync]\ninterval = 5m\ninterval = 6m\n")) { e in
            XCTAssertEqual(e as? ConfigError, .repeatedKey(file: "/etc/sisync/sisync.conf", line: 3, section: "sync", key: "interval", firstLine: 2))
        }
        XCTAssertThrowsError(try parse("[sync]\n[ldap]\nhost = x\n")) { e in
            XCTAssertEqual(e as? ConfigError, .unknownSection(file: "/etc/sisync/sisync.conf", line: 2, section: "ldap"))
        }
    }

    func testBadValuesNameTheKey() {
        let cases = [
            ("interval = 15 minutes", "interval"), ("max_deactivate_percent = 120", "max_deactivate_percent"),
            ("max_invalid_rows = lots", "max_invalid_rows"), ("on_staff_deactivated = delete", "on_staff_deactivated"),
            ("school_year = 2026", "school_year"), ("school_year_start = 13-01", "school_year_start"),
            ("history_days = -1", "history_days"), ("deactivate_after = 2d", "deactivate_after"),
        ]
        for (line, key) in cases {
            XCTAssertThrowsError(try parse("[sync]\n\(line)\n[source]\nurl = /x\n"), line) { e in
                guard case .badValue(_, let l, _, let k, _, _)? = e as? ConfigError else { return XCTFail("\(line): \(e)") }
                XCTAssertEqual(k, key); XCTAssertEqual(l, 2)
            }
        }
        XCTAssertThrowsError(try parse("[sync]\n[source]\nurl = /x\nformat = xml\n"))
        XCTAssertThrowsError(try parse("[sync]\n[source]\nurl = /x\nmax_bytes = 1T\n"))
        XCTAssertThrowsError(try parse("[sync]\n[source]\nurl = /x\nentities = students\n"))
    }

    func testMissingSourceAndCredentialKeys() {
        XCTAssertThrowsError(try parse("[sync]\n")) { e in
            guard case .missingKey(_, "source", let k)? = e as? ConfigError else { return XCTFail("\(e)") }
            XCTAssertTrue(k.hasPrefix("url"))
        }
        XCTAssertThrowsError(try parse("[source]\nurl = https://x/\nauth = bearer\n")) { e in
            guard case .missingKey(_, "source", let k)? = e as? ConfigError else { return XCTFail("\(e)") }
            XCTAssertTrue(k.hasPrefix("token_file"))
        }
    }

    func testRelativePathsResolveAgainstTheConfigDirectory() throws {
        let c = try Configuration.parse(text: "[sync]\ndatabase = ../data/x.db\n[source]\nurl = demo/\n", path: "/opt/sisync/config/demo.conf")
        XCTAssertEqual(c.database, "/opt/sisync/data/x.db")
        XCTAssertEqual(c.url, "/opt/sisync/config/demo")
    }

    func testValueParsers() {
        XCTAssertEqual(InvalidRowLimit(parsing: "1%")?.allowed(rows: 50), 1)
        XCTAssertEqual(InvalidRowLimit(parsing: "1%")?.allowed(rows: 1_000), 10)
        XCTAssertEqual(InvalidRowLimit(parsing: "1%")?.allowed(rows: 1_999), 19)
        XCTAssertEqual(InvalidRowLimit(parsing: "7")?.allowed(rows: 1_000), 7)
        XCTAssertEqual(parseByteSize("512M"), 512 << 20)
        XCTAssertEqual(parseByteSize("64K"), 65_536)
        XCTAssertEqual(parseBoolean("yes"), true)
        XCTAssertEqual(parseBoolean("0"), false)
        XCTAssertNil(parseBoolean("maybe"))
    }

    func testSchoolYearAutoFollowsTheStartDate() throws {
        let c = try parse("[sync]\nschool_year_start = 08-15\n[source]\nurl = /x\n")
        XCTAssertEqual(c.currentSchoolYear(on: Timestamp.parse("2026-08-14T12:00:00Z")!), "2025-2026")
        XCTAssertEqual(c.currentSchoolYear(on: Timestamp.parse("2026-08-15T00:00:00Z")!), "2026-2027")
    }

    func testMissingFileIsItsOwnError() {
        XCTAssertThrowsError(try Configuration.load(path: "/nonexistent/sisync.conf")) { e in
            XCTAssertEqual(e as? ConfigError, .missingFile(path: "/nonexistent/sisync.conf"))
        }
    }

    /// Issue 26 item 15: max_bytes is capped at 4095M, what the in-memory export's 32-bit
    /// offsets can hold; more is a configuration error (exit 78) naming the cap.
    func testMaxBytesIsCappedBelowFourGiB() throws {
        XCTAssertEqual(try parse("[source]\nurl = /x\nmax_bytes = 4095M\n").maxBytes, Configuration.maxBytesCap)
        XCTAssertEqual(Configuration.maxBytesCap, 4095 * 1024 * 1024)
        XCTAssertLessThanOrEqual(Configuration.maxBytesCap, Int64(UInt32.max))
        for big in ["4G", "4096M", "\(Configuration.maxBytesCap + 1)", "100G"] {
            XCTAssertThrowsError(try parse("[source]\nurl = /x\nmax_bytes = \(big)\n"), big) { e in
                guard case .badValue(_, 3, "source", "max_bytes", big, _) = e as? ConfigError else { return XCTFail("\(e)") }
                XCTAssertTrue("\(e)".contains("at most 4095M"), "\(e)")
            }
        }
    }

    /// Issue 26 item 14: a user name or password in a source URL is refused (it would be
    /// logged and sent wherever a redirect points), pointing to auth = basic; the message
    /// does not repeat the password.
    func testUserInfoInASourceURLIsRefusedPointingToBasicAuth() throws {
        let cases: [(String, String, Int)] = [
            ("[source]\nurl = https://registrar:hunter2@sis.example.org/export/\n", "url", 2),
            ("[source]\nurl = https://sis.example.org/\nstaff_url = https://registrar:hunter2@sis.example.org/staff.csv\n", "staff_url", 3),
            ("[source]\nformat = oneroster-rest\nurl = https://sis.example.org/ims/oneroster/v1p1\nauth = oauth2\ntoken_url = https://id:hunter2@sis.example.org/token\nclient_id = x\nclient_secret_file = s\n", "token_url", 5),
            ("[source]\nurl = https://hunter2@sis.example.org/export/\n", "url", 2),
        ]
        for (text, key, line) in cases {
            XCTAssertThrowsError(try parse(text), key) { e in
                guard case .badValue(_, line, "source", key, _, _) = e as? ConfigError else { return XCTFail("\(e)") }
                XCTAssertTrue("\(e)".contains("auth = basic"), "\(e)")
                XCTAssertFalse("\(e)".contains("hunter2"), "\(e)")
                XCTAssertEqual(SyncRun.classify(e).exitCode, 78)
            }
        }
        // An @ after the host (a path, a query) is no user name; a local path neither.
        XCTAssertNoThrow(try parse("[source]\nurl = https://sis.example.org/exports/a@b/?mail=x@y\n"))
        XCTAssertNoThrow(try parse("[source]\nurl = /srv/exports/a@b/\n"))
    }

    /// Issue 26 item 4: a OneRoster API's url is where the credential may go, so it must be
    /// a URL sisync can read for certain.
    func testOneRosterAPIURLMustHaveAnOrigin() {
        XCTAssertThrowsError(try parse("[source]\nformat = oneroster-rest\nurl = /srv/oneroster\n")) { e in
            guard case .badValue(_, 3, "source", "url", _, _) = e as? ConfigError else { return XCTFail("\(e)") }
        }
        XCTAssertNoThrow(try parse("[source]\nformat = oneroster-rest\nurl = https://sis.example.org/ims/oneroster/v1p1\n"))
    }

    /// Issue 27 part 4: an unknown key's message suggests the table's nearest key of its
    /// section, or the section a correctly spelt key belongs to; a key near none gets none.
    func testUnknownKeySuggestsTheNearestKeyOfTheTable() {
        for (section, key, suggestion) in [("sync", "intervall", "; did you mean `interval`?"),
                                           ("source", "studnets_url", "; did you mean `students_url`?"),
                                           ("guard", "max_revoke_percentage", "; did you mean `max_revoke_percent`?"),
                                           ("source", "interval", "; did you mean `interval` in [sync]?"),
                                           ("portal", "papr", "; did you mean `paper`?"),
                                           ("linking", "ldap_server", "")] {
            XCTAssertThrowsError(try parse("[source]\nurl = /x\n" + (section == "source" ? "" : "[\(section)]\n") + "\(key) = 1\n")) { e in
                XCTAssertEqual(e as? ConfigError, .unknownKey(file: "/etc/sisync/sisync.conf", line: section == "source" ? 3 : 4, section: section, key: key))
                XCTAssertTrue("\(e)".hasSuffix("unknown key `\(key)` in [\(section)]; check its spelling against config/sisync.conf" + suggestion), "\(e)")
            }
        }
    }

    /// Issue 27 part 4: the unknown-section message lists every section of the table (0.2
    /// listed [sync], [source] and [linking] only) and suggests the nearest one.
    func testUnknownSectionListsEverySectionOfTheTable() {
        XCTAssertEqual(ConfigKey.sections, ["sync", "source", "linking", "guard", "portal", "api", "events", "webhook.NAME"])
        XCTAssertThrowsError(try parse("[sync]\n[ldap]\nhost = x\n")) { e in
            XCTAssertEqual("\(e)", "/etc/sisync/sisync.conf:2: unknown section [ldap]; known sections are [sync], [source], [linking], [guard], [portal], [api], [events] and [webhook.NAME]")
        }
        XCTAssertThrowsError(try parse("[source]\nurl = /x\n[gaurd]\nper_school = true\n")) { e in
            XCTAssertEqual(e as? ConfigError, .unknownSection(file: "/etc/sisync/sisync.conf", line: 3, section: "gaurd"))
            XCTAssertTrue("\(e)".hasSuffix("[guard], [portal], [api], [events] and [webhook.NAME]; did you mean [guard]?"), "\(e)")
        }
    }

    /// Issue 27 part 4: a default the table documents is the field's real default (the
    /// value written gives the value the field starts with), and a key documented without
    /// one starts unset.
    func testEachDefaultOfTheTableIsTheFieldsDefault() throws {
        let defaults = Configuration()
        for key in ConfigKey.table where !key.isPattern {
            let shown = try XCTUnwrap(key.current)
            guard !key.defaultText.isEmpty else {
                XCTAssertTrue(["nil", "[]", "[:]"].contains(shown(defaults)), "[\(key.section)] \(key.name) starts as \(shown(defaults)): document its default")
                continue
            }
            let text = "[source]\nurl = /x\n" + (key.section == "source" ? "" : "[\(key.section)]\n") + "\(key.name) = \(key.defaultText)\n"
            let c = try parse(text)
            XCTAssertEqual(shown(c), shown(defaults), "[\(key.section)] \(key.name) = \(key.defaultText)")
        }
    }

    /// Issue 27 part 4: an entity's own guard threshold is `ENTITY.max_deactivate_percent`
    /// or `ENTITY.max_deactivate_count` exactly; 0.2 read `students.x.max_deactivate_percent`
    /// as the students' count.
    func testEntityGuardKeyIsExactlyEntityDotKey() throws {
        let c = try parse("[source]\nurl = /x\n[guard]\nstudents.max_deactivate_percent = 30\nstaff.max_deactivate_count = 2\n")
        XCTAssertEqual(c.guardSettings.entityPercent, [.students: 30])
        XCTAssertEqual(c.guardSettings.entityCount, [.staff: 2])
        for key in ["students.x.max_deactivate_percent", "pupils.max_deactivate_count", ".max_deactivate_percent"] {
            XCTAssertThrowsError(try parse("[source]\nurl = /x\n[guard]\n\(key) = 3\n"), key) { e in
                XCTAssertEqual(e as? ConfigError, .unknownKey(file: "/etc/sisync/sisync.conf", line: 4, section: "guard", key: key))
            }
        }
    }

    /// Booleans take what `config/sisync.conf` documents: true/false, yes/no, 1/0, in any
    /// case (and on/off); anything else names the key.
    func testBooleansTakeTrueYesOneAndTheirOpposites() throws {
        for (text, value) in [("true", true), ("YES", true), ("1", true), ("on", true), ("false", false), ("No", false), ("0", false), ("off", false)] {
            XCTAssertEqual(try parse("[source]\nurl = /x\n[guard]\nper_school = \(text)\n").guardSettings.perSchool, value, text)
        }
        for text in ["2", "y", "enabled"] {
            XCTAssertThrowsError(try parse("[source]\nurl = /x\n[guard]\nper_school = \(text)\n"), text)
        }
    }

    /// Issue 27 part 4: a section written once per thing (`[webhook.NAME]`) is a line per
    /// key like any other: its keys belong to every section named after its prefix.
    func testASectionPerNameTakesItsKeysUnderAnyName() {
        let key = ConfigKey.key("webhook.NAME", "url", \.metricsFile) { (l: ConfigLine) throws(ConfigError) in l.optional() }
        XCTAssertNotNil(ConfigKey.entry(section: "webhook.district", key: "url", in: [key]))
        XCTAssertTrue(ConfigKey.isKnown(section: "webhook.lincoln", in: [key]))
        for section in ["webhook.", "webhook", "webhooks.district", "sync"] {
            XCTAssertFalse(ConfigKey.isKnown(section: section, in: [key]), section)
            XCTAssertNil(ConfigKey.entry(section: section, key: "url", in: [key]), section)
        }
    }
}
