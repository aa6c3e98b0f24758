import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import SISync

/// `user passwd` and `user login` (issue 6): slow salted hashes, lockout at the fifth
/// failure, an unknown user answered like a wrong password.
final class LoginTests: XCTestCase {
    private func setUp(_ w: Workspace) {
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(2)))
        _ = w.sync(c)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ann", "--email", "ann@district.org", "--approved"]).code, 0)
    }

    func testPasswordIsStoredOnlyAsAYescryptHash() throws {
        let w = Workspace()
        setUp(w)
        XCTAssertEqual(w.ctl(["user", "passwd", "ann"], input: [""]).code, 1, "empty refused")
        let short = w.ctl(["user", "passwd", "ann"], input: ["short"])
        XCTAssertEqual(short.code, 1)
        XCTAssertTrue(short.err.contains("shorter than 10 characters"), short.err)
        XCTAssertEqual(w.ctl(["user", "passwd", "ann"], input: ["correct horse battery"]).code, 0)
        let db = try w.rawDatabase()
        let s = try db.prepare("SELECT password_hash FROM users WHERE username = 'ann'")
        XCTAssertTrue(try s.step())
        let hash = s.text(0)
        XCTAssertTrue(hash.hasPrefix("$y$"), hash)
        XCTAssertFalse(hash.contains("correct horse"))
        let dump = try w.dump().joined(separator: "\n")
        XCTAssertFalse(dump.contains("correct horse battery"), "never in the database, the change log included")
        XCTAssertTrue(try w.store().auditTrail.userHistory("ann").contains { $0.change.field == "password" && $0.change.new == "changed" })
        // Two hashes of one password differ (salted).
        XCTAssertNotEqual(try PasswordHash.make("correct horse battery"), try PasswordHash.make("correct horse battery"))
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["correct horse battery"]).code, 0)
    }

    func testFifthFailureLocksAndPasswdOrUnlockUnlocks() throws {
        let w = Workspace()
        setUp(w)
        XCTAssertEqual(w.ctl(["user", "passwd", "ann"], input: ["correct horse battery"]).code, 0)
        for i in 1...4 {
            let r = w.ctl(["user", "login", "ann"], input: ["wrong password \(i)"])
            XCTAssertEqual(r.code, 1)
            XCTAssertTrue(r.err.contains("wrong username or password"), r.err)
            XCTAssertFalse(try XCTUnwrap(w.store().accounts.user("ann")).locked, "not locked after \(i)")
        }
        // A success resets the count.
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["correct horse battery"]).code, 0)
        for i in 1...4 { XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["wrong \(i)"]).code, 1) }
        XCTAssertFalse(try XCTUnwrap(w.store().accounts.user("ann")).locked, "four in a row after a success")
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["wrong 5"]).code, 1)
        XCTAssertTrue(try XCTUnwrap(w.store().accounts.user("ann")).locked, "locked at exactly the fifth")
        let locked = w.ctl(["user", "login", "ann"], input: ["correct horse battery"])
        XCTAssertEqual(locked.code, 1)
        XCTAssertTrue(locked.err.contains("locked"), locked.err)
        XCTAssertEqual(w.ctl(["user", "unlock", "ann"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["correct horse battery"]).code, 0)
        for i in 1...5 { _ = w.ctl(["user", "login", "ann"], input: ["wrong \(i)"]) }
        XCTAssertTrue(try XCTUnwrap(w.store().accounts.user("ann")).locked)
        XCTAssertEqual(w.ctl(["user", "passwd", "ann"], input: ["a brand new passphrase"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["a brand new passphrase"]).code, 0, "a new password unlocks")
    }

    func testUnknownUserReadsLikeAWrongPasswordAndApprovalIsCheckedAtLogin() throws {
        let w = Workspace()
        setUp(w)
        XCTAssertEqual(w.ctl(["user", "passwd", "ann"], input: ["correct horse battery"]).code, 0)
        let unknown = w.ctl(["user", "login", "nobody"], input: ["correct horse battery"])
        let wrong = w.ctl(["user", "login", "ann"], input: ["not the password"])
        XCTAssertEqual(unknown.code, 1)
        XCTAssertEqual(unknown.err, wrong.err)
        XCTAssertEqual(unknown.out, wrong.out)
        XCTAssertEqual(w.ctl(["user", "unapprove", "ann"]).code, 0)
        let unapproved = w.ctl(["user", "login", "ann"], input: ["correct horse battery"])
        XCTAssertEqual(unapproved.code, 1)
        XCTAssertTrue(unapproved.err.contains("not approved"), unapproved.err)
    }

    /// Issue 26 item 7: every login path costs exactly one hash, with the parameters (cost)
    /// of a real one; counted through `PasswordHash.tally`, not by the clock.
    func testEveryLoginPathCostsExactlyOneHashOfTheSameCost() throws {
        let w = Workspace()
        setUp(w)
        for u in ["bob", "cy", "dee"] {
            XCTAssertEqual(w.ctl(["user", "add", "--username", u, "--email", "\(u)@district.org", "--approved"]).code, 0)
        }
        for u in ["ann", "cy", "dee"] { XCTAssertEqual(w.ctl(["user", "passwd", u], input: ["correct horse battery"]).code, 0) }
        XCTAssertEqual(w.ctl(["user", "unapprove", "cy"]).code, 0)
        for i in 1...5 { XCTAssertEqual(w.ctl(["user", "login", "dee"], input: ["wrong \(i)"]).code, 1) }
        let store = try w.store()
        XCTAssertTrue(try XCTUnwrap(store.accounts.user("dee")).locked)
        let realParameters = PasswordHash.parameters(of: try PasswordHash.make("correct horse battery"))
        XCTAssertEqual(realParameters, "$y$j9T", "cost 5")
        XCTAssertEqual(PasswordHash.parameters(of: PasswordHash.placeholder), realParameters, "the placeholder costs what a real hash costs")
        let paths: [(String, String, String, LoginOutcome)] = [
            ("unknown user", "nobody", "correct horse battery", .wrongPassword),
            ("user without a password", "bob", "correct horse battery", .wrongPassword),
            ("locked, wrong password", "dee", "not the password", .wrongPassword),
            ("locked, right password", "dee", "correct horse battery", .locked),
            ("unapproved, wrong password", "cy", "not the password", .wrongPassword),
            ("unapproved, right password", "cy", "correct horse battery", .notApproved),
            ("wrong password", "ann", "not the password", .wrongPassword),
            ("right password", "ann", "correct horse battery", .accepted),
        ]
        for (path, user, password, expected) in paths {
            let before = PasswordHash.tally.withLock { $0.count }
            XCTAssertEqual(try store.accounts.login(user, password: password, now: Date()), expected, path)
            let after = PasswordHash.tally.withLock { $0 }
            XCTAssertEqual(after.count - before, 1, "\(path): one hash")
            XCTAssertEqual(after.lastParameters, realParameters, "\(path): of the same cost")
        }
    }

    /// README "Security": `locked`/`unapproved` are told only to the right password; a wrong
    /// one gets the unknown user's answer, word for word (issue 26 item 7).
    func testLockedOrUnapprovedIsToldOnlyToTheRightPassword() throws {
        let w = Workspace()
        setUp(w)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "cy", "--email", "cy@district.org"]).code, 0)
        for u in ["ann", "cy"] { XCTAssertEqual(w.ctl(["user", "passwd", u], input: ["correct horse battery"]).code, 0) }
        for i in 1...5 { _ = w.ctl(["user", "login", "ann"], input: ["wrong \(i)"]) }
        XCTAssertTrue(try XCTUnwrap(w.store().accounts.user("ann")).locked)
        let unknown = w.ctl(["user", "login", "nobody"], input: ["not the password"])
        XCTAssertEqual(unknown.code, 1)
        XCTAssertEqual(unknown.err, "rejected: wrong username or password\n")
        for (what, user) in [("locked", "ann"), ("unapproved", "cy")] {
            for json in [false, true] {
                let args = (json ? ["--json"] : []) + ["user", "login", user]
                let wrong = w.ctl(args, input: ["not the password"])
                let asUnknown = w.ctl((json ? ["--json"] : []) + ["user", "login", "nobody"], input: ["not the password"])
                XCTAssertEqual(wrong.code, asUnknown.code, what)
                XCTAssertEqual(wrong.out, asUnknown.out, what)
                XCTAssertEqual(wrong.err, asUnknown.err, "\(what) with a wrong password reads like an unknown user")
            }
        }
        XCTAssertTrue(w.ctl(["user", "login", "ann"], input: ["correct horse battery"]).err.contains("locked"))
        XCTAssertTrue(w.ctl(["user", "login", "cy"], input: ["correct horse battery"]).err.contains("not approved"))
        XCTAssertTrue(try XCTUnwrap(w.store().accounts.user("ann")).locked, "still locked")
    }

    /// The built sisyncctl on a pseudo-terminal, as an administrator runs it.
    private func atTerminal(_ w: Workspace, _ args: [String]) throws -> PseudoTerminal {
        let pty = try PseudoTerminal()
        try pty.spawn(productsDirectory.appendingPathComponent("sisyncctl").path, ["--config", w.configPath] + args,
                      environment: ["USER": "admin", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"])
        return pty
    }

    /// Issue 26 item 18: at a terminal `user passwd` and `user login` prompt `Password:`
    /// with echo off, `passwd` asks again and refuses two different passwords; what was
    /// typed never shows, and echo is back on afterwards.
    func testPasswdAndLoginAtATerminalPromptWithoutEcho() throws {
        let w = Workspace()
        setUp(w)
        let set = try atTerminal(w, ["user", "passwd", "ann"])
        XCTAssertTrue(set.waitFor("Password: "), set.output)
        XCTAssertEqual(try set.localFlags() & tcflag_t(ECHO), 0, "echo is off while the prompt waits")
        set.type("correct horse battery\n")
        XCTAssertTrue(set.waitFor("Again: "), set.output)
        set.type("correct horse battery\n")
        XCTAssertEqual(set.waitForEnd(), .exited(0), set.output)
        XCTAssertTrue(set.output.contains("password of ann set"), set.output)
        XCTAssertFalse(set.output.contains("horse"), "the password is never echoed: \(set.output)")
        XCTAssertNotEqual(try set.localFlags() & tcflag_t(ECHO), 0, "echo is back on")
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["correct horse battery"]).code, 0, "from a pipe: one line, as before")

        let differ = try atTerminal(w, ["user", "passwd", "ann"])
        XCTAssertTrue(differ.waitFor("Password: "), differ.output)
        differ.type("a brand new passphrase\n")
        XCTAssertTrue(differ.waitFor("Again: "), differ.output)
        differ.type("a brand new passphrasf\n")
        XCTAssertEqual(differ.waitForEnd(), .exited(1), differ.output)
        XCTAssertTrue(differ.output.contains("the two passwords differ; nothing was changed"), differ.output)
        XCTAssertFalse(differ.output.contains("passphras"), differ.output)
        XCTAssertEqual(w.ctl(["user", "login", "ann"], input: ["correct horse battery"]).code, 0, "the old password stays")

        let login = try atTerminal(w, ["user", "login", "ann"])
        XCTAssertTrue(login.waitFor("Password: "), login.output)
        login.type("correct horse battery\n")
        XCTAssertEqual(login.waitForEnd(), .exited(0), login.output)
        XCTAssertTrue(login.output.contains("accepted"), login.output)
        XCTAssertFalse(login.output.contains("horse"), login.output)
        XCTAssertFalse(login.output.contains("Again"), "login asks once")
    }

    /// Issue 26 item 18: Ctrl-C at the prompt ends sisyncctl as SIGINT does, and the
    /// terminal's echo is restored on the way out; the half-typed password never shows.
    func testCtrlCAtThePasswordPromptRestoresEcho() throws {
        let w = Workspace()
        setUp(w)
        let pty = try atTerminal(w, ["user", "login", "ann"])
        XCTAssertTrue(pty.waitFor("Password: "), pty.output)
        pty.type("half-typed")
        XCTAssertEqual(try pty.localFlags() & tcflag_t(ECHO), 0)
        pty.type("\u{03}")
        XCTAssertEqual(pty.waitForEnd(), .signalled(SIGINT), pty.output)
        XCTAssertNotEqual(try pty.localFlags() & tcflag_t(ECHO), 0, "echo restored by the SIGINT handler")
        XCTAssertFalse(pty.output.contains("half-typed"), pty.output)
    }
}
