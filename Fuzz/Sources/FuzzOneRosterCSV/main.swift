// OneRoster CSV bundles (README, "Connecting to OneRoster"): OneRosterManifest.read (version, bulk/delta/absent),
// OneRosterTable (case-insensitive headers, short and long rows) through
// OneRosterCSVBundle.read for every file, then OneRosterTranslation.translate, as
// ExportSnapshot.read does for `format = oneroster-csv`.
//
// An input is either one CSV file, read as manifest.csv and as each of the bundle's files
// on its own, or a whole bundle in `head` format: sections that start with a line
// `==> users.csv <==` (what `head -n 20 config/demo-oneroster/*.csv` prints).
//
// Passes when each call returns or throws OneRosterError or ExportError, and the bundle read
// as a run reads it (enrollments judged as they are read, users read again for the
// translation, issue 34) gives what it gives with everything held.
@testable import SISync
import FuzzSupport

/// A fixed day and school year, so that a saved input replays the same way.
func translation() -> OneRosterTranslation {
    OneRosterTranslation(schoolYear: "2026-2027", yearStart: (7, 1), today: OneRosterDay(year: 2026, month: 9, day: 1),
                         entities: Set(OneRosterTranslation.kinds), limit: .percent(1), stored: { _, _ in nil })
}

func allowed(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch is OneRosterError {} catch is ExportError {} catch {
        finding("\(what) threw \(type(of: error)): \(error)")
    }
}

/// `==> name <==` sections, by lower-case base name; nil when the input has none.
func sections(_ data: UnsafeBufferPointer<UInt8>) -> [(name: String, bytes: ArraySlice<UInt8>)]? {
    let bytes = Array(data)
    var starts: [(name: String, header: Int, body: Int)] = []
    var lineStart = 0
    while lineStart < bytes.count {
        let end = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
        let line = bytes[lineStart..<end]
        if line.starts(with: Array("==> ".utf8)), line.count > 8, Array(line.suffix(4)) == Array(" <==".utf8) {
            let raw = String(decoding: line.dropFirst(4).dropLast(4), as: UTF8.self)
            starts.append((String(raw.split(separator: "/").last ?? "").lowercased(), lineStart, min(end + 1, bytes.count)))
        }
        lineStart = end + 1
    }
    guard !starts.isEmpty else { return nil }
    return starts.indices.map { i in
        let stop = i + 1 < starts.count ? starts[i + 1].header : bytes.count
        return (starts[i].name, bytes[starts[i].body..<max(starts[i].body, stop)])
    }
}

/// The columns OneRosterCSVBundle requires of each file (lower case).
func required(_ kind: OneRosterFile, _ version: OneRosterManifest.Version) -> [String] {
    switch kind {
    case .orgs, .academicSessions, .classes: return ["sourcedid"]
    case .users: return version == .v1_1 ? ["sourcedid", "role"] : ["sourcedid"]
    case .roles: return ["usersourcedid", "role"]
    case .enrollments: return ["usersourcedid", "classsourcedid"]
    }
}

/// What a read and translation gave, to compare two: the records, problems and notices, or
/// the error.
func outcome(_ body: () throws -> (rows: [EntityKind: EntityRows], notices: OneRosterNotices)) -> String {
    do {
        let (rows, notices) = try body()
        return rows.keys.sorted { $0.rawValue < $1.rawValue }.map { kind in
            let r = rows[kind]!
            let each = (0..<r.count).map { "\(r.key($0)) \(r.values($0)) \(r.isInactive($0))" }
            let problems = r.problems.map { "\($0.file):\($0.location) \($0.column ?? "-") \($0.id ?? "-") \($0.message)" }
            return "\(kind): \(each) \(r.problemCount) \(problems) protected \(r.protectedKeys.sorted())"
        }.joined(separator: "\n") + "\n" + notices.lines.joined(separator: "\n")
    } catch is OneRosterError {
        return "OneRosterError"
    } catch let e as ExportError {
        return "error: \(e)"
    } catch {
        finding("OneRosterCSVBundle.read or translate threw \(type(of: error)): \(error)")
    }
}

/// The bundle read as the run reads it (enrollments judged as read, users read again for the
/// translation) and with everything held, as before issue 34: the same records or error.
func readBundle(manifest: OneRosterManifest, files: [OneRosterFile: (path: String, name: String)]) {
    let t = translation()
    let streamed = outcome {
        var bundle = OneRosterCSVBundle(manifest: manifest, files: files, limit: .percent(1))
        bundle.today = t.today
        bundle.enrollmentRule = t.enrollmentRule
        bundle.streamsUsers = true
        return try t.translate(try bundle.read())
    }
    let held = outcome {
        var bundle = OneRosterCSVBundle(manifest: manifest, files: files, limit: .percent(1))
        bundle.today = t.today
        return try t.translate(try bundle.read())
    }
    if streamed != held { finding("streamed:\n\(streamed)\nheld:\n\(held)") }
}

fuzzMain { data in
    let version: OneRosterManifest.Version = inputHash(data) & 1 == 0 ? .v1_1 : .v1_2
    if let parts = sections(data) {
        var files: [OneRosterFile: (path: String, name: String)] = [:]
        var manifest: OneRosterManifest?
        for (i, part) in parts.enumerated() {
            let path = writeScratch("part\(i).csv", part.bytes)
            if part.name == "manifest.csv" {
                allowed("OneRosterManifest.read") { manifest = try OneRosterManifest.read(path: path, name: "manifest.csv") }
            } else if let kind = OneRosterFile.allCases.first(where: { $0.fileName.lowercased() == part.name }) {
                files[kind] = (path, kind.fileName)
            }
        }
        let m = manifest ?? OneRosterManifest(version: version, files: Dictionary(uniqueKeysWithValues: files.keys.map { ($0.rawValue.lowercased(), .bulk) }))
        // As the fetcher does: a file the manifest marks absent is not read.
        readBundle(manifest: m, files: files.filter { m.mode($0.key) != .absent })
    } else {
        let path = writeScratch("input.csv", data)
        allowed("OneRosterManifest.read") { _ = try OneRosterManifest.read(path: path, name: "manifest.csv") }
        // Each file on its own, when its required columns can be in the header (without them
        // OneRosterCSVBundle throws missingColumn at the header), and always as orgs.
        let lower = asciiLowercased(data)
        for kind in OneRosterFile.allCases
        where kind == .orgs || required(kind, version).allSatisfy({ contains(lower, $0) }) {
            let mode: OneRosterManifest.FileMode = inputHash(data) & 2 == 0 ? .bulk : .delta
            readBundle(manifest: OneRosterManifest(version: version, files: [kind.rawValue.lowercased(): mode]),
                       files: [kind: (path, kind.fileName)])
        }
    }
}
