import Foundation

/// The plain Python + sqlite3 script issue 34's users'-side ratios are taken against
/// (`contrib/bench/users-side-peer.py`), run one step at a time right after sisync's same
/// step, on a database file of its own: alternating, both see the machine in the same
/// state, so the ratio holds on a machine whose speed varies from minute to minute.
struct UsersSidePeer {
    /// The script's path.
    let script: String
    /// The peer's own SQLite file (never sisync's).
    let database: String

    /// What one step of the peer took: its own clock (from after Python started up, as
    /// sisync's children time themselves) and its process's peak RSS.
    struct Step {
        var seconds: Double
        var peakRSSMB: Double
    }

    /// The peer's name for a step of `runUsersSide` (sisync's re-run is `unchanged-2`,
    /// beside the main table's `unchanged`).
    static func step(for scenario: String) -> String {
        scenario == "unchanged-2" ? "unchanged" : scenario
    }

    /// The script under `contrib/bench/`, looked for from the working directory and from
    /// the binary's folder upwards (`.build/release/sisync-bench` sits three folders below
    /// the source tree).
    static func locate(binary: String = CommandLine.arguments[0], workingDirectory: String = FileManager.default.currentDirectoryPath) -> String? {
        let relative = "contrib/bench/users-side-peer.py"
        let binaryPath = binary.hasPrefix("/") ? binary : workingDirectory + "/" + binary
        for start in [workingDirectory, (binaryPath as NSString).deletingLastPathComponent] {
            var dir = (start as NSString).standardizingPath
            while true {
                let candidate = dir + "/" + relative
                if FileManager.default.isReadableFile(atPath: candidate) { return candidate }
                let parent = (dir as NSString).deletingLastPathComponent
                if parent == dir || parent.isEmpty { break }
                dir = parent
            }
        }
        return nil
    }

    /// Runs one step (`records`, `user-import`, `first-link`, `unchanged`, `day-all`,
    /// `day-user-import`, `day-all-2`) on `source`, an export directory or a users' CSV.
    func run(_ step: String, source: String) throws -> Step {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script, step, database, source]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // The peer prints one line; its errors are a traceback. Read both before waiting,
        // so that neither pipe can fill and stall it.
        let errors = DispatchQueue(label: "peer-stderr")
        nonisolated(unsafe) var errorText = Data()
        errors.async { errorText = err.fileHandleForReading.readDataToEndOfFile() }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        errors.sync {}
        let fields = text.split(separator: "\n").last.map { $0.split(separator: "\t").map(String.init) } ?? []
        guard p.terminationStatus == 0, fields.count >= 3, fields[0] == step, let seconds = Double(fields[1]), let rss = Double(fields[2]) else {
            let said = String(decoding: errorText, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            throw NSError(domain: "sisync-bench", code: 3, userInfo: [NSLocalizedDescriptionKey:
                "the peer's step \(step) failed (exit \(p.terminationStatus)): \(said.isEmpty ? text : said); run python3 \(script) \(step) \(database) \(source) to see it"])
        }
        return Step(seconds: seconds, peakRSSMB: rss)
    }
}
