/// Everything that makes a configuration unusable. Each case names the file and line
/// so that `sisyncd` can exit 78 with a message an administrator can act on.
public enum ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    case missingFile(path: String)
    case unreadable(path: String, reason: String)
    case syntax(file: String, line: Int, message: String)
    case repeatedSection(file: String, line: Int, section: String, firstLine: Int)
    case repeatedKey(file: String, line: Int, section: String, key: String, firstLine: Int)
    case unknownSection(file: String, line: Int, section: String)
    case unknownKey(file: String, line: Int, section: String, key: String)
    case badValue(file: String, line: Int, section: String, key: String, value: String, expected: String)
    case missingKey(file: String, section: String, key: String)
    case secretFile(path: String, key: String, reason: String)
    /// A letter template (`[portal] letter_template`) with a placeholder sisync does not know.
    case template(file: String, line: Int, placeholder: String, message: String)

    /// Every URL in it shown as `DisplayedURL` does (a source URL's secrets masked).
    public var description: String { DisplayedURL.redacting(in: text) }

    private var text: String {
        switch self {
        case .missingFile(let path):
            return "\(path): configuration file not found; create it (see config/sisync.conf) or pass --config PATH"
        case .unreadable(let path, let reason):
            return "\(path): cannot read the configuration file: \(reason)"
        case .syntax(let file, let line, let message):
            return "\(file):\(line): \(message)"
        case .repeatedSection(let file, let line, let section, let first):
            return "\(file):\(line): section [\(section)] appears again (first at line \(first)); merge the two"
        case .repeatedKey(let file, let line, let section, let key, let first):
            return "\(file):\(line): key `\(key)` in [\(section)] is repeated (first at line \(first)); keep one"
        case .unknownSection(let file, let line, let section):
            let guess = ConfigKey.suggestion(forSection: section).map { "; did you mean \($0)?" } ?? ""
            return "\(file):\(line): unknown section [\(section)]; known sections are \(ConfigKey.sectionList)\(guess)"
        case .unknownKey(let file, let line, let section, let key):
            let guess = ConfigKey.suggestion(forKey: key, in: section).map { "; did you mean \($0)?" } ?? ""
            return "\(file):\(line): unknown key `\(key)` in [\(section)]; check its spelling against config/sisync.conf\(guess)"
        case .badValue(let file, let line, let section, let key, let value, let expected):
            return "\(file):\(line): [\(section)] \(key) = `\(value)` is not valid: expected \(expected)"
        case .missingKey(let file, let section, let key):
            return "\(file): [\(section)] \(key) is required"
        case .secretFile(let path, let key, let reason):
            return "\(path): cannot read the file named by `\(key)`: \(reason)"
        case .template(let file, let line, let placeholder, let message):
            return "\(file):\(line): `\(placeholder)` in the letter template ([portal] letter_template): \(message)"
        }
    }
}
