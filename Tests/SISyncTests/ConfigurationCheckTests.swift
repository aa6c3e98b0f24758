import Foundation
import XCTest
@testable import SISync

/// `sisyncd --check-config` (issue 28): everything a run and every command would need,
/// every problem listed with its file, line and key, exit 0 or 78; the real binary.
final class ConfigurationCheckTests: XCTestCase {
    /// A configuration that works: a store at the current version, a template, a token
    /// only its owner reads, and the `[portal]` settings letters show.
    private func goodWorkspace() throws -> Workspace {
        let w = Workspace()
        w.write(w.root + "/letter.txt", "Dear family of {student_name},\n{code}\nSee {portal_url}.\n")
        w.write(w.root + "/token", "secret-token\n")
        XCTAssertEqual(chmod(w.root + "/token", 0o600), 0)
        if w.isPostgres { XCTAssertEqual(chmod(w.passwordFile, 0o600), 0) }
        w.configure(sync: "interval = 1h", source: "auth = bearer\ntoken_file = \(w.root)/token\n")
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8)
            + "\n[portal]\nportal_url = https://portal.district.example.org\nschool.101 = Riverside Elementary\nletter_template = letter.txt\n"
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        _ = try RosterStore(location: w.location)   // made at the current version, as a first start makes it
        return w
    }

    func testAGoodConfigurationSaysConfigurationOKAndTheSchemaVersion() throws {
        let w = try goodWorkspace()
        let r = try runProcess("sisyncd", ["--config", w.configPath, "--check-config"])
        XCTAssertEqual(r.code, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix("configuration OK\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("schema version \(Migrator().latestVersion), current"), r.stdout)
        XCTAssertFalse(r.stdout.contains("warning"), r.stdout)
    }

    /// Every problem at once, not the first alone: a template that is not there, a
    /// misspelt key, a token file that is missing, a store a newer sisync migrated.
    func testEveryProblemIsListedWithItsFileLineAndKeyAndExit78() throws {
        let w = try goodWorkspace()
        try FileManager.default.removeItem(atPath: w.root + "/token")
        var text = try String(contentsOfFile: w.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "letter_template = letter.txt", with: "letter_template = missing-letter.txt")
        text = text.replacingOccurrences(of: "interval = 1h", with: "interval = 1h\nintervall = 2h")
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        func line(_ prefix: String) -> Int { (lines.firstIndex { $0.hasPrefix(prefix) } ?? -1) + 1 }
        let newer = Migrator().latestVersion + 5
        let db = try w.rawDatabase()
        try db.execute(w.isPostgres ? "UPDATE schema_version SET version = \(newer) WHERE id = 1" : "PRAGMA user_version = \(newer)")

        let r = try runProcess("sisyncd", ["--config", w.configPath, "--check-config"])
        XCTAssertEqual(r.code, 78, r.stdout + r.stderr)
        XCTAssertFalse(r.stdout.contains("configuration OK"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(w.configPath):\(line("intervall")): unknown key `intervall` in [sync]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(w.configPath):\(line("letter_template")): [portal] letter_template = `missing-letter.txt`: cannot read the letter template"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(w.configPath):\(line("token_file")): [source] token_file = `\(w.root)/token`:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("schema is version \(newer), newer than this sisync understands"), r.stdout)
        XCTAssertTrue(r.stdout.contains("4 problems in \(w.configPath)"), r.stdout)
        XCTAssertEqual(try StoreSchemaVersion.found(at: w.location), newer, "the check changed nothing")
    }

    /// A template that parses badly names the template's own line; `[portal]` left out is
    /// a warning (letters lack the address and the schools' names), not a failure; a
    /// token others can read is a warning; an older store says a migration is due.
    func testTemplateErrorsWarningsAndAMigrationDue() throws {
        let w = try goodWorkspace()
        w.write(w.root + "/letter.txt", "Dear {parent_name},\n{code}\n")
        XCTAssertEqual(chmod(w.root + "/token", 0o644), 0)
        let r = try runProcess("sisyncd", ["--config", w.configPath, "--check-config"])
        XCTAssertEqual(r.code, 78, r.stdout)
        XCTAssertTrue(r.stdout.contains("[portal] letter_template = `letter.txt`: \(w.root)/letter.txt:1: `{parent_name}`"), r.stdout)
        XCTAssertTrue(r.stdout.contains("warning: ") && r.stdout.contains("is mode 644"), r.stdout)

        let bare = Workspace(sqlite: true)
        bare.configure()
        try FileManager.default.createDirectory(atPath: bare.root + "/db", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: bare.sqlitePath)
        try Migrator().migrate(db, to: Migrator().latestVersion - 1)
        let older = try runProcess("sisyncd", ["--config", bare.configPath, "--check-config"])
        XCTAssertEqual(older.code, 0, older.stdout)
        XCTAssertTrue(older.stdout.contains("warning: \(bare.configPath): [portal] portal_url is not set"), older.stdout)
        XCTAssertTrue(older.stdout.contains("warning: \(bare.configPath): [portal] names no school"), older.stdout)
        XCTAssertTrue(older.stdout.contains("schema version \(Migrator().latestVersion - 1); a migration is due"), older.stdout)
        XCTAssertEqual(try StoreSchemaVersion.found(at: bare.location), Migrator().latestVersion - 1, "never migrated by the check")
    }

    /// With `--tenants DIR`, each tenant is checked and named.
    func testEachTenantIsChecked() throws {
        let good = try goodWorkspace()
        let directory = good.root + "/tenants.d"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good.configPath, toPath: directory + "/north.conf")
        try FileManager.default.copyItem(atPath: good.root + "/letter.txt", toPath: directory + "/letter.txt")
        let text = try String(contentsOfFile: good.configPath, encoding: .utf8).replacingOccurrences(of: "[portal]", with: "[portal]\npaper = legal")
        try text.write(toFile: directory + "/south.conf", atomically: true, encoding: .utf8)
        let r = try runProcess("sisyncd", ["--tenants", directory, "--check-config"])
        XCTAssertEqual(r.code, 78, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("tenant north (\(directory)/north.conf):\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("tenant south (\(directory)/south.conf):\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("south.conf:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[portal] paper = `legal` is not valid"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "configuration OK").count - 1, 1, "north passes: \(r.stdout)")
    }

    /// A configuration with several problems gives them all to `Configuration.parse`'s
    /// collecting form, and the throwing form still throws the first.
    func testParseCollectsEveryProblemAndThrowsTheFirst() {
        let text = "[sync]\ninterval = soon\nbogus = 1\n[sourc]\nurl = x\n[source]\nurl = /tmp/\nformat = csv\nformat = json\n"
        var problems: [ConfigError] = []
        _ = Configuration.parse(text: text, path: "t.conf", problems: &problems)
        XCTAssertEqual(problems.count, 4, "\(problems)")
        XCTAssertTrue(problems.contains(.unknownSection(file: "t.conf", line: 4, section: "sourc")), "\(problems)")
        XCTAssertTrue(problems.contains(.unknownKey(file: "t.conf", line: 3, section: "sync", key: "bogus")), "\(problems)")
        XCTAssertTrue(problems.contains(.repeatedKey(file: "t.conf", line: 9, section: "source", key: "format", firstLine: 8)), "\(problems)")
        XCTAssertThrowsError(try Configuration.parse(text: text, path: "t.conf")) { XCTAssertEqual($0 as? ConfigError, problems.first) }
    }

    /// Issue 28: `--allow-mass-deactivation` is for one run; the daemon refuses it (64)
    /// instead of ignoring it.
    func testAllowMassDeactivationWithoutOnceIsAUsageError() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        let r = try runProcess("sisyncd", ["--config", w.configPath, "--allow-mass-deactivation"], timeout: 20)
        XCTAssertEqual(r.code, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("needs --once"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: w.sqlitePath), "nothing ran")
    }
}
