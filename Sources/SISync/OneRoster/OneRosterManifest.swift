/// `manifest.csv` of a OneRoster CSV bundle. It decides the version (1.1 or 1.2) and, for
/// each file, whether it holds every record (`bulk`), only changed ones (`delta`, which
/// never deactivates by absence) or nothing (`absent`, which leaves its records unmanaged).
public struct OneRosterManifest: Sendable, Equatable {
    public enum Version: String, Sendable { case v1_1 = "1.1", v1_2 = "1.2" }
    public enum FileMode: String, Sendable { case bulk, delta, absent }

    public var version: Version
    /// Modes by lower-case file name without `.csv` (`users`, `academicsessions`).
    public var files: [String: FileMode]

    public init(version: Version, files: [String: FileMode]) {
        self.version = version
        self.files = files
    }

    /// The mode of a file; a file the manifest does not name is absent.
    public func mode(_ file: OneRosterFile) -> FileMode { files[file.rawValue.lowercased()] ?? .absent }

    /// Reads manifest.csv. Values of files sisync does not read are not checked.
    public static func read(path: String, name: String) throws -> OneRosterManifest {
        var version: String?
        var versionLine = 0
        var files: [String: FileMode] = [:]
        let wanted = Set(OneRosterFile.allCases.map { $0.rawValue.lowercased() })
        try OneRosterTable.read(path: path, name: name) { table in
            guard let property = table.column("propertyName"), let value = table.column("value") else {
                throw ExportError.missingColumn(file: name, column: table.column("propertyName") == nil ? "propertyName" : "value", found: table.header)
            }
            return { row in
                let p = row.value(property).lowercased()
                let v = row.value(value)
                if p == "oneroster.version" {
                    version = v
                    versionLine = row.line
                } else if p.hasPrefix("file.") {
                    let file = String(p.dropFirst(5))
                    guard wanted.contains(file) else { return }
                    let lower = v.lowercased()
                    if lower.isEmpty { files[file] = .absent; return }
                    guard let mode = FileMode(rawValue: lower) else {
                        throw OneRosterError.badManifestValue(file: name, line: row.line, property: "file.\(file)", value: v)
                    }
                    files[file] = mode
                }
            }
        }
        let found = version ?? ""
        let parsed: Version
        switch found {
        case "1.1", "1.1.0", "v1p1": parsed = .v1_1
        case "1.2", "1.2.0", "v1p2": parsed = .v1_2
        default: throw OneRosterError.unsupportedVersion(file: versionLine > 0 ? "\(name):\(versionLine)" : name, found: found.isEmpty ? "missing" : found)
        }
        return OneRosterManifest(version: parsed, files: files)
    }
}

/// The OneRoster files sisync reads; the others in a bundle (courses, demographics,
/// results ...) carry nothing an account needs.
public enum OneRosterFile: String, Sendable, CaseIterable {
    case users, roles, enrollments, classes, academicSessions, orgs

    public var fileName: String { rawValue + ".csv" }
}
