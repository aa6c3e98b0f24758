/// `--limit N` of the long listings (`runs`, `run show`, `staff list`, `staff show`,
/// `user list`, `user show`): at most N entries, in text and in `--json`.
enum ListLimit {
    struct Invalid: Error, CustomStringConvertible {
        let text: String
        var description: String { "--limit takes a positive number, got `\(text)`" }
    }

    static func parse(_ text: String?) throws(Invalid) -> Int? {
        guard let text else { return nil }
        guard let n = Int(text), n > 0 else { throw Invalid(text: text) }
        return n
    }

    /// The line after a cut listing, saying how much was left out.
    /// (`earlier` for a history, which shows its newest entries).
    static func more(_ left: Int, indent: String = "", word: String = "more") -> String {
        left > 0 ? "\(indent)… and \(left) \(word) (--limit)\n" : ""
    }
}
