import Foundation
import XCTest
@testable import SISync

/// Issue 26 items 1 and 12: root's sisyncctl and sisyncd work in a folder that belongs to
/// the service's user (`/var/lib/sisync`), who may plant links there. Every test here
/// makes such a folder (owned by `nobody`) and a file of root's for the links to point at,
/// and checks that file keeps its owner, mode and content. They need root.
final class StateFolderTests: XCTestCase {
    private static let nobody: uid_t = 65534

    /// A SQLite workspace whose database folder belongs to `nobody`, with root's file
    /// (0600, "root's secret") beside it.
    private func serviceFolder() throws -> (w: Workspace, folder: String, victim: String) {
        try XCTSkipUnless(geteuid() == 0, "needs root: the folder belongs to another user (nobody)")
        let w = Workspace(sqlite: true)
        let folder = w.root + "/db"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        XCTAssertEqual(chown(folder, Self.nobody, Self.nobody), 0)
        let victim = w.root + "/victim"
        w.write(victim, "root's secret\n")
        XCTAssertEqual(chmod(victim, 0o600), 0)
        return (w, folder, victim)
    }

    private func assertUntouched(_ victim: String, file: StaticString = #filePath, line: UInt = #line) {
        var st = stat()
        XCTAssertEqual(stat(victim, &st), 0, file: file, line: line)
        XCTAssertEqual(st.st_uid, 0, "the victim's owner", file: file, line: line)
        XCTAssertEqual(st.st_mode & 0o7777, 0o600, "the victim's mode", file: file, line: line)
        XCTAssertEqual(try? String(contentsOfFile: victim, encoding: .utf8), "root's secret\n", "the victim's content", file: file, line: line)
    }

    private func mode(_ path: String) -> (uid: uid_t, mode: mode_t)? {
        var st = stat()
        return lstat(path, &st) == 0 ? (st.st_uid, st.st_mode & 0o7777) : nil
    }

