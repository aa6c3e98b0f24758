import Foundation
import XCTest
@testable import SISync
@testable import SISyncControl

/// Which store the tests run against: SQLite unless `SISYNC_TEST_STORE=postgresql`
/// (`make test` runs the store, run, accounts, roles, access, forms and revert tests a
/// second time that way, on a throw-away server the tests start).
enum TestStore {
    static let isPostgres = ProcessInfo.processInfo.environment["SISYNC_TEST_STORE"]?.hasPrefix("postgres") ?? false
}

/// A temporary folder with an export and a configuration, removed after the test. On
/// PostgreSQL each workspace has a schema of its own on the shared test server.
final class Workspace {
    let root: String
    let schema: String
    /// The PostgreSQL server this workspace uses (the shared one on a PostgreSQL pass).
    let server: TestPostgresServer?
    var isPostgres: Bool { server != nil }

    /// `postgres` puts the workspace on that server, and `sqlite` in a file, whatever the pass;
    /// `schema` names its PostgreSQL schema (a fresh unique name by default).
    init(postgres: TestPostgresServer? = nil, sqlite: Bool = false, schema: String? = nil) {
        server = sqlite ? nil : postgres ?? (TestStore.isPostgres ? try! TestPostgresServer.shared() : nil)
        root = NSTemporaryDirectory() + "sisync-test-" + UUID().uuidString
        self.schema = schema ?? "w_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try! FileManager.default.createDirectory(atPath: root + "/export", withIntermediateDirectories: true)
        if server != nil {
            try! TestPostgresServer.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var exportDir: String { root + "/export" }
    var passwordFile: String { root + "/pg-password" }
    /// A SQLite file, for the tests of what only SQLite has (its migrations, its lock files).
    var sqlitePath: String { root + "/db/sisync.db" }
    /// The test server's database the workspace's schema goes into.
    var postgresDatabase = "postgres"
    /// `[sync] database`: a file, or the test server's URI.
    var database: String { server?.uri(database: postgresDatabase) ?? root + "/db/sisync.db" }
    var location: StoreLocation {
        isPostgres ? .postgres(PostgresStoreSettings(uri: database, schema: schema, passwordFile: passwordFile)) : .sqlite(path: database)
    }
    /// The `[sync]` lines that name the store.
    var storeLines: String {
        "database = \(database)\n" + (isPostgres ? "database_schema = \(schema)\ndatabase_password_file = \(passwordFile)\n" : "")
    }
    var configPath: String { root + "/sisync.conf" }

    func write(_ name: String, _ text: String) {
        let path = name.hasPrefix("/") ? name : exportDir + "/" + name
        try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func writeBytes(_ name: String, _ bytes: [UInt8]) {
        try! Data(bytes).write(to: URL(fileURLWithPath: exportDir + "/" + name))
    }

    func remove(_ name: String) { try? FileManager.default.removeItem(atPath: exportDir + "/" + name) }

    /// Writes a configuration; `extra` lines go into [sync] and `source` into [source].
    @discardableResult
    func configure(sync extra: String = "", source: String = "", linking: String = "", entities: String = "staff", format: String = "csv", url: String? = nil,
                   guard guardLines: String = "") -> Configuration {
        let text = """
            [sync]
            \(storeLines)\(extra)
            [source]
            format = \(format)
            url = \(url ?? exportDir + "/")
            entities = \(entities)
            \(source)
            \(linking.isEmpty ? "" : "[linking]\n" + linking)
            \(guardLines.isEmpty ? "" : "[guard]\n" + guardLines)
            """
        try! Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
        return try! Configuration.load(path: configPath)
    }

    func sync(_ configuration: Configuration, dryRun: Bool = false, allow: Bool = false, force: Bool = false,
              at date: Date = Date(), log: EventLog = MemoryLog()) -> SyncRun.Result {
        var options = SyncRun.Options()
        options.dryRun = dryRun
        options.allowMassDeactivation = allow
        options.force = force
        return SyncRun(configuration: configuration, options: options, log: log, clock: { date }).performWithStore()
    }

    /// Runs `sisyncctl` in this process, as the administrator `user`.
    func ctl(_ args: [String], user: String = "admin", input: [String] = []) -> (code: Int32, out: String, err: String) {
        let console = CapturedConsole()
        console.input = input
        let code = ControlCommand(console: console, environment: ["USER": user], log: MemoryLog()).run(["--config", configPath] + args)
        return (code, console.stdout, console.stderr)
    }

    func store() throws -> RosterStore { try RosterStore(location: location, mustExist: true) }

    /// The store's connection, for tests that look at tables directly (SQL as the stores
    /// write it: the PostgreSQL driver translates it).
    func rawDatabase() throws -> any StoreDatabase { try RosterStore(location: location).database }

    /// Every row of every table, as text, to compare database states exactly (sorted:
    /// the two stores return unordered rows in different orders).
    func dump() throws -> [String] {
        let db = try rawDatabase()
        var tables: [String] = []
        let list = isPostgres
            ? "SELECT table_name FROM information_schema.tables WHERE table_schema = '\(schema)' AND table_type = 'BASE TABLE' AND table_name <> 'schema_version' ORDER BY table_name"
            : "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        try db.prepare(list).forEachRow { tables.append($0.text(0)) }
        var out: [String] = []
        for t in tables {
            let s = try db.prepare("SELECT * FROM \(t)")
            var rows: [String] = []
            try s.forEachRow { row in
                rows.append(t + ": " + (0..<row.columnCount).map { row.string($0) ?? "NULL" }.joined(separator: "|"))
            }
            out += rows.sorted()
        }
        return out
    }
}


/// A staff export of `n` rows (300,000 by default): large enough that a run's apply
/// lasts long enough to be killed, cut off or read during.
func largeStaffCSV(_ n: Int = 300_000) -> String {
    var big = "staff_id,first_name,last_name,email,title,school_ids,status\n"
    big.reserveCapacity(n * 70)
    for i in 1...n { big += "S\(i),First\(i),Lé\(i),user\(i)@district.org,Teacher,101,active\n" }
    return big
}

/// Staff CSV text from rows of (id, first, last, email).
func staffCSV(_ rows: [(String, String, String, String)], extraHeader: String = "", status: [String: String] = [:]) -> String {
    var text = "staff_id,first_name,last_name,email,title,school_ids,status\n"
    for (id, f, l, e) in rows { text += "\(id),\(f),\(l),\(e),Teacher,101,\(status[id] ?? "active")\n" }
    return text
}

func manyStaff(_ n: Int, prefix: String = "S") -> [(String, String, String, String)] {
    (1...n).map { ("\(prefix)\($0)", "First\($0)", "Last\($0)", "user\($0)@district.org") }
}

/// The directory holding the built executables (next to the test bundle).
var productsDirectory: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
}

/// Runs a built executable and waits (with a timeout) for it to exit; as the user `uid`
/// (and its group of the same number) when given, which only root may.
@discardableResult
func runProcess(_ name: String, _ args: [String], environment: [String: String]? = nil, as uid: uid_t? = nil,
                timeout: TimeInterval = 60, input: String? = nil) throws -> (code: Int32, stdout: String, stderr: String) {
    let p = Process()
    (p.executableURL, p.arguments) = command(productsDirectory.appendingPathComponent(name), args, as: uid)
    if let environment { p.environment = environment }
    let base = NSTemporaryDirectory() + "sisync-proc-" + UUID().uuidString
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer { for suffix in [".out", ".err", ".in"] { try? FileManager.default.removeItem(atPath: base + suffix) } }
    if let input {
        // Standard input from a file (a pipe's writer could block on a full pipe).
        FileManager.default.createFile(atPath: base + ".in", contents: Data(input.utf8))
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: base + ".in"))
    }
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
    let done = DispatchSemaphore(value: 0)
    p.terminationHandler = { _ in done.signal() }
    try p.run()
    if done.wait(timeout: .now() + timeout) == .timedOut {
        p.terminate()
        throw NSError(domain: "test", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name) did not finish within \(timeout)s"])
    }
    let out = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return (p.terminationStatus, out, err)
}

/// util-linux's `setpriv`, which runs a command as another user (root only), in the same
/// process (a signal to it reaches the command).
let setprivPath = "/usr/bin/setpriv"

/// `executable args`, or the same through `setpriv` as the user `uid`.
func command(_ executable: URL, _ args: [String], as uid: uid_t?) -> (URL, [String]) {
    guard let uid else { return (executable, args) }
    return (URL(fileURLWithPath: setprivPath), ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--", executable.path] + args)
}

/// Whether the file at `path` comes to hold `text` within `timeout`: for files a daemon
/// writes just after the log entry a test waits for (metrics). Polled, bounded.
func file(_ path: String, comesToContain text: String, timeout: TimeInterval = 10) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if let content = try? String(contentsOfFile: path, encoding: .utf8), content.contains(text) { return true }
        usleep(20_000)
    } while Date() < deadline
    return false
}
