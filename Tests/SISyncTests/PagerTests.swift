import Foundation
import XCTest
@testable import SISync
@testable import SISyncControl

/// Issue 28: long output goes through $PAGER when standard output is a terminal, as git's
/// does; never with --no-pager, never into a pipe. The pager here is a script that keeps
/// what it is given in a file.
final class PagerTests: XCTestCase {
    private var root = ""

    override func setUp() {
        root = NSTemporaryDirectory() + "sisync-pager-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    /// A pager script that writes its standard input (and LESS) to `paged`.
    private func pagerScript() throws -> (script: String, paged: String) {
        let script = root + "/pager.sh", paged = root + "/paged.txt"
        try "#!/bin/sh\n{ echo \"LESS=$LESS\"; cat; } > '\(paged)'\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return (script, paged)
    }

    private func synced() -> Workspace {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(30)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        return w
    }

    private func atTerminal(_ w: Workspace, _ args: [String], pager: String) throws -> PseudoTerminal {
        let pty = try PseudoTerminal()
        try pty.spawn(productsDirectory.appendingPathComponent("sisyncctl").path, ["--config", w.configPath] + args,
                      environment: ["USER": "admin", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PAGER": pager])
        return pty
    }

    func testLongListingAtATerminalGoesThroughThePager() throws {
        let w = synced()
        let (script, paged) = try pagerScript()
        let pty = try atTerminal(w, ["run", "show", "1"], pager: script)
        XCTAssertEqual(pty.waitForEnd(), .exited(0), pty.output)
        let text = try String(contentsOfFile: paged, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("LESS=FRX\nrun 1: applied\n"), text)
        XCTAssertTrue(text.contains("    added staff S30\n"), text)
        XCTAssertFalse(pty.output.contains("added staff S30"), "nothing written past the pager: \(pty.output)")
    }

    func testNoPagerAtATerminalWritesDirectly() throws {
        let w = synced()
        let (script, paged) = try pagerScript()
        let pty = try atTerminal(w, ["run", "show", "1", "--no-pager"], pager: script)
        XCTAssertEqual(pty.waitForEnd(), .exited(0), pty.output)
        XCTAssertTrue(pty.output.contains("added staff S30"), pty.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: paged))
    }

    func testAPagerThatCannotStartLeavesTheOutputOnTheTerminal() throws {
        let w = synced()
        let pty = try atTerminal(w, ["run", "show", "1"], pager: root + "/no-such-pager -R")
        XCTAssertEqual(pty.waitForEnd(), .exited(0), pty.output)
        XCTAssertTrue(pty.output.contains("added staff S30"), pty.output)
    }

    func testNoPagerWhenOutputIsNotATerminal() throws {
        let w = synced()
        let (script, paged) = try pagerScript()
        let run = try runProcess("sisyncctl", ["--config", w.configPath, "run", "show", "1"], environment: ["USER": "admin", "PAGER": script])
        XCTAssertEqual(run.code, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("added staff S30"), run.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: paged))
    }

    /// In-process, the console says it is a terminal: the listing goes to the pager and
    /// nothing to standard output; a command that is no long listing is not paged.
    func testTheDecisionFollowsTheConsole() throws {
        let w = synced()
        let (script, paged) = try pagerScript()
        let console = CapturedConsole()
        console.outputColumns = 120
        let command = ControlCommand(console: console, environment: ["USER": "admin", "PAGER": script], log: MemoryLog())
        XCTAssertEqual(command.run(["--config", w.configPath, "runs"]), 0, console.stderr)
        XCTAssertEqual(console.stdout, "")
        XCTAssertTrue(try String(contentsOfFile: paged, encoding: .utf8).contains("run  started"))
        try FileManager.default.removeItem(atPath: paged)
        XCTAssertEqual(command.run(["--config", w.configPath, "--json", "runs"]), 0, console.stderr)
        XCTAssertEqual(command.run(["--config", w.configPath, "audit"]), 0, console.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: paged), "JSON and short output are not paged")
        XCTAssertTrue(console.stdout.hasPrefix("[\n"), console.stdout)
    }

    func testChoosingThePager() {
        XCTAssertEqual(Pager.chosen(environment: [:], outputIsTerminal: true, disabled: false)?.command, "less -FRX")
        XCTAssertEqual(Pager.chosen(environment: ["PAGER": "most -s"], outputIsTerminal: true, disabled: false)?.argv, ["most", "-s"])
        XCTAssertEqual(Pager.chosen(environment: ["PAGER": "less | tee x"], outputIsTerminal: true, disabled: false)?.argv, ["/bin/sh", "-c", "less | tee x"])
        XCTAssertNil(Pager.chosen(environment: [:], outputIsTerminal: false, disabled: false), "not a terminal")
        XCTAssertNil(Pager.chosen(environment: [:], outputIsTerminal: true, disabled: true), "--no-pager")
        XCTAssertNil(Pager.chosen(environment: ["PAGER": ""], outputIsTerminal: true, disabled: false))
        XCTAssertNil(Pager.chosen(environment: ["PAGER": "cat"], outputIsTerminal: true, disabled: false))
    }
}
