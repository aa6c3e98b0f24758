import Foundation
import XCTest
@testable import SISync

/// A temporary folder with an export and a configuration, removed after the test.
final class Workspace {
    let root: String

    init() {
        root = NSTemporaryDirectory() + "sisync-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: root + "/export", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var exportDir: String { root + "/export" }
    var database: String { root + "/db/sisync.db" }
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
    func configure(sync extra: String = "", source: String = "", linking: String = "", entities: String = "staff", format: String = "csv", url: String? = nil) -> Configuration {
        let text = """
            [sync]
            database = \(database)
            \(extra)
            [source]
            format = \(format)
            url = \(url ?? exportDir + "/")
            entities = \(entities)
            \(source)
            \(linking.isEmpty ? "" : "[linking]\n" + linking)
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

    func store() throws -> RosterStore { try RosterStore(path: database, mustExist: true) }

    /// Every row of every table, as text, to compare database states exactly.
    func dump() throws -> [String] {
        let db = try SQLiteDatabase(path: database)
        var tables: [String] = []
        try db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").forEachRow { tables.append($0.text(0)) }
        var out: [String] = []
        for t in tables {
            let s = try db.prepare("SELECT * FROM \(t)")
            let n = s.columnCount
            try s.forEachRow { row in
                out.append(t + ": " + (0..<n).map { row.string($0) ?? "NULL" }.joined(separator: "|"))
            }
        }
        return out
    }
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

/// Runs a built executable and waits (with a timeout) for it to exit.
@discardableResult
func runProcess(_ name: String, _ args: [String], environment: [String: String]? = nil, timeout: TimeInterval = 60) throws -> (code: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = productsDirectory.appendingPathComponent(name)
    p.arguments = args
    if let environment { p.environment = environment }
    let base = NSTemporaryDirectory() + "sisync-proc-" + UUID().uuidString
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer { try? FileManager.default.removeItem(atPath: base + ".out"); try? FileManager.default.removeItem(atPath: base + ".err") }
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
