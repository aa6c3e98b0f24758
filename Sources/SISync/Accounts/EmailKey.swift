import Foundation

/// How R6 compares emails: trimmed, Unicode NFC, lower case, and with the configured
/// domain aliases mapped (`staff.district.org = district.org`), so that
/// ` Jane.Doe@Staff.District.org` and `jane.doe@district.org` are the same mailbox.
public struct EmailNormalizer: Sendable {
    public let aliases: [String: String]

    public init(aliases: [String: String] = [:]) {
        self.aliases = Dictionary(aliases.map { ($0.key.lowercased(), $0.value.lowercased()) }, uniquingKeysWith: { a, _ in a })
    }

    /// The comparison key of an address ("" for none).
    public func key(_ email: String) -> String {
        let trimmed = email.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return "" }
        var text = trimmed.precomposedStringWithCanonicalMapping.lowercased()
        if let at = text.lastIndex(of: "@") {
            let domain = String(text[text.index(after: at)...])
            if let canonical = aliases[domain] { text = String(text[...at]) + canonical }
        }
        return text
    }
}

/// "two active staff share ...": small counts read as words in messages.
func countWords(_ n: Int) -> String {
    let words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return n < words.count ? words[n] : String(n)
}
