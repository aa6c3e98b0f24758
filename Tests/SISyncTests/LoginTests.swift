import XCTest
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
}