    /// Item 1: a symbolic link planted as `<db>.run.lock` or `<db>.lock` is never followed
    /// (root's `user approve`, `sisyncd --once` and `--tenants DIR status` re-owned, re-moded
    /// and emptied the file it pointed at); the command exits 73 naming the link.
    func testIssue26Item1LockFileLinksAreNeverFollowed() throws {
        let (w, folder, victim) = try serviceFolder()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "x", "--email", "x@district.org"]).code, 0)

        let runLock = folder + "/sisync.db.run.lock"
        try FileManager.default.removeItem(atPath: runLock)
        XCTAssertEqual(symlink(victim, runLock), 0)
        let approve = try runProcess("sisyncctl", ["--config", w.configPath, "user", "approve", "x"])
        XCTAssertEqual(approve.code, 73, approve.stderr)
        XCTAssertTrue(approve.stderr.contains("\(runLock) is a symbolic link"), approve.stderr)
        XCTAssertTrue(approve.stderr.contains("rm -- \(runLock)"), approve.stderr)
        XCTAssertEqual(try w.store().accounts.user("x")?.approved, false, "nothing was written")
        assertUntouched(victim)
        XCTAssertThrowsError(try RunLock.acquire(databasePath: w.sqlitePath, holder: "test", wait: 0)) { e in
            XCTAssertEqual(e as? StoreError, .unsafeFile(path: runLock, problem: "is a symbolic link"))
        }
        assertUntouched(victim)

        let daemonLock = folder + "/sisync.db.lock"
        try? FileManager.default.removeItem(atPath: daemonLock)
        XCTAssertEqual(symlink(victim, daemonLock), 0)
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 73, once.stderr)
        XCTAssertTrue(once.stderr.contains("\(daemonLock) is a symbolic link"), once.stderr)
        assertUntouched(victim)
        let tenants = w.root + "/tenants"
        try FileManager.default.createDirectory(atPath: tenants, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: w.configPath, toPath: tenants + "/a.conf")
        let status = try runProcess("sisyncctl", ["--tenants", tenants, "status"])
        XCTAssertTrue(status.stdout.contains("\(daemonLock) is a symbolic link"), status.stdout + status.stderr)
        assertUntouched(victim)
    }

    /// Item 1: a hard link, a FIFO or a directory where a lock file belongs is refused too
    /// (without waiting on the FIFO), and a lock file that is there already is used as it
    /// is: only a file this process has just created gets its owner and mode.
    func testIssue26Item1LockFilesMustBePlainFilesAndFoundOnesKeepOwnerAndMode() throws {
        let (w, folder, victim) = try serviceFolder()
        let runLock = folder + "/sisync.db.run.lock"
        XCTAssertEqual(link(victim, runLock), 0)
        XCTAssertThrowsError(try RunLock.acquire(databasePath: w.sqlitePath, holder: "test", wait: 0)) { e in
            XCTAssertEqual(e as? StoreError, .unsafeFile(path: runLock, problem: "has 2 hard links (it is another name of a file kept elsewhere)"))
        }
        XCTAssertEqual(unlink(runLock), 0)
        assertUntouched(victim)
        XCTAssertEqual(mkfifo(runLock, 0o644), 0)
        XCTAssertThrowsError(try RunLock.acquire(databasePath: w.sqlitePath, holder: "test", wait: 0)) { e in
            XCTAssertEqual(e as? StoreError, .unsafeFile(path: runLock, problem: "is not a regular file (a FIFO, socket or device)"))
        }
        XCTAssertEqual(unlink(runLock), 0)
        XCTAssertEqual(mkdir(runLock, 0o755), 0)
        XCTAssertThrowsError(try RunLock.acquire(databasePath: w.sqlitePath, holder: "test", wait: 0)) { e in
            XCTAssertEqual(e as? StoreError, .unsafeFile(path: runLock, problem: "is a directory"))
        }
        XCTAssertEqual(rmdir(runLock), 0)
        // A root-owned 0600 lock file found in the service's folder stays root's and 0600
        // (0.2 gave it to the folder's owner, 0644: a second name of root's file would have).
        XCTAssertTrue(FileManager.default.createFile(atPath: runLock, contents: nil, attributes: [.posixPermissions: 0o600]))
        let lock = try XCTUnwrap(RunLock.acquire(databasePath: w.sqlitePath, holder: "sisyncctl pid 1", wait: 0))
        XCTAssertEqual(mode(runLock)?.uid, 0)
        XCTAssertEqual(mode(runLock)?.mode, 0o600)
        XCTAssertEqual(try String(contentsOfFile: runLock, encoding: .utf8), "sisyncctl pid 1\n")
        lock.release()
        // A new one still goes to the folder's owner, 0644 whatever the umask.
        XCTAssertEqual(unlink(runLock), 0)
        let old = umask(0o077)
        defer { umask(old) }
        let fresh = try XCTUnwrap(RunLock.acquire(databasePath: w.sqlitePath, holder: "sisyncctl pid 2", wait: 0))
        XCTAssertEqual(mode(runLock)?.uid, Self.nobody)
        XCTAssertEqual(mode(runLock)?.mode, 0o644)
        fresh.release()
    }

    /// Item 1: the database, `-wal`, `-shm` and `-journal` are never reached through a link
    /// either; the command exits 73 naming the link, and SQLite opens nothing.
    func testIssue26Item1DatabaseFileLinksAreRefusedByName() throws {
        let (w, folder, victim) = try serviceFolder()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for suffix in ["-wal", "-shm", "-journal", ""] {
            let name = folder + "/sisync.db" + suffix
            let aside = name + ".aside"
            if FileManager.default.fileExists(atPath: name) { XCTAssertEqual(rename(name, aside), 0) }
            XCTAssertEqual(symlink(victim, name), 0)
            let add = w.ctl(["user", "add", "--username", "u\(suffix)", "--email", "u@district.org"])
            XCTAssertEqual(add.code, 73, add.err)
            XCTAssertTrue(add.err.contains("\(name) is a symbolic link"), "\(suffix): \(add.err)")
            let status = w.ctl(["status"])
            XCTAssertEqual(status.code, 73, status.err)
            assertUntouched(victim)
            XCTAssertEqual(unlink(name), 0)
            if FileManager.default.fileExists(atPath: aside) { XCTAssertEqual(rename(aside, name), 0) }
        }
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 0, once.stderr)
        XCTAssertNil(try w.store().accounts.user("u"), "no command wrote through a link")
        // The folder's own path may lead through a link (DynamicUser's /var/lib/sisync is one).
        let linked = w.root + "/linked"
        XCTAssertEqual(symlink(folder, linked), 0)
        XCTAssertEqual(w.ctl(["--db", linked + "/sisync.db", "status"]).code, 0)
    }

    /// Item 12: a new database is 0600 whatever the umask (it holds password hashes and
    /// access codes), and so are its `-wal` and `-shm`; made by root in the service's
    /// folder, all three go to the folder's owner, so the service can still write it.
    func testIssue26Item12NewDatabaseIs0600AndBelongsToTheFolderOwner() throws {
        let (w, folder, _) = try serviceFolder()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let old = umask(0o022)
        defer { umask(old) }
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for name in ["sisync.db", "sisync.db-wal", "sisync.db-shm"] {
            let found = try XCTUnwrap(mode(folder + "/" + name), name)
            XCTAssertEqual(found.mode, 0o600, name)
            XCTAssertEqual(found.uid, Self.nobody, name)
        }
        // The service (nobody) can write what root made.
        w.write("staff.csv", staffCSV(manyStaff(4)))
        guard FileManager.default.isExecutableFile(atPath: setprivPath) else { throw XCTSkip("needs \(setprivPath)") }
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"], as: Self.nobody)
        XCTAssertEqual(once.code, 0, once.stderr)
        XCTAssertEqual(try w.store().mirror.staff(filter: .active, search: nil).count, 4)
    }

    /// Item 12: tightening an existing database never goes through a link: `-shm` pointing
    /// at root's 0644 file stops `sisyncd --once` (73, naming it) and leaves that file 0644.
    func testIssue26Item12TighteningNeverFollowsALink() throws {
        let (w, folder, victim) = try serviceFolder()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(chmod(victim, 0o644), 0)
        let shm = folder + "/sisync.db-shm"
        XCTAssertEqual(unlink(shm), 0)
        XCTAssertEqual(symlink(victim, shm), 0)
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 73, once.stderr)
        XCTAssertTrue(once.stderr.contains("\(shm) is a symbolic link"), once.stderr)
        XCTAssertEqual(mode(victim)?.mode, 0o644)
        XCTAssertEqual(mode(victim)?.uid, 0)
    }

    /// Upgrading from 0.2: the new sisyncd, started as the service's user on a state folder
    /// as 0.2 left it (a 0644 database of 0.2's schema and its 0644 `-wal` and `-shm`,
    /// owned by that user, its lock files, a configuration 0.2 accepted), runs, makes the
    /// database and its `-wal` and `-shm` 0600, says so, and keeps every record.
    func testUpgradeFrom02TightensTheDatabaseAndKeepsEveryRecord() throws {
        let (w, folder, _) = try serviceFolder()
        guard FileManager.default.isExecutableFile(atPath: setprivPath) else { throw XCTSkip("needs \(setprivPath)") }
        w.configure(sync: "interval = 1h")
        // 0.2.0's schema is version 8; later migrations must take it forward keeping all.
        let schema02: Int32 = 8
        XCTAssertGreaterThanOrEqual(Schema.currentVersion, schema02)
        do {
            let raw = try SQLiteDatabase(path: w.sqlitePath)
            try raw.execute("PRAGMA journal_mode = WAL")
            try Migrator().migrate(raw, to: Int(schema02))
            let print = EntityRows.fingerprint(values: ["Ann", "Lee", "ann@district.org", "Teacher", "101", ""])
            try raw.execute("""
                INSERT INTO runs (run_id, started_at, finished_at, outcome, actor) VALUES (1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 'applied', 'sync');
                INSERT INTO staff (staff_id, first_name, last_name, email, title, school_ids, added_run, updated_run, fingerprint)
                  VALUES ('S1', 'Ann', 'Lee', 'ann@district.org', 'Teacher', '101', 1, 1, \(Int64(bitPattern: print)));
                INSERT INTO users (username, email, approved, created_at, password_hash) VALUES ('ann', 'ann@district.org', 1, '2026-01-01T00:00:00Z', '$y$j9T$salt$hash');
                INSERT INTO changes (entity, record_id, new_value, kind, actor, at) VALUES ('users', 'ann', 'ann@district.org', 'added', 'admin', '2026-01-01T00:00:00Z');
                """)
        }
        let before = try rows(of: w.sqlitePath)
        for name in ["sisync.db", "sisync.db-wal", "sisync.db-shm", "sisync.db.lock", "sisync.db.run.lock"] {
            let path = folder + "/" + name
            if !FileManager.default.fileExists(atPath: path) { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil)) }
            XCTAssertEqual(chmod(path, 0o644), 0)
            XCTAssertEqual(chown(path, Self.nobody, Self.nobody), 0)
        }
        w.write("staff.csv", "staff_id,first_name,last_name,email,title,school_ids\nS1,Ann,Lee,ann@district.org,Teacher,101\n")

        let daemon = try RunningDaemon(["--config", w.configPath], as: Self.nobody)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        XCTAssertTrue(daemon.waitFor("run 2 applied"), daemon.seen)
        XCTAssertTrue(daemon.seen.contains("made \(folder)/sisync.db from 0644 to 0600"), daemon.seen)
        for name in ["sisync.db", "sisync.db-wal", "sisync.db-shm"] {
            XCTAssertEqual(mode(folder + "/" + name)?.mode, 0o600, name)
            XCTAssertEqual(mode(folder + "/" + name)?.uid, Self.nobody, name)
        }
        for name in ["sisync.db.lock", "sisync.db.run.lock"] {
            XCTAssertEqual(mode(folder + "/" + name)?.mode, 0o644, "\(name): whoever waits reads who holds it")
        }
        kill(daemon.pid, SIGTERM)
        XCTAssertEqual(daemon.exited.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(daemon.process.terminationStatus, 0)
        let after = try rows(of: w.sqlitePath)
        // (The first run keys the users' emails: `users.email_key` is filled in.)
        XCTAssertEqual(Set(before.filter { !$0.hasPrefix("users: ") }).subtracting(after), [], "every record 0.2 left is still there")
        let ann = try XCTUnwrap(w.store().accounts.user("ann"))
        XCTAssertEqual([ann.email, String(ann.approved)], ["ann@district.org", "true"])
        XCTAssertEqual(try rows(of: w.sqlitePath, "SELECT password_hash FROM users"), ["$y$j9T$salt$hash"])
        XCTAssertEqual(try w.store().mirror.staffMember(id: "S1")?.enabled, true)
    }

    /// Issue 26 review F3: root opens a database in another user's folder only while the
    /// kernel keeps users from hard-linking files they do not own (SQLite opens `-wal` and
    /// `-shm` by name after sisync looked, and as root hands them to the database's owner).
    /// The setting is read from an injected file: 1 passes; 0, an empty file and a missing
    /// one are exit 73 naming the folder, its owner and both ways out. A folder of root's
    /// needs no protection.
    func testIssue26F3RootRefusesAServiceFolderWithoutHardLinkProtection() throws {
        let (w, folder, _) = try serviceFolder()
        let resolved = try XCTUnwrap(realpath(folder, nil))
        let real = String(cString: resolved)
        free(resolved)
        let setting = w.root + "/protected_hardlinks"
        let files = try SQLiteFiles(path: w.sqlitePath)
        w.write(setting, "1\n")
        XCTAssertNoThrow(try files.check(hardLinkSetting: setting))
        for (content, shown) in [("0\n", "0"), ("", "empty"), (nil, "unreadable (\(setting))")] as [(String?, String)] {
            if let content { w.write(setting, content) } else { try FileManager.default.removeItem(atPath: setting) }
            XCTAssertThrowsError(try files.check(hardLinkSetting: setting), shown) { e in
                XCTAssertEqual(e as? StoreError, .hardLinksUnprotected(path: w.sqlitePath, folder: real, owner: Self.nobody, setting: shown))
                XCTAssertEqual(SyncRun.classify(e).exitCode, 73)
                let text = String(describing: e)
                for part in ["its folder \(real) belongs to nobody (uid 65534)", "fs.protected_hardlinks is \(shown)",
                             "sysctl fs.protected_hardlinks=1", "/etc/sysctl.d/", "sudo -u '#65534' sisyncctl"] {
                    XCTAssertTrue(text.contains(part), "\(part) in: \(text)")
                }
            }
        }
        // Root's own folder: nothing another user could link into.
        XCTAssertEqual(chown(folder, 0, 0), 0)
        w.write(setting, "0\n")
        XCTAssertNoThrow(try SQLiteFiles(path: w.sqlitePath).check(hardLinkSetting: setting))
    }

    /// Issue 26 review F5: a tenant's database in a subfolder of the service's
    /// (`/var/lib/sisync/lincoln/sisync.db`): that user can make `lincoln` a link to a
    /// folder of root's. Root's `sisyncctl` (status, a write, a dry run) and
    /// `sisyncd --once` exit 73 naming the link and its folder's owner, and create nothing
    /// where it points; lock files and run directories are refused there too. A link in a
    /// folder of root's (DynamicUser's `/var/lib/sisync`) is still followed, and so is one
    /// in the folder of the user running the command.
    func testIssue26F5LinkInTheServicesFolderIsNotFollowed() throws {
        let (w, folder, _) = try serviceFolder()
        w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let elsewhere = w.root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let link = folder + "/lincoln"
        XCTAssertEqual(symlink(elsewhere, link), 0)
        let config = try String(contentsOfFile: w.configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "database = \(w.sqlitePath)", with: "database = \(link)/sisync.db")
            .write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let refused = "its path leads through the symbolic link \(link), which is in a folder that belongs to nobody (uid 65534)"
        for args in [["status"], ["user", "add", "--username", "x", "--email", "x@district.org"], ["sync", "--dry-run"], ["sync"]] {
            let ctl = try runProcess("sisyncctl", ["--config", w.configPath] + args)
            XCTAssertEqual(ctl.code, 73, "\(args): \(ctl.stdout)\(ctl.stderr)")
            XCTAssertTrue((ctl.stdout + ctl.stderr).contains(refused), "\(args): \(ctl.stdout)\(ctl.stderr)")
            XCTAssertTrue(ctl.stderr.contains("Name the real path in [sync] database"), ctl.stderr)
        }
        let once = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(once.code, 73, once.stderr)
        XCTAssertTrue(once.stderr.contains(refused), once.stderr)
        XCTAssertThrowsError(try RunLock.acquire(databasePath: link + "/sisync.db", holder: "test", wait: 0)) { e in
            XCTAssertEqual(e as? StoreError, .linkInPath(path: link + "/sisync.db.run.lock", link: link, owner: Self.nobody))
        }
        XCTAssertThrowsError(try DaemonLock.tenant(location: .sqlite(path: link + "/new/sisync.db"), sessions: PostgresLockSessions()))
        XCTAssertThrowsError(try RunDirectory(in: link)) { e in
            XCTAssertTrue(String(describing: e).contains(refused), String(describing: e))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere), [], "nothing was made where the link points")

        // A link in a folder of root's still leads to the database (and makes it there).
        let rootsLink = w.root + "/state"
        XCTAssertEqual(symlink(elsewhere, rootsLink), 0)
        try config.replacingOccurrences(of: "database = \(w.sqlitePath)", with: "database = \(rootsLink)/sisync.db")
            .write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let through = try runProcess("sisyncd", ["--config", w.configPath, "--once"])
        XCTAssertEqual(through.code, 0, through.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere + "/sisync.db"))
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "status"]).code, 0)

        // The folder's owner may follow its own links.
        guard FileManager.default.isExecutableFile(atPath: setprivPath) else { throw XCTSkip("needs \(setprivPath)") }
        XCTAssertEqual(chown(elsewhere, Self.nobody, Self.nobody), 0)
        XCTAssertEqual(chmod(w.root, 0o755), 0)
        let own = try runProcess("sisyncctl", ["--db", link + "/sisync.db", "status"], as: Self.nobody)
        XCTAssertFalse(own.stderr.contains("symbolic link"), own.stderr)
    }

    /// Every row of every table of a SQLite file (or those `query` returns), as text,
    /// without migrating it.
    private func rows(of path: String, _ query: String? = nil) throws -> [String] {
        let raw = try SQLiteDatabase(path: path)
        func text(_ r: any StoreStatement) -> String { (0..<r.columnCount).map { r.string($0) ?? "NULL" }.joined(separator: "|") }
        var out: [String] = []
        if let query {
            try raw.prepare(query).forEachRow { out.append(text($0)) }
            return out
        }
        var tables: [String] = []
        try raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").forEachRow { tables.append($0.text(0)) }
        for t in tables { try raw.prepare("SELECT * FROM \(t)").forEachRow { out.append(t + ": " + text($0)) } }
        return out
    }
}
