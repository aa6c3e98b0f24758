import XCTest
@testable import SISync
@testable import SISyncControl
@testable import SISyncAPI

/// Issue 19: the manual pages, the bash completion and the alert rules stay in step with the
/// code (every key the configuration reader accepts, every command `sisyncctl --help` lists,
/// every option, exit code and MESSAGE_ID), and the tools that check them pass.
final class PackagingTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func read(_ path: String) throws -> String {
        try String(contentsOfFile: Self.root + "/" + path, encoding: .utf8)
    }

    /// A manual page as its reader sees the words: roff font escapes and `\-` undone.
    private func page(_ name: String) throws -> String {
        var text = try read("man/" + name)
        for (escape, plain) in [("\\-", "-"), ("\\fB", ""), ("\\fI", ""), ("\\fR", ""), ("\\fP", ""), ("\\e", "\\"), ("\\&", "")] {
            text = text.replacingOccurrences(of: escape, with: plain)
        }
        return text
    }

    private func tool(_ path: String, _ args: [String], directory: String? = nil) throws -> (code: Int32, out: String, err: String) {
        try runTool(path, args, directory: directory)
    }

    func testSisyncConfPageHasEveryKeyTheReaderAccepts() throws {
        // The keys are the reader's table (issue 27 part 4): a key added there and not here fails.
        let keys = Set(ConfigKey.table.filter { !$0.isPattern }.map { $0.section + " " + $0.name })
        XCTAssertGreaterThan(keys.count, 45, "the reader's keys were found")
        let man = try page("sisync.conf.5")
        for key in keys.sorted() {
            let parts = key.split(separator: " ")
            XCTAssertTrue(man.contains(".SH [\(parts[0])]"), "section [\(parts[0])]")
            XCTAssertTrue(man.contains(String(parts[1])), "sisync.conf(5) has [\(parts[0])] \(parts[1])")
        }
        // The keys the reader takes by pattern.
        let patterns = Set(ConfigKey.table.filter(\.isPattern).map(\.name))
        for pattern in patterns.union(["ENTITY_url", "ENTITY.max_deactivate_percent", "ENTITY.max_deactivate_count", "school.ID"]).sorted() {
            XCTAssertTrue(man.contains(pattern), pattern)
        }
        // And none of them is unknown to the reader: each documented key loads.
        for (section, key, value) in [("source", "staff_url", "https://sis.example.org/staff.csv"), ("guard", "students.max_deactivate_count", "3"),
                                      ("portal", "school.101", "Riverside Elementary")] {
            let text = "[source]\nurl = /srv/export/\n" + (section == "source" ? "" : "[\(section)]\n") + "\(key) = \(value)\n"
            XCTAssertNoThrow(try Configuration.parse(text: text, path: "/etc/sisync/sisync.conf"))
        }
    }

    /// Issue 27 part 4: every key of the table is a bold term of its own section of
    /// sisync.conf(5), and config/sisync.conf shows it (`key =`, commented out or not).
    func testEachKeyOfTheTableIsDocumentedInItsSectionAndTheExample() throws {
        let man = try page("sisync.conf.5")
        var sections: [String: String] = [:]
        for chunk in man.components(separatedBy: "\n.SH ").dropFirst() {
            let title = String(chunk.prefix { $0 != "\n" })
            if title.hasPrefix("[") { sections[String(title.dropFirst().dropLast())] = chunk }
        }
        let example = try read("config/sisync.conf").split(separator: "\n").compactMap { line -> String? in
            let text = line.hasPrefix("#") ? line.dropFirst().drop { $0 == " " } : Substring(line)
            guard let eq = text.range(of: " =") else { return nil }
            return String(text[..<eq.lowerBound])
        }
        for key in ConfigKey.table {
            let terms = (sections[key.section] ?? "").split(separator: "\n").filter { $0.hasPrefix(".B") }.flatMap {
                $0.split(separator: " ").dropFirst().map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\",();")) }
            }
            XCTAssertTrue(terms.contains(key.name), "sisync.conf(5) section [\(key.section)] has \(key.name) in bold")
            XCTAssertTrue(example.contains { key.isPattern ? key.matches($0) : $0 == key.name }, "config/sisync.conf shows \(key.name)")
        }
    }

    /// Issue 28: the page has every command of the registry (the list `--help` is written
    /// from) and every option a command takes.
    func testSisyncctlPageHasEveryRegisteredCommandAndOption() throws {
        let man = try page("sisyncctl.8")
        XCTAssertGreaterThan(CommandRegistry.commands.count, 40)
        for command in CommandRegistry.commands {
            let words = CommandRegistry.words(of: command)
            XCTAssertTrue(man.contains(command.name) || Self.listed(words, in: man), "sisyncctl(8) has `\(command.name)`")
            for option in command.options { XCTAssertTrue(man.contains("--" + option.name), "sisyncctl(8) has --\(option.name) of \(command.name)") }
        }
        for option in CommandRegistry.globalOptions { XCTAssertTrue(man.contains("--" + option.name), "sisyncctl(8) has --\(option.name)") }
        for option in ["--config", "--db", "--tenant", "--tenants", "--json", "--wait", "--help", "--dry-run", "--allow-mass-deactivation", "--force",
                       "--limit", "--inactive", "--all", "--search", "--username", "--email", "--name", "--approved", "--reason", "--until", "--student",
                       "--household", "--donor", "--school", "--user", "--code", "--pdf", "--grade", "--without-pairing", "--group", "--include-deleted",
                       "--deleted", "--default", "--max", "--into", "--buildings", "--building", "--grant", "--to", "--schema"] {
            XCTAssertTrue(man.contains(option), "sisyncctl(8) has \(option)")
        }
        for code in ["0", "1", "64", "65", "69", "73", "75", "78"] { XCTAssertTrue(man.contains(".B \(code)\n"), "exit \(code)") }
    }

    /// `user role add|remove`: the page lists `remove` after `user role`.
    private static func listed(_ words: [String], in man: String) -> Bool {
        guard words.count >= 2 else { return false }
        return man.components(separatedBy: "\n").contains { line in
            line.contains(words.dropLast().joined(separator: " ")) && line.split(whereSeparator: { " |,".contains($0) }).contains { $0 == words.last! }
        }
    }

    /// Issue 26 item 13: both units write no core dump and are bounded in memory and tasks,
    /// with the values the README documents; sisync.service loads the credential of every
    /// auth (a missing file is skipped, so it starts with any), and the README's table of
    /// secrets and the example configuration name the same files.
    func testUnitsLimitCoreMemoryAndTasksAndLoadEveryAuthsSecret() throws {
        let readme = try read("README.md")
        let section = try XCTUnwrap(readme.components(separatedBy: "## Install and run as a service").dropFirst().first?
            .components(separatedBy: "\n## ").first)
        for unit in ["sisync.service", "sisync-tenants.service"] {
            let lines = try read("systemd/" + unit).split(separator: "\n").map(String.init)
            func value(_ key: String) -> String? { lines.last { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) } }
            XCTAssertEqual(value("LimitCORE"), "0", unit)
            let memory = try XCTUnwrap(value("MemoryMax"), unit), tasks = try XCTUnwrap(value("TasksMax"), unit)
            XCTAssertTrue(section.contains("`MemoryMax=\(memory)`") && section.contains("`TasksMax=\(tasks)`"), "README documents \(unit)'s limits")
            // Four times the measured peak (a whole-district rekey, the largest run), as the
            // comment and the README say.
            let megabytes = try XCTUnwrap(Int(memory.dropLast()), memory)
            XCTAssertTrue(memory.hasSuffix("M") && megabytes >= 4 * 849, memory)
            XCTAssertTrue(section.contains("849 MB"), "README names the measured peak")
        }
        let unit = try read("systemd/sisync.service")
        let conf = try read("config/sisync.conf")
        for (key, name) in [("token_file", "sis-token"), ("password_file", "sis-password"), ("client_secret_file", "sis-client-secret"),
                            ("database_password_file", "pg-password")] {
            XCTAssertTrue(SourceCredentials.unitCredentials.contains(name), name)
            XCTAssertTrue(unit.contains("\nLoadCredential=\(name)\n"), name)
            XCTAssertTrue(section.contains("`\(key) = \(name)`") && section.contains("`/etc/credstore/\(name)`"), "README: \(key)")
            XCTAssertTrue(conf.contains("\(key) = \(name)\n"), "sisync.conf: \(key)")
        }
        XCTAssertFalse(unit.contains("LoadCredential=sis-token:"), "no path: systemd skips a missing /etc/credstore file only then")
    }

    func testSisyncdPageHasEveryOptionSignalExitCodeAndMessageID() throws {
        let man = try page("sisyncd.8")
        for option in ["--config", "--once", "--dry-run", "--allow-mass-deactivation", "--version", "--tenants", "--max-tenants", "--max-parallel-runs",
                       "--metrics-file", "--help"] {
            XCTAssertTrue(man.contains(option), option)
            XCTAssertTrue(DaemonCommand.usage.contains(option) || option == "--help", "\(option) is an option of sisyncd")
        }
        for signal in ["SIGUSR1", "SIGHUP", "SIGTERM", "SIGINT"] { XCTAssertTrue(man.contains(signal), signal) }
        // Every section heading is a request of its own line (not run into the text before it).
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS", "FILES", "ENVIRONMENT", "JOURNAL", "EXAMPLES", "SEE ALSO"] {
            XCTAssertTrue(man.contains("\n.SH \(heading)\n"), heading)
        }
        XCTAssertEqual(man.components(separatedBy: ".SH").count - 1, 11, "no heading run into a line")
        for code in ["0", "64", "65", "69", "70", "73", "75", "78"] { XCTAssertTrue(man.contains(".B \(code)\n"), "exit \(code)") }
        for type in LogEventType.allCases {
            XCTAssertTrue(man.contains(type.rawValue) && man.contains(type.name), "sisyncd(8) has \(type.name) \(type.rawValue)")
        }
        for file in ["/etc/sisync/sisync.conf", "/etc/sisync/tenants.d/", "/var/lib/sisync/sisync.db", "/etc/credstore/"] {
            XCTAssertTrue(man.contains(file), file)
        }
    }

    /// The shared libraries a built executable loads (direct and indirect), by file name, as
    /// the dynamic loader resolves them for this host.
    private func loadedLibraries(_ name: String) throws -> [String] {
        let binary = productsDirectory.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary), "\(binary) is built (swift build --build-tests builds it)")
        let r = try tool("/usr/bin/ldd", [binary])
        XCTAssertEqual(r.code, 0, r.err)
        return r.out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map { String($0.trimmingCharacters(in: .whitespaces)) } }
    }

    /// Issue 27 part 3: sisyncd links only the engine, so a host that only syncs loads no
    /// pango, cairo, glib or harfbuzz (nor the fonts they need); sisyncctl, which draws the
    /// parent letters, does. The sisyncctl half shows that the check sees them when present.
    func testSisyncdLoadsNoPangoCairoOrGlibAndSisyncctlDoes() throws {
        let drawing = ["libpango", "libcairo", "libglib-", "libgobject-", "libharfbuzz"]
        func drawingLibraries(_ libraries: [String]) -> [String] {
            libraries.filter { library in drawing.contains { library.hasPrefix($0) } }
        }
        XCTAssertEqual(drawingLibraries(try loadedLibraries("sisyncd")), [], "sisyncd loads no drawing library")
        let control = drawingLibraries(try loadedLibraries("sisyncctl"))
        for library in ["libpangocairo-1.0.so.0", "libcairo.so.2", "libglib-2.0.so.0"] {
            XCTAssertTrue(control.contains(library), "sisyncctl loads \(library): \(control)")
        }
    }

    func testManPagesFormatWithoutWarnings() throws {
        for name in ["sisyncd.8", "sisyncctl.8", "sisync.conf.5"] {
            let r = try tool("/usr/bin/man", ["--warnings", "-E", "UTF-8", "-l", Self.root + "/man/" + name])
            XCTAssertEqual(r.code, 0, r.err)
            XCTAssertEqual(r.err, "", "\(name): groff warnings")
            XCTAssertTrue(r.out.contains("NAME"), r.out)
        }
    }

    /// One version everywhere a reader meets it: `--version` and the User-Agent
    /// (`SisyncVersion`), each manual page's header, the newest entry of the Debian
    /// changelog (the package's own version) and the README's package name. Version 0.3
    /// shipped with 0.2.0 left in all but the code.
    func testEveryPlaceNamesTheOneVersion() throws {
        let version = SisyncVersion.current
        for name in ["sisyncd.8", "sisyncctl.8", "sisync-api.8", "sisync.conf.5"] {
            let header = try read("man/" + name).split(separator: "\n").first { $0.hasPrefix(".TH ") } ?? ""
            XCTAssertTrue(header.contains("\"sisync \(version)\""), "\(name): \(header)")
        }
        let newest = try read("packaging/debian/changelog").split(separator: "\n").first ?? ""
        XCTAssertTrue(newest.hasPrefix("sisync (\(version)) "), String(newest))
        let named = try read("README.md") + page("sisyncd.8")
        let deb = try NSRegularExpression(pattern: "sisync_([^_ ]+)_amd64\\.deb")
        let packages = Set(deb.matches(in: named, range: NSRange(named.startIndex..., in: named)).map { (named as NSString).substring(with: $0.range(at: 1)) })
        XCTAssertEqual(packages, [version], "the .deb the README and sisyncd(8) install")
    }

    func testBashCompletionCompletesCommandsSubcommandsAndOptions() throws {
        let script = """
            source \(Self.root)/contrib/bash-completion/sisyncctl
            t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _sisyncctl; echo "${COMPREPLY[*]}"; }
            complete -p sisyncctl
            t sisyncctl ru
            t sisyncctl run a
            t sisyncctl --json access le
            t sisyncctl access letters --w
            t sisyncctl user role ""
            t sisyncctl sync --a
            t sisyncctl role set X Y --default ""
            t sisyncctl --config /etc/sisync/sisync.conf st
            compgen -W "$(t sisyncctl "")" -- acc
            """
        let r = try tool("/bin/bash", ["--norc", "-c", script])
        XCTAssertEqual(r.code, 0, r.err)
        XCTAssertEqual(r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), [
            "complete -F _sisyncctl sisyncctl", "runs run", "approve", "letters", "--without-pairing --wait", "add remove",
            "--allow-mass-deactivation", "none view edit owner", "status staff student store", "access", "access-check", "",
        ])
    }

    /// Issue 28: completion offers every registered command, word by word, and every
    /// option it takes, and every global option.
    func testBashCompletionHasEveryRegisteredCommandAndOption() throws {
        var script = """
            source \(Self.root)/contrib/bash-completion/sisyncctl
            t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _sisyncctl; echo "${COMPREPLY[*]}"; }

            """
        var expected: [(line: String, word: String)] = []
        func quoted(_ words: [String]) -> String { words.map { "'\($0)'" }.joined(separator: " ") }
        for command in CommandRegistry.commands {
            let words = CommandRegistry.words(of: command)
            for i in words.indices {
                script += "t sisyncctl \(quoted(Array(words.prefix(i)))) ''\n"
                expected.append(("completing `\(words.prefix(i).joined(separator: " "))`", words[i]))
            }
            for option in command.options {
                script += "t sisyncctl \(quoted(words)) --\n"
                expected.append(("options of `\(command.name)`", "--" + option.name))
            }
        }
        for option in CommandRegistry.globalOptions {
            script += "t sisyncctl --\n"
            expected.append(("global options", "--" + option.name))
        }
        let r = try tool("/bin/bash", ["--norc", "-c", script])
        XCTAssertEqual(r.code, 0, r.err)
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.count, expected.count + 1)
        for (line, want) in zip(lines, expected) {
            XCTAssertTrue(line.split(separator: " ").contains { $0 == want.word }, "\(want.line) offers \(want.word): \(line)")
        }
    }

    func testAlertRulesPassPromtoolAndTheirTests() throws {
        let dir = Self.root + "/contrib/prometheus"
        let check = try tool("/usr/bin/promtool", ["check", "rules", "sisync.rules.yml"], directory: dir)
        XCTAssertEqual(check.code, 0, check.out + check.err)
        XCTAssertTrue(check.out.contains("SUCCESS: 8 rules found"), check.out)
        let test = try tool("/usr/bin/promtool", ["test", "rules", "sisync.rules.test.yml"], directory: dir)
        XCTAssertEqual(test.code, 0, test.out + test.err)
        // Every metric an alert uses is one sisyncd or sisync-api writes (or node_exporter's own).
        let rules = try read("contrib/prometheus/sisync.rules.yml")
        let written = MetricsFile.text(last: RunSummary(runID: 1, startedAt: "2026-12-01T08:00:00Z", ending: .failed(.software, message: "x"), dryRun: false, actor: "sync", trigger: .schedule),
                                       totals: MetricsFile.Totals()) + APIMetrics().text()
            + WebhookEndpointMetrics.text([WebhookEndpointMetrics(endpoint: "app", deliveredThrough: 1, lagEvents: 0, lagSeconds: 0, failures: 0, paused: false, maxLagSeconds: 900)])
        let regex = try NSRegularExpression(pattern: #"\b(sisync_[a-z_]+)"#)
        for m in regex.matches(in: rules, range: NSRange(rules.startIndex..., in: rules)) {
            let name = String(rules[Range(m.range(at: 1), in: rules)!])
            XCTAssertTrue(written.contains("\n\(name)") || written.contains("# TYPE \(name) "), "\(name) is written")
        }
    }
}
