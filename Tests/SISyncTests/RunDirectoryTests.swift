import Foundation
import XCTest
@testable import SISync
#if canImport(Glibc)
import Glibc
#endif

/// A path's permission bits, owner and type, without following a symlink.
private func mode(_ path: String) -> (mode: mode_t, uid: uid_t, type: mode_t)? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return (st.st_mode & 0o7777, st.st_uid, st.st_mode & S_IFMT)
}

/// Issue 26 items 2, 3 and 5: each run's temporary files live in a private directory of its
/// own (random name, 0700, held by a descriptor, files 0600 created through it), removed
/// when the run ends; what crashed runs left is removed by the next, and nothing of another
/// user's, and no live run's, ever is.
final class RunDirectoryTests: XCTestCase {
    /// Item 5: the places, in order; a PostgreSQL `sisyncctl` (no `$STATE_DIRECTORY`) uses
    /// the user's own `~/.cache/sisync`, never a fixed name in /tmp.
    func testIssue26Item5ThePlacesInOrderAndNeverAFixedTemporaryName() throws {
        let sqlite = StoreLocation.sqlite(path: "/srv/sisync/sisync.db")
        let postgres = StoreLocation.postgres(PostgresStoreSettings(uri: "postgresql://localhost/sisync"))
        let env = ["STATE_DIRECTORY": "/var/lib/sisync:/var/lib/other", "RUNTIME_DIRECTORY": "/run/sisync"]
        XCTAssertEqual(RunDirectory.places(for: sqlite, environment: env, home: "/root").map(\.0).prefix(4),
                       ["/var/lib/sisync", "/run/sisync", "/srv/sisync", "/root/.cache/sisync"])
        XCTAssertEqual(RunDirectory.places(for: postgres, environment: [:], home: "/root").map(\.0).first, "/root/.cache/sisync")
        XCTAssertEqual(RunDirectory.places(for: postgres, environment: [:], home: "/").count, 1, "no home: only a random name in the temporary directory")

        let w = Workspace(sqlite: true)
        let home = w.root + "/home"
        let directory = try RunDirectory.make(for: postgres, environment: [:], home: home)
        XCTAssertTrue(directory.path.hasPrefix(home + "/.cache/sisync/" + RunDirectory.prefix), directory.path)
        XCTAssertEqual(mode(home + "/.cache/sisync")?.mode, 0o700)
        XCTAssertEqual(mode(directory.path)?.mode, 0o700)
        directory.remove()
        XCTAssertNil(mode(directory.path), "removed")
    }

