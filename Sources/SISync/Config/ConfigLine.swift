import Foundation

/// One `key = value` line of the file being read, handed to its key's parser in the table
/// (`ConfigKey.table`). It carries where the line is, so every value check names the file,
/// line, section and key an administrator must fix, and it holds the value checks the keys
/// share, so that a key's line in the table says only which check and which field.
public struct ConfigLine: Sendable {
    public let entry: INIDocument.Entry
    /// The configuration file.
    public let file: String
    /// The file's directory, which relative paths are relative to.
    let directory: String
    /// The whole file: a rule between keys (one setting spelled in two sections) looks at
    /// the lines before this one.
    let document: INIDocument

    var value: String { entry.value }

    public func bad(_ expected: String) -> ConfigError {
        .badValue(file: file, line: entry.line, section: entry.section, key: entry.key, value: entry.value, expected: expected)
    }

    /// A path made absolute against the file's directory, so that messages and `status` show
    /// where the files really are; a URL and an absolute path are kept as they are.
    func resolved(_ path: String) -> String {
        if path.hasPrefix("/") || path.contains("://") { return path }
        return directory.isEmpty ? path : ((directory as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }

    /// The value, nil when it is empty (an optional key given without a value is unset).
    func optional() -> String? { value.isEmpty ? nil : value }

    /// The value as a path relative to the file's directory, nil when it is empty.
    func optionalPath() -> String? { value.isEmpty ? nil : resolved(value) }

    func nonEmpty() throws(ConfigError) -> String {
        guard !value.isEmpty else { throw bad("a value") }
        return value
    }

    func duration(atLeast minimum: Double = 0) throws(ConfigError) -> ConfigDuration {
        guard let d = ConfigDuration(parsing: value) else { throw bad("a duration such as 30s, 15m or 2h, at most \(ConfigDuration.maximum)") }
        guard d.seconds >= minimum else { throw bad("a duration of at least \(ConfigDuration(seconds: minimum))") }
        return d
    }

    func integer(_ range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let n = Int(value), range.contains(n) else {
            throw bad("a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// A count no larger than a database integer holds.
    func count() throws(ConfigError) -> Int { try integer(0...Int(Int32.max)) }

    func oneOf<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws(ConfigError) -> T where T.RawValue == String {
        guard let v = T(rawValue: value.lowercased()) else {
            throw bad("one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return v
    }

    func percentage() throws(ConfigError) -> Double {
        guard let p = Double(value.hasSuffix("%") ? String(value.dropLast()) : value), p >= 0, p <= 100 else {
            throw bad("a percentage from 0 to 100")
        }
        return p
    }

    func boolean() throws(ConfigError) -> Bool {
        switch value.lowercased() {
        // As the example configuration documents: true/false, yes/no, 1/0 (and on/off).
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw bad("true or false")
        }
    }

    func list() -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A source URL (or path), checked for credentials before the host.
    func sourceURL() throws(ConfigError) -> String {
        try Configuration.checkSourceURL(value, file: file, line: entry.line, key: entry.key)
        return value
    }

    /// `[sync] max_deactivate_percent`/`count` are the `[guard]` keys' old spellings: one
    /// setting, so giving it in both places is an error (which one would win?).
    func onlySpellingOfGuardKey() throws(ConfigError) {
        if let other = document.entries.first(where: {
            $0.line < entry.line && $0.key == entry.key && ["sync", "guard"].contains($0.section) && $0.section != entry.section
        }) {
            throw bad("the setting in one place only: [\(other.section)] \(entry.key) on line \(other.line) is the same setting (its old spelling is [sync]); remove one of the two lines")
        }
    }
}
