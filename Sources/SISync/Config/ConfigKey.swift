/// One key sisync.conf accepts: its section, its name, its default as the documentation
/// gives it, and the parser that checks its value and sets its field. The keys are one
/// table (`ConfigKey.table`, as systemd-timesyncd's `timesyncd-gperf.gperf` is), and
/// everything that lists keys reads it: the reader, the unknown-key and unknown-section
/// errors with their suggestions, and the test that the manual page documents every key.
public struct ConfigKey: Sendable {
    public let section: String
    /// The key as written; for a pattern, the form the manual page documents (`ENTITY_url`).
    public let name: String
    /// The default as written in the file (`15m`); "" for a key that is unset by default.
    public let defaultText: String
    /// A key whose name holds a part the administrator chooses (an entity, a school id).
    public let isPattern: Bool
    /// Whether a key of the file is this entry (a pattern's test; a plain key's equality).
    let matches: @Sendable (String) -> Bool
    /// The names a misspelt key is compared with for "did you mean": the key itself, or a
    /// pattern's forms that can be listed (`staff_url`, `students_url`, ...).
    let spellings: [String]
    /// Checks the line's value and sets the field in the configuration being built.
    let read: @Sendable (ConfigLine, inout Configuration) throws(ConfigError) -> Void
    /// The field's value shown as text, so a test can hold `defaultText` to the field's
    /// real default; nil for a pattern.
    let current: (@Sendable (Configuration) -> String)?

    /// A plain key whose value sets one field.
    static func key<T>(_ section: String, _ name: String, _ field: WritableKeyPath<Configuration, T> & Sendable, default defaultText: String = "",
                       _ parse: @escaping @Sendable (ConfigLine) throws(ConfigError) -> T) -> ConfigKey {
        ConfigKey(section: section, name: name, defaultText: defaultText, isPattern: false, matches: { $0 == name }, spellings: [name],
                  read: { (line, c) throws(ConfigError) in c[keyPath: field] = try parse(line) },
                  current: { "\($0[keyPath: field])" })
    }

    /// A key whose name holds a chosen part: `matches` tells the names it takes, and `read`
    /// finds the part in `line.entry.key`.
    static func pattern(_ section: String, _ name: String, spellings: [String] = [], matches: @escaping @Sendable (String) -> Bool,
                        _ read: @escaping @Sendable (ConfigLine, inout Configuration) throws(ConfigError) -> Void) -> ConfigKey {
        ConfigKey(section: section, name: name, defaultText: "", isPattern: true, matches: matches, spellings: spellings, read: read, current: nil)
    }

    /// Whether a section of the file is this key's: its name, or for a section written once
    /// per thing (`[webhook.NAME]`), the prefix and any name.
    func isIn(section name: String) -> Bool {
        guard section.hasSuffix(".NAME") else { return section == name }
        let prefix = section.dropLast(4)
        return name.hasPrefix(prefix) && name.count > prefix.count
    }

    /// The entry a key of the file is: a plain key before a pattern, as a key such as
    /// `token_url` is no entity's URL.
    static func entry(section: String, key: String, in keys: [ConfigKey] = table) -> ConfigKey? {
        let inSection = keys.filter { $0.isIn(section: section) }
        return inSection.first { !$0.isPattern && $0.matches(key) } ?? inSection.first { $0.isPattern && $0.matches(key) }
    }

    /// Whether the table has keys for a section of the file.
    static func isKnown(section: String, in keys: [ConfigKey] = table) -> Bool {
        keys.contains { $0.isIn(section: section) }
    }

    /// The sections, in the order of the table (and of the manual page); a section written
    /// once per thing as `webhook.NAME`.
    public static var sections: [String] {
        table.reduce(into: []) { names, key in if !names.contains(key.section) { names.append(key.section) } }
    }

    /// `[sync], [source] and [portal]`.
    static var sectionList: String {
        let names = sections.map { "[\($0)]" }
        return names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }

    /// The key of `section` that `key` is most likely a misspelling of, or the section a
    /// correctly spelt key belongs to (`interval` in [source]), as `[sync] interval`.
    static func suggestion(forKey key: String, in section: String) -> String? {
        let inSection = table.filter { $0.isIn(section: section) }
        if let near = closest(to: key, among: inSection.flatMap(\.spellings)) { return "`\(near)`" }
        if let elsewhere = table.first(where: { !$0.isIn(section: section) && !$0.isPattern && $0.name == key }) {
            return "`\(key)` in [\(elsewhere.section)]"
        }
        return nil
    }

    /// The section `section` is most likely a misspelling of.
    static func suggestion(forSection section: String) -> String? {
        closest(to: section, among: sections).map { "[\($0)]" }
    }

    /// The nearest name by edit distance, if it is near enough to be a typo: at most two
    /// edits, or one in four characters of a longer name (five at most).
    package static func closest(to word: String, among names: [String]) -> String? {
        let limit = min(max(2, word.count / 4), 5)
        var best: (name: String, distance: Int)?
        // Names whose lengths differ by more than the limit are that many edits apart at
        // least: skipping them keeps a pasted paragraph from costing a quadratic compare.
        for name in names where name != word && abs(name.count - word.count) <= limit {
            let d = editDistance(word, name)
            if d <= limit, d < (best?.distance ?? Int.max) { best = (name, d) }
        }
        return best?.name
    }

    /// Levenshtein distance: insertions, deletions and substitutions of characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        var row = previous
        for i in 1...a.count {
            row[0] = i
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &row)
        }
        return previous[b.count]
    }
}
