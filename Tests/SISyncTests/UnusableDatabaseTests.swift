import Foundation
import XCTest
@testable import SISync

/// Issue 26 item 17: a SQLite database sisync cannot write, a file that is not a database
/// and a damaged one end with exit 73 (78 for a path that cannot be a database), naming the
/// file and what to do; never exit 70 or SQLite's bare code. An administrator who may only
/// read the database still has the read commands.
final class UnusableDatabaseTests: XCTestCase {
    private static let nobody: uid_t = 65534

    /// A SQLite workspace after one applied run of three staff, with user `u1`.
    private func synced() throws -> Workspace {
        let w = Workspace(sqlite: true)
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u1", "--email", "user1@district.org"]).code, 0)
        return w
    }

    private func assertPlainMessage(_ text: String, naming path: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(text.contains(path), text, file: file, line: line)
        XCTAssertFalse(text.contains("database error"), text, file: file, line: line)
        XCTAssertFalse(text.contains("interrupted"), "nothing was interrupted: \(text)", file: file, line: line)
    }

    /// A database, `-wal` and `-shm` the administrator may read (0644, root's) in a folder
    /// they may not write: `status`, `staff list`, `runs` and `explain` work while no sisync
    /// has it open; a write and `sisyncd --once` exit 73 saying this user may not write it
    /// (0.2 gave exit 70 and "database error 1544 ... PRAGMA journal_mode = WAL", and a
    /// run's message quoted "the run was interrupted (the process ended ...)" from its SQL).
    func testIssue26Item17AnAdministratorWhoMayOnlyReadHasTheReadCommands() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root to run the commands as another user (nobody)")
        guard FileManager.default.isExecutableFile(atPath: setprivPath) else { throw XCTSkip("needs \(setprivPath)") }
        let w = try synced()
        for suffix in ["", "-wal", "-shm"] { XCTAssertEqual(chmod(w.sqlitePath + suffix, 0o644), 0, suffix) }
        func ctl(_ args: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
            try runProcess("sisyncctl", ["--config", w.configPath] + args, as: Self.nobody)
        }
        for command in [["status"], ["staff", "list"], ["runs"], ["explain", "u1"], ["user", "list"]] {
            let r = try ctl(command)
            XCTAssertEqual(r.code, 0, "\(command): \(r.stderr)")
        }
        XCTAssertTrue(try ctl(["staff", "list"]).stdout.contains("S3"))
        let add = try ctl(["user", "add", "--username", "u2", "--email", "user2@district.org"])
        XCTAssertEqual(add.code, 73, add.stderr)
        XCTAssertTrue(add.stderr.contains("cannot write the database: this user (uid 65534) may read it but not write it"), add.stderr)
        assertPlainMessage(add.stderr, naming: w.sqlitePath)
        let sync = try ctl(["sync"])
        XCTAssertEqual(sync.code, 73, sync.stdout + sync.stderr)
        assertPlainMessage(sync.stdout, naming: w.sqlitePath)
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"], as: Self.nobody)
        XCTAssertEqual(once.code, 73, once.stderr)
        assertPlainMessage(once.stderr, naming: w.sqlitePath)
        XCTAssertNil(try w.store().accounts.user("u2"))
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 5).count, 1)
    }

    /// Without `-wal` and `-shm` (a database another tool closed) reading it needs them made
    /// in the folder: exit 73 saying the folder is not writable, not SQLite's 1544.
    func testIssue26Item17AFolderThatIsNotWritableIsNamed() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root to run the commands as another user (nobody)")
        guard FileManager.default.isExecutableFile(atPath: setprivPath) else { throw XCTSkip("needs \(setprivPath)") }
        let w = try synced()
        XCTAssertEqual(unlink(w.sqlitePath + "-wal"), 0)
        XCTAssertEqual(unlink(w.sqlitePath + "-shm"), 0)
        XCTAssertEqual(chmod(w.sqlitePath, 0o644), 0)
        let status = try runProcess("sisyncctl", ["--config", w.configPath, "status"], as: Self.nobody)
        XCTAssertEqual(status.code, 73, status.stderr)
        XCTAssertTrue(status.stderr.contains("may not create files in its folder \(w.root)/db, where SQLite keeps its -wal and -shm files"), status.stderr)
        assertPlainMessage(status.stderr, naming: w.sqlitePath)
    }

    /// A database this user may not read at all (0.2's root made it root's, where the
    /// service keeps it): exit 73 saying so and how to give it to the service's user.
    func testIssue26Item17ADatabaseThisUserMayNotReadIsNamed() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root to run the commands as another user (nobody)")
        guard FileManager.default.isExecutableFile(atPath: setprivPath) else { throw XCTSkip("needs \(setprivPath)") }
        let w = try synced()
        XCTAssertEqual(chmod(w.sqlitePath, 0o600), 0)
        XCTAssertEqual(chmod(w.root + "/db", 0o777), 0)
        for args in [["sisyncctl", "--config", w.configPath, "status"], ["sisyncd", "--config", w.configPath, "--once"]] {
            let r = try runProcess(args[0], Array(args.dropFirst()), as: Self.nobody)
            XCTAssertEqual(r.code, 73, r.stderr)
            XCTAssertTrue(r.stderr.contains("this user (uid 65534) may not read the database") && r.stderr.contains("chown --reference=\(w.root)/db \(w.sqlitePath)"), r.stderr)
            assertPlainMessage(r.stderr, naming: w.sqlitePath)
        }
    }

    /// A file that is not a database, and a damaged one: exit 73 from sisyncctl and sisyncd,
    /// naming the file and what to do (0.2: "database error 26", exit 70 from sisyncd).
    func testIssue26Item17NotADatabaseAndADamagedOneExit73() throws {
        let w = try synced()
        let good = try Data(contentsOf: URL(fileURLWithPath: w.sqlitePath))
        for suffix in ["-wal", "-shm"] { XCTAssertEqual(unlink(w.sqlitePath + suffix), 0) }
        w.write(w.sqlitePath, String(repeating: "these are not the rows you are looking for\n", count: 200))
        let status = w.ctl(["status"])
        XCTAssertEqual(status.code, 73, status.err)
        XCTAssertTrue(status.err.contains("\(w.sqlitePath) is not a sisync database") && status.err.contains("check [sync] database"), status.err)
        assertPlainMessage(status.err, naming: w.sqlitePath)
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 73, once.stderr)
        assertPlainMessage(once.stderr, naming: w.sqlitePath)

        // Page 1's table of tables overwritten: SQLite finds the file damaged.
        var damaged = good
        damaged.replaceSubrange(100..<300, with: [UInt8](repeating: 0xff, count: 200))
        try damaged.write(to: URL(fileURLWithPath: w.sqlitePath))
        let list = w.ctl(["staff", "list"])
        XCTAssertEqual(list.code, 73, list.err)
        XCTAssertTrue(list.err.contains("the database is damaged") && list.err.contains("restore it from a backup"), list.err)
        assertPlainMessage(list.err, naming: w.sqlitePath)
        let damagedOnce = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(damagedOnce.code, 73, damagedOnce.stderr)
        assertPlainMessage(damagedOnce.stderr, naming: w.sqlitePath)
    }

    /// A full disk is no bug of sisync's: SQLite's SQLITE_FULL (here from a page cap, as a
    /// full filesystem gives it) is exit 73 naming the database and what to do, not exit 70
    /// with "database error 13 (database or disk is full)" (review of item 17: root's
    /// `sisyncd --once` on a full filesystem exited 70). SQLITE_IOERR likewise.
    func testIssue26Item17AFullDiskIsExit73NotASoftwareError() throws {
        let w = Workspace(sqlite: true)
        try FileManager.default.createDirectory(atPath: w.root, withIntermediateDirectories: true)
        let path = w.root + "/full.db"
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE t (v BLOB)")
        try database.execute("PRAGMA max_page_count = 8")
        XCTAssertThrowsError(try database.execute("INSERT INTO t VALUES (zeroblob(200000))")) { error in
            guard let e = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(SyncRun.classify(e).exitCode, 73, e.description)
            XCTAssertTrue(e.description.hasPrefix(path + ": the disk holding the database is full"), e.description)
            XCTAssertTrue(e.description.contains("free space in \(w.root)"), e.description)
            XCTAssertFalse(e.description.contains("database error"), e.description)
        }
        let ioError = SQLiteDatabase.storeError(266 /* SQLITE_IOERR_READ */, message: "disk I/O error", sql: "COMMIT", path: path)
        XCTAssertEqual(SyncRun.classify(ioError).exitCode, 73, ioError.description)
        XCTAssertTrue(ioError.description.contains("could not read or write the database"), ioError.description)
    }

    /// `[sync] database` naming a directory cannot be a database: exit 78 (a configuration
    /// to correct), naming it.
    func testIssue26Item17ADirectoryAsTheDatabaseIsAConfigurationError() throws {
        let w = Workspace(sqlite: true)
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        try FileManager.default.createDirectory(atPath: w.sqlitePath, withIntermediateDirectories: true)
        let status = w.ctl(["status"])
        XCTAssertEqual(status.code, 78, status.err)
        XCTAssertTrue(status.err.contains("\(w.sqlitePath) is a directory; [sync] database must name a database file"), status.err)
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 78, once.stderr)
        XCTAssertTrue(once.stderr.contains("\(w.sqlitePath) is a directory"), once.stderr)
    }
}
