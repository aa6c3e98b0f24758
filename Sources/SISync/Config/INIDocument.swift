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
        self.path = path
        var current: String?
        var seen: [String: Int] = [:]
        var lineNumber = 0
        for rawLine in Self.lines(of: text) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if lineNumber == 1, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]") else {
                    throw .syntax(file: path, line: lineNumber, message: "a section header must look like [name]")
                }
                let name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces).lowercased()
                if let first = sections[name] {
                    throw .repeatedSection(file: path, line: lineNumber, section: name, firstLine: first)
                }
                sections[name] = lineNumber
                current = name
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw .syntax(file: path, line: lineNumber, message: "expected `key = value`, found `\(trimmed)`")
            }
            guard let section = current else {
                throw .syntax(file: path, line: lineNumber, message: "`\(trimmed)` stands before any [section]")
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
                throw .syntax(file: path, line: lineNumber, message: "a key name is missing before `=`")
            }
            let id = section + "." + key
            if let first = seen[id] {
                throw .repeatedKey(file: path, line: lineNumber, section: section, key: key, firstLine: first)
            }
            seen[id] = lineNumber
            entries.append(Entry(section: section, key: key, value: value, line: lineNumber))
        }
    }
}
