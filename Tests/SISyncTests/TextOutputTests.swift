import Foundation
import XCTest
@testable import SISync
@testable import SISyncControl

/// Issue 28, "Text output for people": the built sisyncctl as a child process, as an
/// administrator runs it (local times, tables that fit, the pager, --limit, escaped export
/// errors, names in histories and held runs, the actor of a command without $USER).
final class TextOutputTests: XCTestCase {
    private func ctl(_ w: Workspace, _ args: [String], _ environment: [String: String] = [:]) throws -> (code: Int32, stdout: String, stderr: String) {
        try runProcess("sisyncctl", ["--config", w.configPath] + args, environment: ["USER": "admin", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"].merging(environment) { $1 })
    }

    private func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// Staff with long names and emails, synced once.
    private func syncedWorkspace(staff n: Int = 6) -> Workspace {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV((1...n).map { ("S\($0)", "Maximiliana\($0)", "Vandersloot-Kowalczyk", "maximiliana.vandersloot-kowalczyk\($0)@riverside-unified.example.org") }))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        return w
    }

    /// Times in text are local (TZ) with the zone's name; --json keeps RFC 3339 UTC.
    func testTimesInTextAreLocalWithTheZoneAndJSONStaysUTC() throws {
        let w = syncedWorkspace()
        let runs = try ctl(w, ["--json", "runs"], ["TZ": "America/New_York"])
        XCTAssertEqual(runs.code, 0, runs.stderr)
        let started = try XCTUnwrap(((try json(runs.stdout) as? [[String: Any]])?.first?["started_at"]) as? String)
        XCTAssertTrue(started.hasSuffix("Z"), "JSON stays UTC: \(started)")
        // The expected local time, from Foundation's own zone data rather than the code's.
        let date = try XCTUnwrap(Timestamp.parse(started))
        let zone = try XCTUnwrap(TimeZone(identifier: "America/New_York"))
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm"
        let local = f.string(from: date) + (zone.isDaylightSavingTime(for: date) ? " EDT" : " EST")
        for args in [["runs"], ["run", "show", "1"]] {
            let text = try ctl(w, args, ["TZ": "America/New_York"])
            XCTAssertEqual(text.code, 0, text.stderr)
            XCTAssertTrue(text.stdout.contains(local), "\(args): \(local) in\n\(text.stdout)")
            XCTAssertFalse(text.stdout.contains(started), "no UTC time in text: \(text.stdout)")
        }
        let utc = try ctl(w, ["run", "show", "1"], ["TZ": "UTC"])
        XCTAssertTrue(utc.stdout.contains(String(started.prefix(10)) + " " + started.dropFirst(11).prefix(5) + " UTC"), utc.stdout)
    }

    /// Tables fit $COLUMNS (80 when not a terminal): the widest text column is cut, and
    /// cut text ends with `…`.
    func testTablesFitTheWidthAndCutTextEndsWithAnEllipsis() throws {
        let w = syncedWorkspace()
        let narrow = try ctl(w, ["staff", "list"], ["COLUMNS": "40"])
        XCTAssertEqual(narrow.code, 0, narrow.stderr)
        let lines = narrow.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 8, narrow.stdout)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 40, "\(line)") }
        XCTAssertTrue(lines[1].contains("…"), narrow.stdout)
        XCTAssertTrue(lines[1].hasPrefix("S1 "), "ids are not cut: \(narrow.stdout)")
        let fallback = try ctl(w, ["staff", "list"])
        for line in fallback.stdout.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 80, "\(line)") }
        XCTAssertFalse(fallback.stdout.contains("maximiliana.vandersloot-kowalczyk1@riverside-unified.example.org"), "80 columns without COLUMNS")
        let wide = try ctl(w, ["staff", "list"], ["COLUMNS": "300"])
        XCTAssertTrue(wide.stdout.contains("maximiliana.vandersloot-kowalczyk1@riverside-unified.example.org"), wide.stdout)
        XCTAssertFalse(wide.stdout.contains("…"), wide.stdout)
    }

    /// Column headers say words, not `+ ~ - ↺`.
    func testRunsColumnHeadersAreWords() throws {
        let w = syncedWorkspace()
        let runs = try ctl(w, ["runs"], ["COLUMNS": "200"])
        XCTAssertEqual(runs.code, 0, runs.stderr)
        let header = try XCTUnwrap(runs.stdout.split(separator: "\n").first).split(separator: " ").map(String.init)
        XCTAssertEqual(header, ["run", "started", "outcome", "by", "added", "changed", "deactivated", "reactivated", "error"])
        let row = try XCTUnwrap(runs.stdout.split(separator: "\n").dropFirst().first)
        XCTAssertTrue(row.contains("applied  sync  6      0        0            0"), "\(row)")
    }

    /// --limit cuts the long listings (text and JSON) and says what it left out; a limit
    /// that is not a positive number is exit 64.
    func testLimitCutsLongListings() throws {
        let w = syncedWorkspace()
        let show = try ctl(w, ["run", "show", "1", "--limit", "2"])
        XCTAssertEqual(show.code, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("changes (6):\n    added staff S1\n    added staff S2\n    … and 4 more (--limit)\n"), show.stdout)
        let shown = try XCTUnwrap(try json(try ctl(w, ["--json", "run", "show", "1", "--limit", "2"]).stdout) as? [String: Any])
        XCTAssertEqual((shown["changes"] as? [Any])?.count, 2)
        let staff = try ctl(w, ["staff", "list", "--limit", "1"])
        XCTAssertEqual(staff.stdout.split(separator: "\n").count, 4, staff.stdout)
        XCTAssertTrue(staff.stdout.hasSuffix("… and 5 more (--limit)\n6 staff\n"), staff.stdout)
        XCTAssertEqual(try ctl(w, ["user", "add", "--username", "ann", "--email", "ann@x.org"]).code, 0)
        XCTAssertEqual(try ctl(w, ["user", "approve", "ann"]).code, 0)
        XCTAssertEqual(try ctl(w, ["user", "unapprove", "ann"]).code, 0)
        let user = try ctl(w, ["user", "show", "ann", "--limit", "1"])
        XCTAssertTrue(user.stdout.contains("  history:\n    … and 2 earlier (--limit)\n"), user.stdout)
        XCTAssertEqual(user.stdout.components(separatedBy: "(admin): ").count, 2, "one entry, the newest: \(user.stdout)")
        XCTAssertTrue(user.stdout.contains("updated users ann approved: `true` → `false`"), user.stdout)
        for bad in ["0", "-3", "ten"] {
            let refused = try ctl(w, ["runs", "--limit", bad])
            XCTAssertEqual(refused.code, 64, refused.stderr)
            XCTAssertTrue(refused.stderr.contains("--limit takes a positive number, got `\(bad)`"), refused.stderr)
        }
    }

    /// An export's text in a run's error (here its header) is escaped in text output, so it
    /// cannot drive the terminal, and clipped; JSON keeps it whole.
    func testControlCharactersInARecordedErrorAreEscapedAndClipped() throws {
        let w = Workspace()
        let c = w.configure()
        // Long names: a message shows a header's first 20 names (ExportError.names).
        let columns = (1...5).map { "column\($0)" + String(repeating: "x", count: 400) }.joined(separator: ",")
        w.write("staff.csv", "staff_idx,first_name,last_name,email,\u{1b}[2J\u{07}evil\ttab,\(columns)\n1,a,b,c@d.org,x\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .failed)
        for args in [["run", "show", "1"], ["runs"], ["status"]] {
            let text = try ctl(w, args, ["COLUMNS": "1000"])
            XCTAssertEqual(text.code, 0, text.stderr)
            XCTAssertFalse(text.stdout.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 || $0 == "\t" }, "\(args): \(text.stdout)")
            XCTAssertTrue(text.stdout.contains("email, \\u{1B}[2j\\u{7}evil\\ttab, column1"), "\(args): \(text.stdout)")
            let line = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.contains("required column") })
            XCTAssertLessThanOrEqual(line.count, PrintableText.defaultLimit + 100, "\(args): clipped")
            XCTAssertTrue(line.hasSuffix("…"), "\(args): \(line)")
        }
        let recorded = try XCTUnwrap(try json(try ctl(w, ["--json", "run", "show", "1"]).stdout) as? [String: Any])
        XCTAssertTrue((recorded["error"] as? String)?.contains("\u{1b}[2j\u{07}evil\ttab, column1") == true)
        XCTAssertTrue((recorded["error"] as? String)?.contains("column5" + String(repeating: "x", count: 400) + ")") == true)
    }

    /// `user show` names the role and the staff member in its history (issue 28: two
    /// lines of `role_granted users tbrown` said neither).
    func testUserShowHistoryNamesTheRoleAndTheStaffID() throws {
        let w = syncedWorkspace()
        for args in [["user", "add", "--username", "tbrown", "--email", "tb@x.org"], ["user", "link", "tbrown", "S3", "--reason", "covers S3"],
                     ["user", "role", "add", "tbrown", "Finance"], ["user", "role", "add", "tbrown", "Payroll"],
                     ["user", "role", "remove", "tbrown", "Payroll"], ["user", "unlink", "tbrown"]] {
            let done = try ctl(w, args)
            XCTAssertEqual(done.code, 0, "\(args): \(done.stderr)")
        }
        let text = try ctl(w, ["user", "show", "tbrown"]).stdout
        for line in ["linked users tbrown to staff S3 (manual: covers S3)", "role_granted users tbrown: Finance", "role_granted users tbrown: Payroll",
                     "role_revoked users tbrown: Payroll", "unlinked users tbrown from staff S3"] {
            XCTAssertTrue(text.contains(line + "\n"), "\(line) in:\n\(text)")
        }
    }

    /// A held run's `run show` names the people beside their ids and says what the plan
    /// would do ("would deactivate"), as nothing of it was applied.
    func testHeldRunShowNamesPeopleAndSaysWouldDeactivate() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        var rows = Array(manyStaff(100).prefix(80))
        rows[0].3 = "s1.new@district.org"
        w.write("staff.csv", staffCSV(rows))
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked)
        let id = try XCTUnwrap(held.summary.runID)
        let text = try ctl(w, ["run", "show", String(id)]).stdout
        XCTAssertTrue(text.contains("changes the held plan would make (21):"), text)
        XCTAssertTrue(text.contains("    would deactivate staff S81 First81 Last81 (absent)\n"), text)
        XCTAssertTrue(text.contains("    would change staff S1 First1 Last1 email: `user1@district.org` → `s1.new@district.org`\n"), text)
        XCTAssertEqual(text.components(separatedBy: "would deactivate staff ").count - 1, 20, text)
        XCTAssertFalse(text.contains("    deactivated staff"), text)
        // An applied run keeps the kinds as recorded.
        XCTAssertTrue(try ctl(w, ["run", "show", "1", "--limit", "1"]).stdout.contains("    added staff S1\n"))
    }

    /// A command without $USER is recorded as SUDO_USER, else as the account of its uid;
    /// never "unknown".
    func testActorWithoutUSERIsSudoUserElseTheAccount() throws {
        let w = syncedWorkspace()
        let bare = ["PATH": "/usr/bin:/bin"]
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "user", "add", "--username", "u1", "--email", "u1@x.org"], environment: bare).code, 0)
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "user", "approve", "u1"], environment: bare.merging(["SUDO_USER": "alice"]) { $1 }).code, 0)
        let shown = try XCTUnwrap(try json(try ctl(w, ["--json", "user", "show", "u1"]).stdout) as? [String: Any])
        let actors = try XCTUnwrap(shown["history"] as? [[String: Any]]).compactMap { $0["actor"] as? String }
        let account = try XCTUnwrap(CommandActor.accountName(uid: getuid()))
        XCTAssertEqual(actors, [account, "alice"])
        XCTAssertFalse(actors.contains("unknown"))
    }
}
