import Foundation

/// A parsed INI file that remembers where every key came from, so that every
/// configuration error can name the file, line and key an administrator must fix.
public struct INIDocument: Sendable {
    public struct Entry: Sendable, Equatable {
        public let section: String
        public let key: String
        public let value: String
        public let line: Int
    }

    public let path: String
    public private(set) var entries: [Entry] = []
    public private(set) var sections: [String: Int] = [:]

    /// The lines of a text file, LF or CRLF: "\r\n" is one Character in Swift, so a split on
    /// "\n" alone would read a file saved on Windows as one line.
    package static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }

    public init(path: String, text: String) throws(ConfigError) {
        var problems: [ConfigError] = []
        self.init(path: path, text: text, problems: &problems)
        if let first = problems.first { throw first }
    }

    /// Reads every line it can, adding each problem to `problems` instead of stopping at the
    /// first (`sisyncd --check-config` lists them all): a line it cannot read is left out, a
    /// repeated key keeps its first value, and a repeated section goes on adding to the first.
    package init(path: String, text: String, problems: inout [ConfigError]) {
        self.path = path
        var current: String?
        var seen: [String: Int] = [:]
        var lineNumber = 0
        var underBadHeader = false
        for rawLine in Self.lines(of: text) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if lineNumber == 1, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    problems.append(.syntax(file: path, line: lineNumber, message: "a section header must look like [name]"))
                    current = nil
                    underBadHeader = true
                    continue
                }
                let name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces).lowercased()
                if let first = sections[name] {
                    problems.append(.repeatedSection(file: path, line: lineNumber, section: name, firstLine: first))
                } else {
                    sections[name] = lineNumber
                }
                current = name
                underBadHeader = false
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                problems.append(.syntax(file: path, line: lineNumber, message: "expected `key = value`, found `\(trimmed)`"))
                continue
            }
            guard let section = current else {
                // Lines under a header that could not be read were reported with it.
                if !underBadHeader { problems.append(.syntax(file: path, line: lineNumber, message: "`\(trimmed)` stands before any [section]")) }
                continue
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // An inline comment starts at " #" (a `#` preceded by white space).
            if let hash = value.range(of: " #") ?? value.range(of: "\t#") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            } else if value.hasPrefix("#") {
                value = ""
            }
            if key.isEmpty {
                problems.append(.syntax(file: path, line: lineNumber, message: "a key name is missing before `=`"))
                continue
            }
            let id = section + "." + key
            if let first = seen[id] {
                problems.append(.repeatedKey(file: path, line: lineNumber, section: section, key: key, firstLine: first))
                continue
            }
            seen[id] = lineNumber
            entries.append(Entry(section: section, key: key, value: value, line: lineNumber))
        }
    }
}
