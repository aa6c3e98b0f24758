import XCTest
@testable import SISync
@testable import SISyncControl

/// Issue 28: sisyncctl's command line, as an administrator meets it. Every command is one
/// registered type (help, an example, options, arguments, JSON); usage errors say what is
/// wrong; `--json` gives one document on success and on failure. The built sisyncctl runs
/// as a child process.
final class ControlCommandLineTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func ctl(_ args: [String], input: String? = nil) throws -> (code: Int32, stdout: String, stderr: String) {
        try runProcess("sisyncctl", args, environment: ["USER": "admin", "PATH": "/usr/bin:/bin"], input: input)
    }

    private func longLines(_ text: String, over width: Int = 80) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.count > width }
    }

    /// A command line as a shell splits it: words, "double quoted" words, up to a `>`.
    private func words(_ line: String) -> [String] {
        var out: [String] = [], word = "", quoted = false, inWord = false
        for c in line {
            if c == "\"" { quoted.toggle(); inWord = true; continue }
            if c == " " && !quoted {
                if inWord { out.append(word) }
                word = ""; inWord = false
                continue
            }
            if c == ">" && !quoted { break }
            word.append(c); inWord = true
        }
        if inWord { out.append(word) }
        return out
    }

    func testEveryRegisteredCommandHasASynopsisHelpAndAnExampleThatParsesAsItself() throws {
        let commands = CommandRegistry.commands
        XCTAssertEqual(Set(commands.map { $0.name }).count, commands.count, "names are unique")
        for c in commands {
            XCTAssertFalse(c.synopsis.isEmpty, c.name)
            for line in c.synopsis { XCTAssertTrue(line.hasPrefix(c.name) || line.hasSuffix(c.name), "\(c.name): synopsis \(line)") }
            XCTAssertTrue(c.help.count > 20 && c.help.hasSuffix("."), "\(c.name): help")
            XCTAssertTrue(c.summary.count <= c.help.count && c.summary.hasSuffix("."), "\(c.name): summary")
            let example = words(c.example)
            XCTAssertEqual(example.first, "sisyncctl", "\(c.name): example \(c.example)")
            // The example is a command line the parser takes, for this very command.
            guard case .command(let parsed, _, _) = try CommandLineParser.parse(Array(example.dropFirst())) else {
                XCTFail("\(c.name): example \(c.example) is not a command"); continue
            }
            XCTAssertEqual(parsed.name, c.name, c.example)
        }
        // The run lock: what writes is declared, and a read never waits.
        XCTAssertEqual(RunShowCommand.storeAccess, .reads)
        XCTAssertEqual(UserAddCommand.storeAccess, .writes)
        XCTAssertEqual(SyncCommand.storeAccess, .writesTakingTheLockItself)
    }

    func testHelpOfOneCommandFromHelpOrDashDashHelpOrDashH() throws {
        let expected = try ctl(["help", "run", "show"])
        XCTAssertEqual(expected.code, 0, expected.stderr)
        XCTAssertTrue(expected.stdout.hasPrefix("usage: sisyncctl run show ID [--limit N]\n"), expected.stdout)
        XCTAssertTrue(expected.stdout.contains("example:\n  sisyncctl run show 42\n"), expected.stdout)
        XCTAssertEqual(longLines(expected.stdout), [], "wrapped to 80 columns when stdout is not a terminal")
        for args in [["run", "show", "--help"], ["run", "show", "-h"], ["--config", "/nonexistent", "run", "show", "7", "--help"]] {
            let r = try ctl(args)
            XCTAssertEqual(r.code, 0, args.joined(separator: " "))
            XCTAssertEqual(r.stdout, expected.stdout, args.joined(separator: " "))
        }
        // Before issue 28 this printed the global help.
        let copy = try ctl(["store", "copy", "--help"])
        XCTAssertEqual(copy.code, 0)
        XCTAssertTrue(copy.stdout.hasPrefix("usage: sisyncctl store copy --to URL [--schema NAME]\n"), copy.stdout)
        XCTAssertFalse(copy.stdout.contains("commands:"), copy.stdout)
        // A group lists every command in it (passwd, login, assign and unassign were missing).
        let user = try ctl(["user", "--help"])
        XCTAssertEqual(user.code, 0)
        for c in CommandRegistry.commands where c.name.hasPrefix("user ") {
            XCTAssertTrue(user.stdout.contains("\n  " + c.synopsis[0].prefix(70)), "user --help lists \(c.name)")
        }
        XCTAssertEqual(longLines(user.stdout), [])
    }

    func testGlobalHelpListsEveryRegisteredCommandAndEveryGlobalOption() throws {
        let r = try ctl(["--help"])
        XCTAssertEqual(r.code, 0)
        for c in CommandRegistry.commands { XCTAssertTrue(r.stdout.contains(String(c.summary.prefix(40))), "--help lists \(c.name)") }
        for o in CommandRegistry.globalOptions { XCTAssertTrue(r.stdout.contains("  " + o.usage + " "), "--help has \(o.usage)") }
        XCTAssertEqual(longLines(r.stdout), [])
        XCTAssertEqual(try ctl(["-h"]).stdout, r.stdout)
        XCTAssertEqual(try ctl(["help"]).stdout, r.stdout)
    }

    func testHelpIsWrappedToTheWidthOfTheTerminal() throws {
        let width = 50
        let terminal = try PseudoTerminal()
        try terminal.spawn(productsDirectory.appendingPathComponent("sisyncctl").path, ["help", "access", "letters"],
                           environment: ["COLUMNS": String(width), "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(terminal.waitForEnd(timeout: 20), .exited(0), terminal.output)
        let text = terminal.output.replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertTrue(text.contains("usage: sisyncctl access letters"), text)
        // The example is a line to copy, never wrapped.
        XCTAssertEqual(longLines(text, over: width).filter { !$0.hasPrefix("  sisyncctl ") }, [], text)
        XCTAssertTrue(longLines(CommandHelp.text(of: AccessLettersCommand.self, width: 80), over: width).contains { !$0.hasPrefix("  sisyncctl ") },
                      "at 80 columns the same help has longer lines")
    }

    func testMissingArgumentNamesItAndShowsTheUsage() throws {
        let r = try ctl(["run", "show"])
        XCTAssertEqual(r.code, 64)
        XCTAssertEqual(r.stderr, "sisyncctl run show: missing ID\nusage: sisyncctl run show ID [--limit N]\n")
        XCTAssertEqual(r.stdout, "")
        try assertUsageError(["user", "link", "jdoe"], "sisyncctl user link: missing STAFF_ID\nusage: sisyncctl user link U STAFF_ID --reason TEXT")
        try assertUsageError(["staff", "show", "S1", "S2"], "sisyncctl staff show: unexpected argument `S2`\n")
        try assertUsageError(["run"], "sisyncctl run: missing command: show, revert, approve, discard\n")
        // An option a command cannot do without is missing like an argument: named, with the usage.
        try assertUsageError(["access", "pair", "--user", "mom"], "sisyncctl access pair: missing --user U and --code CODE\nusage: sisyncctl access pair")
        try assertUsageError(["user", "add", "--username", "x"], "sisyncctl user add: missing --username U and --email E\nusage: sisyncctl user add")
        try assertUsageError(["user", "link", "jdoe", "S1"], "sisyncctl user link: missing --reason TEXT")
        try assertUsageError(["user", "attach", "jdoe"], "sisyncctl user attach: give one of --student ID, --household ID or --donor ID\nusage: sisyncctl user attach")
    }

    /// Exit 64 with stderr starting with `message`, nothing on stdout.
    private func assertUsageError(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try ctl(args)
        XCTAssertEqual(r.code, 64, args.joined(separator: " "), file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix(message), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
    }

    func testUnknownCommandOrOptionGetsDidYouMean() throws {
        try assertUsageError(["stafff", "list"], "sisyncctl: unknown command `stafff`; did you mean `staff`?\n")
        try assertUsageError(["user", "shw", "jdoe"], "sisyncctl: unknown command `user shw`; did you mean `user show`?\n")
        try assertUsageError(["staff", "list", "--inactve"], "sisyncctl staff list: unknown option --inactve; did you mean --inactive?\n")
        try assertUsageError(["frobnicate"], "sisyncctl: unknown command `frobnicate`\n")
    }

    /// Before issue 28 every command took every option: `status --pdf x` was accepted and ignored.
    func testAnOptionTheCommandDoesNotTakeIsExit64NamingIt() throws {
        try assertUsageError(["status", "--pdf", "x"], "sisyncctl status: `status` takes no option --pdf\nusage: sisyncctl status\n")
        try assertUsageError(["runs", "--all"], "sisyncctl runs: `runs` takes no option --all\n")
    }

    func testVersion() throws {
        for flag in ["--version", "-V"] {
            let r = try ctl([flag])
            XCTAssertEqual(r.code, 0, flag)
            XCTAssertEqual(r.stdout, "sisyncctl \(SisyncVersion.current)\n", flag)
        }
    }

    /// The demo district in a workspace's store: its configuration file, synced once.
    private func demo(_ w: Workspace) throws -> String {
        for f in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/config/demo") where f.hasSuffix(".csv") {
            try FileManager.default.copyItem(atPath: Self.root + "/config/demo/" + f, toPath: w.exportDir + "/" + f)
        }
        try """
            [sync]
            \(w.storeLines)school_year = 2026-2027
            [source]
            format = csv
            url = \(w.exportDir)/
            entities = staff, students, households, household_relationships, applicants, donors, attributes
            auth = none
            [portal]
            portal_url = https://portal.riverside.example.org/
            district_name = Riverside Unified
            """.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        return w.configPath
    }

    private func jsonDocument(_ text: String, _ what: String) -> Any? {
        let value = try? JSONSerialization.jsonObject(with: Data(text.utf8))
        XCTAssertNotNil(value, "\(what): stdout is one JSON document: \(text)")
        return value
    }

    /// Every registered command that can run on the demo district, with `--json`: exit 0 and
    /// stdout one JSON document (before issue 28: `accepted`, `{}`, a letter's text, CSV).
    func testEveryCommandPrintsOneJSONDocumentWithJSON() throws {
        let w = Workspace()
        let config = try demo(w)
        var covered = Set<String>()
        var last: Any?
        @discardableResult
        func run(_ name: String, _ args: [String], input: String? = nil) throws -> [String: Any] {
            // The global options after the command, as an administrator adds them at the end.
            let r = try ctl(args + ["--json", "--config", config], input: input)
            XCTAssertEqual(r.code, 0, "\(name): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("\"error\""), "\(name): \(r.stderr)")
            last = jsonDocument(r.stdout, name)
            covered.insert(name)
            return last as? [String: Any] ?? [:]
        }
        let demoUsers = Self.root + "/config/demo/users.csv"
        try run("sync", ["sync"])
        try run("status", ["status"])
        try run("runs", ["runs", "--limit", "5"])
        try run("run show", ["run", "show", "1"])
        try run("staff list", ["staff", "list", "--all"])
        try run("staff show", ["staff", "show", "S1001"])
        try run("user import", ["user", "import", demoUsers])
        try run("user list", ["user", "list"])
        try run("user show", ["user", "show", "zobrien"])
        try run("user add", ["user", "add", "--username", "jdoe", "--email", "jane.doe@example.org", "--approved"])
        try run("user unapprove", ["user", "unapprove", "jdoe"])
        try run("user approve", ["user", "approve", "jdoe"])
        try run("user unlock", ["user", "unlock", "jdoe"])
        try run("user link", ["user", "link", "jdoe", "S1002", "--reason", "covers for a colleague"])
        try run("user unlink", ["user", "unlink", "jdoe"])
        try run("user attach", ["user", "attach", "jdoe", "--household", "H3001"])
        try run("user detach", ["user", "detach", "jdoe", "--household", "H3001"])
        try run("user role add", ["user", "role", "add", "jdoe", "Counselor"])
        try run("user role remove", ["user", "role", "remove", "jdoe", "Counselor"])
        try run("user school add", ["user", "school", "add", "jdoe", "101"])
        try run("user school remove", ["user", "school", "remove", "jdoe", "101"])
        try run("user ledger add", ["user", "ledger", "add", "jdoe", "GENERAL"])
        try run("user ledger remove", ["user", "ledger", "remove", "jdoe", "GENERAL"])
        let password = "correct horse battery staple"
        XCTAssertEqual(try run("user passwd", ["user", "passwd", "jdoe"], input: password + "\n")["username"] as? String, "jdoe")
        XCTAssertEqual(try run("user login", ["user", "login", "jdoe"], input: password + "\n")["accepted"] as? Bool, true)
        try run("form add", ["form", "add", "IEP", "--group", "sped"])
        try run("form list", ["form", "list"])
        try run("form delete", ["form", "delete", "IEP"])
        try run("form undelete", ["form", "undelete", "IEP"])
        try run("role create", ["role", "create", "Case Manager"])
        try run("role set", ["role", "set", "Case Manager", "IEP", "--default", "view", "--max", "owner"])
        try run("role show", ["role", "show", "Case Manager"])
        try run("role list", ["role", "list"])
        try run("role create", ["role", "create", "Helper"])
        try run("role rename", ["role", "rename", "Helper", "Aide"])
        try run("role merge", ["role", "merge", "Aide", "--into", "Support"])
        try run("role delete", ["role", "delete", "Support"])
        try run("role undelete", ["role", "undelete", "Support"])
        let assigned = try run("user assign", ["user", "assign", "jdoe", "Case Manager", "--buildings", "101"])
        XCTAssertEqual(assigned["usernames"] as? [String], ["jdoe"])
        XCTAssertEqual(assigned["role"] as? String, "Case Manager")
        try run("access-check", ["access-check", "jdoe", "IEP", "--building", "101"])
        try run("user unassign", ["user", "unassign", "jdoe", "Case Manager"])
        try run("access enable", ["access", "enable", "ST20001"])
        try run("access enable", ["access", "enable", "--all"])
        let code = try XCTUnwrap(try run("access reset", ["access", "reset", "ST20001"])["code"] as? String)
        try run("access pair", ["access", "pair", "--user", "fitzgerald", "--code", code])
        try run("access list", ["access", "list", "ST20001"])
        try run("access revoke", ["access", "revoke", "--user", "fitzgerald", "--student", "ST20001"])
        XCTAssertTrue(try run("access instructions", ["access", "instructions", "ST20001"])["letter"] is String)
        try run("access letters", ["access", "letters", "--school", "101", "--pdf", w.root + "/letters.pdf"])
        try run("access export", ["access", "export"])
        XCTAssertTrue((last as? [Any])?.isEmpty == false, "access export is an array of codes")
        try run("audit", ["audit"])
        try run("explain", ["explain", "tbrown"])
        // Held runs: the export loses 50 of 60 staff, so the guard holds the run (R5).
        let staff = try String(contentsOfFile: w.exportDir + "/staff.csv", encoding: .utf8).split(separator: "\n")
        try (staff.prefix(11).joined(separator: "\n") + "\n").write(toFile: w.exportDir + "/staff.csv", atomically: true, encoding: .utf8)
        let configuration = try Configuration.load(path: config)
        let discarded = try XCTUnwrap(w.sync(configuration).summary.standingHold)
        try run("run discard", ["run", "discard", String(discarded)])
        let held = try XCTUnwrap(w.sync(configuration).summary.standingHold)
        let approved = try XCTUnwrap(try run("run approve", ["run", "approve", String(held)])["run_id"] as? Int)
        try run("run revert", ["run", "revert", String(approved)])
        XCTAssertEqual(try run("user rename", ["user", "rename", "jdoe", "jane.doe"])["username"] as? String, "jane.doe")
        try run("user rename", ["user", "rename", "jane.doe", "jdoe"])
        try run("user remove", ["user", "remove", "jdoe"])
        let added = try run("api client add", ["api", "client", "add", "gradebook", "--scopes", "read,login"])
        XCTAssertEqual((added["token"] as? String)?.count, 71, "sisync_ and 64 hex digits, shown once")
        try run("api client list", ["api", "client", "list"])
        XCTAssertEqual((last as? [[String: Any]])?.first?["scopes"] as? [String], ["read", "login"])
        XCTAssertNil((last as? [[String: Any]])?.first?["token"])
        try run("api client revoke", ["api", "client", "revoke", "gradebook"])
        let feed = try run("events", ["events", "--after", "0", "--limit", "5"])
        XCTAssertEqual(feed["events"] as? [Any] != nil, true, "events prints a page: {events, next, head}")
        try (try String(contentsOfFile: config, encoding: .utf8) + "\n[webhook.gradebook]\nurl = http://127.0.0.1:9/hook\nsecret_file = \(w.root)/whsec\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try run("webhook list", ["webhook", "list"])
        XCTAssertEqual((last as? [[String: Any]])?.first?["name"] as? String, "gradebook")
        XCTAssertEqual(try run("webhook resume", ["webhook", "resume", "gradebook"])["name"] as? String, "gradebook")
        XCTAssertEqual(try run("staff rekey", ["staff", "rekey", "S1001", "N1001"])["new"] as? String, "N1001")
        XCTAssertEqual(try run("student rekey", ["student", "rekey", "ST20001", "N20001"])["old"] as? String, "ST20001")

        // store copy needs a PostgreSQL server to copy into: PostgresStoreTests runs it with --json.
        let elsewhere: Set<String> = ["store copy"]
        let registered = Set(CommandRegistry.commands.map { $0.name })
        XCTAssertEqual(registered.subtracting(covered).subtracting(elsewhere).sorted(), [], "registered commands this test does not run")
    }

    /// A failure with `--json`: `{"error": {"message", "exit"}}` on stderr, the same exit
    /// code, nothing on stdout.
    func testAFailureWithJSONIsAnErrorDocumentOnStderr() throws {
        let w = Workspace()
        let config = try demo(w)
        XCTAssertEqual(try ctl(["--config", config, "sync"]).code, 0)
        XCTAssertEqual(try ctl(["--config", config, "user", "import", Self.root + "/config/demo/users.csv"]).code, 0)
        func error(_ args: [String], _ code: Int32, input: String? = nil) throws -> String {
            let r = try ctl(args, input: input)
            XCTAssertEqual(r.code, code, args.joined(separator: " "))
            XCTAssertEqual(r.stdout, "", args.joined(separator: " "))
            let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stderr.utf8)) as? [String: Any], r.stderr)
            let error = try XCTUnwrap(document["error"] as? [String: Any], r.stderr)
            XCTAssertEqual(error["exit"] as? Int, Int(code), r.stderr)
            return try XCTUnwrap(error["message"] as? String)
        }
        XCTAssertTrue(try error(["--json", "--config", config, "run", "show", "999"], 1).contains("run 999"))
        XCTAssertTrue(try error(["run", "show", "--json"], 64).hasPrefix("sisyncctl run show: missing ID"))
        XCTAssertTrue(try error(["--json", "stafff"], 64).contains("did you mean `staff`?"))
        XCTAssertTrue(try error(["--json", "--config", w.root + "/missing.conf", "status"], 78).contains("missing.conf"))
        XCTAssertTrue(try error(["user", "login", "zobrien", "--json", "--config", config], 1, input: "wrong\n").hasPrefix("rejected"))
    }
}
