import Foundation

/// A `Link` header (RFC 8288, section 3): comma-separated link-values, each a target in
/// angle brackets followed by `;`-separated parameters. The target is read up to its `>`,
/// so a `,` or `;` inside it (`users;jsessionid=...`, `?fields=sourcedId,givenName`) is part
/// of the URL. Split on `,` and `;` first, such a header has no next link, and a server that
/// sends no `X-Total-Count` would have its roster cut short after one page.
///
/// Pure and total: any text gives a value, never a crash. A link-value that cannot be read
/// is listed in `unreadable` rather than guessed at, so the fetcher can refuse to stop
/// paging on a header it did not understand.
struct LinkHeader: Equatable, Sendable {
    struct Parameter: Equatable, Sendable {
        /// Lower-cased: parameter names are case-insensitive (RFC 8288 section 3).
        var name: String
        /// Unquoted and unescaped; "" for a parameter without `=`.
        var value: String
    }

    struct Link: Equatable, Sendable {
        /// Exactly as between `<` and `>`: resolving it and checking its origin is
        /// SourceOrigin's job, which must see what the server sent.
        var target: String
        var parameters: [Parameter]
        /// The relation types of the first `rel` (later ones are ignored, RFC 8288 3.3),
        /// lower-cased since they compare case-insensitively: `rel="next last"` has two.
        var relations: [String]
    }

    var links: [Link] = []
    /// Link-values that could not be read (no `<`, no closing `>` or `"`, stray text
    /// between parameters), trimmed.
    var unreadable: [String] = []

    /// `field` is one header line's value, or several joined with ", " (RFC 9110 5.3).
    init(_ field: String) {
        let bytes = Array(field.utf8)
        var i = 0
        while true {
            while i < bytes.count, bytes[i] == .space || bytes[i] == .tab || bytes[i] == .comma { i += 1 }
            guard i < bytes.count else { break }
            let start = i
            if let link = Self.readLink(bytes, &i) {
                links.append(link)
            } else {
                i = Self.endOfLinkValue(bytes, from: start)
                unreadable.append(Self.text(bytes[start..<i]).trimmingCharacters(in: .whitespaces))
            }
        }
    }

    /// The first target whose relations include `next`.
    var next: String? { links.first { $0.relations.contains("next") }?.target }

    /// One link-value from `i`, leaving `i` after it; nil when it is malformed.
    private static func readLink(_ b: [UInt8], _ i: inout Int) -> Link? {
        guard b[i] == .lessThan, let close = b[(i + 1)...].firstIndex(of: .greaterThan) else { return nil }
        var link = Link(target: text(b[(i + 1)..<close]), parameters: [], relations: [])
        var sawRel = false
        i = close + 1
        while true {
            skipWhitespace(b, &i)
            if i == b.count || b[i] == .comma { return link }
            guard b[i] == .semicolon else { return nil }
            i += 1
            skipWhitespace(b, &i)
            let nameStart = i
            while i < b.count, isTokenCharacter(b[i]) { i += 1 }
            let name = text(b[nameStart..<i]).lowercased()
            skipWhitespace(b, &i)
            var value = ""
            if i < b.count, b[i] == .equals {
                i += 1
                skipWhitespace(b, &i)
                guard let v = readValue(b, &i) else { return nil }
                value = v
            }
            if name.isEmpty {
                // `<...>;` or `<...>; ;`: an empty parameter, tolerated; `<...>; =x` is not.
                guard value.isEmpty, i == b.count || b[i] == .comma || b[i] == .semicolon || b[i] == .space || b[i] == .tab else { return nil }
                continue
            }
            link.parameters.append(Parameter(name: name, value: value))
            if name == "rel" && !sawRel {
                sawRel = true
                // Split on the bytes: a space before a combining mark is one Character.
                link.relations = Array(value.utf8).split(whereSeparator: { $0 == .space || $0 == .tab }).map { text($0).lowercased() }
            }
        }
    }

    /// A quoted string (with `\` escapes) or a bare token up to `;`, `,` or white space;
    /// nil for a quoted string that never ends.
    private static func readValue(_ b: [UInt8], _ i: inout Int) -> String? {
        guard i < b.count, b[i] == .quote else {
            let start = i
            while i < b.count, b[i] != .semicolon, b[i] != .comma, b[i] != .space, b[i] != .tab { i += 1 }
            return text(b[start..<i])
        }
        i += 1
        var value: [UInt8] = []
        while i < b.count {
            switch b[i] {
            case .quote:
                i += 1
                return text(value[...])
            case .backslash where i + 1 < b.count:
                value.append(b[i + 1])
                i += 2
            default:
                value.append(b[i])
                i += 1
            }
        }
        return nil
    }

    /// Where a malformed link-value starting at `start` ends: the next `,` outside a
    /// `<...>` target and a quoted string, or the end (so an unclosed one takes the rest).
    private static func endOfLinkValue(_ b: [UInt8], from start: Int) -> Int {
        var i = start
        var inTarget = false, inQuote = false
        while i < b.count {
            let c = b[i]
            if inTarget { inTarget = c != .greaterThan }
            else if inQuote {
                if c == .backslash { i += 1 } else if c == .quote { inQuote = false }
            } else if c == .comma { return i }
            else if c == .lessThan { inTarget = true }
            else if c == .quote { inQuote = true }
            i += 1
        }
        return b.count
    }

    private static func skipWhitespace(_ b: [UInt8], _ i: inout Int) {
        while i < b.count, b[i] == .space || b[i] == .tab { i += 1 }
    }

    /// RFC 9110 tchar.
    private static func isTokenCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    /// The delimiters are ASCII, so a slice between them is whole UTF-8 and reads back verbatim.
    private static func text(_ b: ArraySlice<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
}

private extension UInt8 {
    static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), comma = UInt8(ascii: ","), semicolon = UInt8(ascii: ";")
    static let lessThan = UInt8(ascii: "<"), greaterThan = UInt8(ascii: ">"), equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
}
