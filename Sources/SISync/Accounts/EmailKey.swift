import Foundation

/// How R6 compares emails: trimmed, Unicode NFC, lower case, and with the configured
/// domain aliases mapped (`staff.district.org = district.org`), so that
/// ` Jane.Doe@Staff.District.org` and `jane.doe@district.org` are the same mailbox.
public struct EmailNormalizer: Sendable {
    public let aliases: [String: String]

    public init(aliases: [String: String] = [:]) {
        self.aliases = Dictionary(aliases.map { ($0.key.lowercased(), $0.value.lowercased()) }, uniquingKeysWith: { a, _ in a })
    }

    /// The comparison key of an address ("" for none). Plain ASCII addresses (nearly all
    /// of them) take a byte path: Foundation's trimming and NFC cost about 4 µs an address,
    /// which is most of a run that links 200k users.
    public func key(_ email: String) -> String {
        var text: String
        if let ascii = Self.asciiKey(email) { text = ascii } else {
            let trimmed = email.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { return "" }
            text = trimmed.precomposedStringWithCanonicalMapping.lowercased()
        }
        if !aliases.isEmpty, let at = text.lastIndex(of: "@") {
            let domain = String(text[text.index(after: at)...])
            if let canonical = aliases[domain] { text = String(text[...at]) + canonical }
        }
        return text
    }

    /// Trimmed and lower-cased, for an all-ASCII address; nil when any byte is not ASCII.
    static func asciiKey(_ email: String) -> String? {
        var copy = email
        var unchanged = false
        let key = copy.withUTF8 { bytes -> String? in
            var start = 0, end = bytes.count
            func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
            while start < end && isSpace(bytes[start]) { start += 1 }
            while end > start && isSpace(bytes[end - 1]) { end -= 1 }
            var needsLowering = false
            for i in start..<end {
                let b = bytes[i]
                if b >= 0x80 { return nil }
                if b >= 0x41 && b <= 0x5A { needsLowering = true }
            }
            if start == 0 && end == bytes.count && !needsLowering { unchanged = true; return "" }
            return String(unsafeUninitializedCapacity: end - start) { out in
                for i in start..<end {
                    let b = bytes[i]
                    out[i - start] = (b >= 0x41 && b <= 0x5A) ? b + 0x20 : b
                }
                return end - start
            }
        }
        return unchanged ? email : key
    }
}

/// "two active staff share ...": small counts read as words in messages.
package func countWords(_ n: Int) -> String {
    let words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return n < words.count ? words[n] : String(n)
}