    /// Item 5: while an OAuth2 token response and then the export download are written, the
    /// run directory is 0700 and each file 0600 and this user's, under the usual umask 022
    /// (0.2 left both 0644 in /tmp).
    func testIssue26Item5TokenResponseAndDownloadAre0600InA0700Directory() throws {
        let w = Workspace(sqlite: true)
        try "client-secret\n".write(toFile: w.root + "/secret", atomically: true, encoding: .utf8)
        chmod(w.root + "/secret", 0o600)
        let arrived = DispatchSemaphore(value: 0), looked = DispatchSemaphore(value: 0)
        let csv = staffCSV(manyStaff(3))
        let server = try TestHTTPServer { request in
            arrived.signal()
            _ = looked.wait(timeout: .now() + 20)
            if request.path.hasPrefix("/token") {
                return .init(status: 200, headers: ["Content-Type": "application/json"], body: Array(#"{"access_token":"tok-123","expires_in":3600}"#.utf8))
            }
            return .init(status: 200, headers: ["Content-Type": "text/csv"], body: Array(csv.utf8))
        }
        let c = w.configure(source: "auth = oauth2\ntoken_url = \(server.baseURL)/token\nclient_id = sisync\nclient_secret_file = \(w.root)/secret",
                            url: server.baseURL + "/")
        let directory = try RunDirectory(in: w.root)
        let old = umask(0o022)
        defer { umask(old) }
        var fetcher = ExportFetcher(configuration: c, directory: directory)
        fetcher.tokenCache = OAuthTokenCache()
        nonisolated(unsafe) let background = fetcher
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<FetchedExport, Error>?
        Thread.detachNewThread {
            outcome = Result { try background.fetch() }
            done.signal()
        }
        // The download's file is made first; the token is asked for while it waits.
        for expected in [["staff", "token.json"], ["staff"]] {
            XCTAssertEqual(arrived.wait(timeout: .now() + 20), .success)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            XCTAssertEqual(names.map { String($0.drop { $0 != "-" }.dropFirst()) }, expected)
            XCTAssertEqual(mode(directory.path)?.mode, 0o700)
            XCTAssertEqual(mode(directory.path)?.uid, geteuid())
            for n in names {
                XCTAssertEqual(mode(directory.path + "/" + n)?.mode, 0o600, n)
                XCTAssertEqual(mode(directory.path + "/" + n)?.type, S_IFREG, n)
            }
            looked.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        let export = try XCTUnwrap(outcome).get()
        XCTAssertEqual(export.files.count, 1)
        XCTAssertEqual(try String(contentsOfFile: export.files[0].path, encoding: .utf8), csv, "read through the directory's descriptor")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("token") }, [],
                       "the token response is removed as soon as it is read")
    }

    /// Items 2 and 3 and the crash case: a new run directory removes what crashed runs of
    /// this user left, and nothing else: not a live run's (another thread's), not another
    /// user's, not a symlink's target, not other files.
    func testAbandonedRunDirectoriesAreRemovedAndNothingElse() throws {
        let w = Workspace(sqlite: true)
        let folder = w.root + "/state"
        try FileManager.default.createDirectory(atPath: folder + "/" + RunDirectory.prefix + "crashed1", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try "left".write(toFile: folder + "/" + RunDirectory.prefix + "crashed1/1-users.csv", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: w.root + "/victim", withIntermediateDirectories: true)
        try "keep".write(toFile: w.root + "/victim/file", atomically: false, encoding: .utf8)
        XCTAssertEqual(symlink(w.root + "/victim", folder + "/" + RunDirectory.prefix + "link"), 0)
        try "a file".write(toFile: folder + "/" + RunDirectory.prefix + "file", atomically: false, encoding: .utf8)
        try "db".write(toFile: folder + "/sisync.db", atomically: false, encoding: .utf8)

        let live = try RunDirectory(in: folder)
        let liveFile = try live.create("users.csv")
        XCTAssertNil(liveFile.write(UnsafeRawBufferPointer(start: "live", count: 4)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/" + RunDirectory.prefix + "crashed1"), "a crashed run's directory is removed")

        let second = try RunDirectory(in: folder)
        XCTAssertNotEqual(second.path, live.path)
        XCTAssertEqual(try String(contentsOfFile: liveFile.path, encoding: .utf8), "live", "a live run's directory is kept")
        XCTAssertEqual(try String(contentsOfFile: w.root + "/victim/file", encoding: .utf8), "keep")
        XCTAssertEqual(mode(folder + "/" + RunDirectory.prefix + "link")?.type, S_IFLNK, "a symlink is neither followed nor removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + RunDirectory.prefix + "file"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/sisync.db"))
        live.remove()
        second.remove()
        XCTAssertThrowsError(try live.create("late"), "nothing is made once the run's directory is gone")
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(left, [RunDirectory.prefix + "file", RunDirectory.prefix + "link", "sisync.db"])
    }

    /// Items 1 and 2 (review): the service user owns the folder, so it can rename any
    /// directory of root's there (a backup folder, a tenant's database folder that root's
    /// `sisyncd --once` made) to the run directories' prefix. Root's next run must not
    /// empty and remove it: only a 0700 directory holding nothing but files named as a run
    /// names them is a crashed run's.
    func testIssue26ARenamedDirectoryOfThisUserIsNotRemovedAsACrashedRun() throws {
        let w = Workspace(sqlite: true)
        let folder = w.root + "/state"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // What the other user can arrange by renaming: a backup folder (0755, as mkdir
        // leaves it), a private one (0700) holding a database, one holding a folder.
        let backups = folder + "/" + RunDirectory.prefix + "backups"
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try "precious".write(toFile: backups + "/1-users.csv", atomically: false, encoding: .utf8)
        let tenant = folder + "/" + RunDirectory.prefix + "lincoln"
        try FileManager.default.createDirectory(atPath: tenant, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try "db".write(toFile: tenant + "/sisync.db", atomically: false, encoding: .utf8)
        try "lock".write(toFile: tenant + "/1-sisync.db.lock", atomically: false, encoding: .utf8)
        let nested = folder + "/" + RunDirectory.prefix + "nested"
        try FileManager.default.createDirectory(atPath: nested + "/2-archive", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let crashed = folder + "/" + RunDirectory.prefix + "crashed"
        try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try "left".write(toFile: crashed + "/12-manifest.csv", atomically: false, encoding: .utf8)

        let run = try RunDirectory(in: folder)
        run.remove()
        XCTAssertEqual(try String(contentsOfFile: backups + "/1-users.csv", encoding: .utf8), "precious", "a 0755 directory is no run's")
        XCTAssertEqual(try String(contentsOfFile: tenant + "/sisync.db", encoding: .utf8), "db", "a database is no run's file")
        XCTAssertTrue(FileManager.default.fileExists(atPath: tenant + "/1-sisync.db.lock"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: nested + "/2-archive"), "a run makes no folders")
        XCTAssertNil(mode(crashed), "a crashed run's directory is still removed")
    }

    /// Item 3 in one process: many runs at once in one folder (tenants' threads), each
    /// making files of the same names, each reads back only what it wrote.
    func testIssue26Item3RunsInParallelThreadsNeverShareAFile() throws {
        let w = Workspace(sqlite: true)
        let folder = w.root
        let count = 16
        let made = DispatchGroup(), checked = DispatchGroup()
        let results = ParallelResults<String>(count: count)
        for i in 0..<count {
            made.enter()
            checked.enter()
            Thread.detachNewThread {
                defer { checked.leave() }
                var file: RunFile?
                var directory: RunDirectory?
                do {
                    directory = try RunDirectory(in: folder)
                    file = try directory?.create("users.csv")
                    _ = "run \(i)\n".utf8CString.withUnsafeBytes { file?.write(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
                } catch {
                    results.set(i, "\(error)")
                }
                made.leave()
                guard let file else { return }
                // Every other run has made its directory (and removed abandoned ones) by now.
                _ = made.wait(timeout: .now() + 20)
                _ = try? RunDirectory(in: folder)
                results.set(i, (try? String(contentsOfFile: file.path, encoding: .utf8)) ?? "gone")
                withExtendedLifetime(directory) {}
            }
        }
        XCTAssertEqual(checked.wait(timeout: .now() + 30), .success)
        for i in 0..<count { XCTAssertEqual(results.wait(i), "run \(i)\n") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: w.root).filter { $0.hasPrefix(RunDirectory.prefix) }, [],
                       "every run's directory is gone when the run is")
    }
}

/// Issue 26 items 2 and 5 with the real executables: root's `sisyncctl sync --dry-run` in a
/// folder the service user owns, and a `sisyncd` stopped during a slow download.
final class PrivateDownloadTests: XCTestCase {
    /// A OneRoster 1.1 bundle of teachers with these ids.
    /// `corrupt`: users.csv (stored, first) has one byte changed, so its CRC-32 fails.
    static func staffBundle(_ ids: [String], corrupt: Bool = false) -> [UInt8] {
        var users = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        for id in ids { users += "\(id),active,,true,sch1,teacher,\(id),,Given,\(id),,,\(id)@district.org,,,,,\n" }
        var zip = TestZipWriter()
        zip.add("users.csv", users, deflate: !corrupt)
        zip.add("manifest.csv", "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.users,bulk\nfile.orgs,bulk\n", deflate: false)
        zip.add("orgs.csv", "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\nsch1,active,,North School,school,,\n")
        var bytes = zip.bytes()
        if corrupt { bytes[30 + "users.csv".utf8.count] ^= 0x20 }
        return bytes
    }

    static func writeConfiguration(_ path: String, database: String, url: String) throws {
        try """
            [sync]
            database = \(database)
            school_year = 2026-2027
            interval = 1h
            [source]
            format = oneroster-csv
            url = \(url)
            entities = staff
            """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The environment without systemd's directories, so the database's folder is used.
    static var plainEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { $0.key != "STATE_DIRECTORY" && $0.key != "RUNTIME_DIRECTORY" }
    }

    /// This user's run directories in `folder`.
    private func ownRunDirectories(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { name in
            guard name.hasPrefix(RunDirectory.prefix), let m = mode(folder + "/" + name) else { return false }
            return m.type == S_IFDIR && m.uid == geteuid()
        }
    }

    /// A folder owned by `nobody` when root (the service user's state directory), else an
    /// ordinary one.
    private func serviceFolder(in root: String) throws -> String {
        let folder = root + "/state"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if geteuid() == 0, let nobody = getpwnam("nobody") {
            XCTAssertEqual(chown(folder, nobody.pointee.pw_uid, nobody.pointee.pw_gid), 0)
        }
        return folder
    }

    /// Item 2 (the reproduction): the service user plants symlinks to a root-owned file for
    /// the next few thousand pids under every name 0.2 used, and more under the new
    /// prefix; root's `sisyncctl sync --dry-run` on a OneRoster zip (success and failure)
    /// leaves the file as it was, removes its own crashed leftovers only, and leaves no
    /// directory behind.
    func testIssue26Item2RootFollowsNoSymlinkOfTheServiceUser() throws {
        guard geteuid() == 0 else { throw XCTSkip("issue 26 item 2: needs root (a folder owned by another uid, nobody)") }
        let nobody = try XCTUnwrap(getpwnam("nobody")).pointee
        let root = NSTemporaryDirectory() + "sisync-i26-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try serviceFolder(in: root)
        try FileManager.default.createDirectory(atPath: root + "/victim", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let victim = root + "/victim/secret"
        try "root's secret\n".write(toFile: victim, atomically: false, encoding: .utf8)
        chmod(victim, 0o600)
        var unplanted: [String] = []
        func plant(_ name: String, to target: String) {
            let link = folder + "/" + name
            if symlink(target, link) != 0 || lchown(link, nobody.pw_uid, nobody.pw_gid) != 0 { unplanted.append(name) }
        }
        let last = Int((try String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1
        // Every name 0.2 gave what a OneRoster zip run writes (the bundle, the files it unpacks).
        let labels = ["bundle.zip", "manifest.csv", "users.csv", "orgs.csv"]
        for pid in last...(last + 3000) {
            for label in labels { plant(".sisync-download-\(pid)-\(label)", to: victim) }
            plant(".sisync-token-\(pid)", to: victim)
        }
        plant(RunDirectory.prefix + "planted", to: root + "/victim")
        XCTAssertEqual(unplanted, [])
        // The service user's own directory under the prefix, and root's crashed run's.
        let theirs = folder + "/" + RunDirectory.prefix + "nobody"
        try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: false)
        try "theirs".write(toFile: theirs + "/1-users.csv", atomically: false, encoding: .utf8)
        chown(theirs + "/1-users.csv", nobody.pw_uid, nobody.pw_gid)
        chown(theirs, nobody.pw_uid, nobody.pw_gid)
        let crashed = folder + "/" + RunDirectory.prefix + "crashed"
        try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try "left".write(toFile: crashed + "/1-manifest.csv", atomically: false, encoding: .utf8)

        FileManager.default.createFile(atPath: root + "/bundle.zip", contents: Data(Self.staffBundle(["t1", "t2", "t3"])))
        FileManager.default.createFile(atPath: root + "/broken.zip", contents: Data(Self.staffBundle(["t1", "t2", "t3"], corrupt: true)))
        let config = root + "/sisync.conf"
        for (zip, expected) in [("bundle.zip", Int32(0)), ("broken.zip", Int32(65))] {
            try Self.writeConfiguration(config, database: folder + "/sisync.db", url: root + "/" + zip)
            let r = try runProcess("sisyncctl", ["--config", config, "sync", "--dry-run"], environment: Self.plainEnvironment)
            XCTAssertEqual(r.code, expected, zip + ": " + r.stdout + r.stderr)
            if expected == 0 { XCTAssertTrue(r.stdout.contains("t3"), r.stdout) }
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "root's secret\n", zip)
            XCTAssertEqual(mode(victim)?.mode, 0o600)
            XCTAssertEqual(mode(victim)?.uid, 0)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/victim"), ["secret"])
            XCTAssertEqual(mode(folder + "/" + RunDirectory.prefix + "planted")?.type, S_IFLNK)
            XCTAssertEqual(try String(contentsOfFile: theirs + "/1-users.csv", encoding: .utf8), "theirs", "another user's directory is left")
            XCTAssertNil(mode(crashed), "root's crashed run's directory is removed")
            XCTAssertEqual(ownRunDirectories(folder), [], zip + ": the run's directory is gone")
        }
    }

    /// Item 5 and "however it ends": during a slow download the run's directory is 0700 and
    /// the file 0600; SIGTERM to `sisyncd --dry-run`, and to `sisyncctl sync`, stops the run
    /// and removes both.
    func testIssue26Item5SlowDownloadIsPrivateAndGoneAfterSIGTERM() throws {
        for (tool, args) in [("sisyncd", ["--dry-run"]), ("sisyncctl", ["sync"])] {
            let root = NSTemporaryDirectory() + "sisync-i26-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: root) }
            let folder = try serviceFolder(in: root)
            let bundle = Self.staffBundle((1...200).map { "t\($0)" })
            let server = try TestHTTPServer { _ in .init(status: 200, headers: ["Content-Type": "application/zip"], body: bundle, trickle: (bytes: 64, pause: 0.1)) }
            try Self.writeConfiguration(root + "/sisync.conf", database: folder + "/sisync.db", url: server.baseURL + "/export/bundle.zip")
            let process = Process()
            process.executableURL = productsDirectory.appendingPathComponent(tool)
            process.arguments = ["--config", root + "/sisync.conf"] + args
            process.environment = Self.plainEnvironment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let exited = DispatchSemaphore(value: 0)
            process.terminationHandler = { _ in exited.signal() }
            try process.run()
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            let deadline = Date().addingTimeInterval(20)
            var seen: (dir: String, file: String)?
            while seen == nil && Date() < deadline {
                for d in ownRunDirectories(folder) {
                    let files = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + d)) ?? []
                    if let f = files.first(where: { (try? FileManager.default.attributesOfItem(atPath: folder + "/" + d + "/" + $0)[.size] as? Int) ?? 0 > 0 }) {
                        seen = (folder + "/" + d, folder + "/" + d + "/" + f)
                    }
                }
                if seen == nil { usleep(20_000) }
            }
            let (dir, file) = try XCTUnwrap(seen, "\(tool): a download under way in the database's folder")
            XCTAssertEqual(mode(dir)?.mode, 0o700, tool)
            XCTAssertEqual(mode(file)?.mode, 0o600, tool)
            XCTAssertEqual(mode(file)?.uid, geteuid(), tool)
            XCTAssertTrue(process.isRunning, "\(tool) is still downloading")
            kill(process.processIdentifier, SIGTERM)
            XCTAssertEqual(exited.wait(timeout: .now() + 10), .success, tool)
            XCTAssertEqual(process.terminationReason, .exit, "\(tool) stops the run and exits, not killed by the signal")
            XCTAssertNil(mode(dir), "\(tool): the run's directory is removed after SIGTERM")
            XCTAssertEqual(ownRunDirectories(folder), [], tool)
        }
    }
}
