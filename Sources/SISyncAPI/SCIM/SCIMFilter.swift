import SISync

/// An attribute as a filter, a PATCH path or `attributes=` names it: `userName`,
/// `name.givenName`, `urn:ietf:params:scim:schemas:core:2.0:User:userName`. Names compare
/// regardless of case (RFC 7643 §2.1).
package struct SCIMAttributePath: Sendable, Equatable, CustomStringConvertible {
    /// The schema URN before the attribute, when it was written.
    package var schema: String?
    package var attribute: String
    package var subAttribute: String?

    package init(schema: String? = nil, attribute: String, subAttribute: String? = nil) {
        self.schema = schema
        self.attribute = attribute
        self.subAttribute = subAttribute
    }

    /// `[URI ":"] ATTRNAME *1subAttr`: the schema is what comes before the last `:` (URNs
    /// hold dots, `2.0`), the sub-attribute what follows the first `.` after it.
    package static func parse(_ text: some StringProtocol) -> SCIMAttributePath? {
        var rest = Substring(text)
        var schema: String?
        if let colon = rest.lastIndex(of: ":") {
            schema = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
            guard schema!.lowercased().hasPrefix("urn:") else { return nil }
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy(isName) else { return nil }
        return SCIMAttributePath(schema: schema, attribute: String(parts[0]), subAttribute: parts.count == 2 ? String(parts[1]) : nil)
    }

    /// ATTRNAME = ALPHA *(nameChar); `$ref` is the one name with a `$`.
    static func isName(_ s: Substring) -> Bool {
        func letter(_ u: Unicode.Scalar) -> Bool { ("a"..."z").contains(u) || ("A"..."Z").contains(u) }
        guard let first = s.unicodeScalars.first, letter(first) || first == "$" else { return false }
        return s.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "$" }
    }

    package func named(_ name: String) -> Bool { attribute.caseInsensitiveCompare(name) == .orderedSame }

    package var description: String {
        (schema.map { $0 + ":" } ?? "") + attribute + (subAttribute.map { "." + $0 } ?? "")
    }
}

/// A comparison's value: RFC 7644 §3.4.2.2 `compValue`.
package enum SCIMFilterValue: Sendable, Equatable {
    case string(String), bool(Bool), null, number(String)
}

package enum SCIMCompare: String, Sendable, CaseIterable {
    case eq, ne, co, sw, ew, gt, lt, ge, le
}

/// A parsed `filter` (RFC 7644 §3.4.2.2), a value: nothing of it is SQL. `SCIMUserQuery`
/// turns it into the store's `UserFilter` through a fixed map, and `SCIMPatch` evaluates a
/// value path's filter on a multi-valued attribute's elements.
package indirect enum SCIMFilter: Sendable, Equatable {
    case compare(SCIMAttributePath, SCIMCompare, SCIMFilterValue)
    case present(SCIMAttributePath)
    case and(SCIMFilter, SCIMFilter)
    case or(SCIMFilter, SCIMFilter)
    case not(SCIMFilter)
    /// `emails[type eq "work"]`: the elements of a multi-valued attribute that match.
    case valuePath(SCIMAttributePath, SCIMFilter)

    /// At most this many comparisons in one filter (issue 32), and this much nesting.
    package static let maxTerms = 50
    package static let maxDepth = 16
    package static let maxLength = 4096

    package static func parse(_ text: String) throws(SCIMError) -> SCIMFilter {
        guard text.utf8.count <= maxLength else { throw .invalidFilter("the filter is longer than \(maxLength) bytes") }
        var parser = try SCIMFilterParser(text)
        let filter = try parser.filter()
        guard parser.atEnd else { throw .invalidFilter("unexpected \(parser.peekDescription) after the end of the filter") }
        return filter
    }
}

/// The words of a filter or path: `(`, `)`, `[`, `]`, quoted strings (JSON's escapes), and
/// runs of anything else between spaces.
enum SCIMFilterToken: Equatable {
    case open, close, openBracket, closeBracket, string(String), word(String)
}

/// A recursive-descent parser over the tokens: `or` binds loosest, then `and`, then `not`
/// and parentheses (RFC 7644 §3.4.2.2). Depth and terms are bounded, so no filter can
/// exhaust the stack or make a query of thousands of conditions.
struct SCIMFilterParser {
    private var tokens: [SCIMFilterToken]
    private var index = 0
    private var depth = 0
    private var terms = 0

    init(_ text: String) throws(SCIMError) {
        tokens = try Self.tokenize(text)
    }

    var atEnd: Bool { index == tokens.count }
    var peekDescription: String {
        guard index < tokens.count else { return "the end" }
        switch tokens[index] {
        case .open: return "`(`"
        case .close: return "`)`"
        case .openBracket: return "`[`"
        case .closeBracket: return "`]`"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .word(let w): return "`\(w.prefix(40))`"
        }
    }

    static func tokenize(_ text: String) throws(SCIMError) -> [SCIMFilterToken] {
        var out: [SCIMFilterToken] = []
        let bytes = Array(text.utf8)
        var i = 0
        var word: [UInt8] = []
        func flush() { if !word.isEmpty { out.append(.word(String(decoding: word, as: UTF8.self))); word = [] } }
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case 0x20, 0x09, 0x0A, 0x0D: flush()
            case UInt8(ascii: "("): flush(); out.append(.open)
            case UInt8(ascii: ")"): flush(); out.append(.close)
            case UInt8(ascii: "["): flush(); out.append(.openBracket)
            case UInt8(ascii: "]"): flush(); out.append(.closeBracket)
            case UInt8(ascii: "\""):
                flush()
                var j = i + 1
                var escaped = false
                while j < bytes.count {
                    if escaped { escaped = false } else if bytes[j] == UInt8(ascii: "\\") { escaped = true } else if bytes[j] == UInt8(ascii: "\"") { break }
                    j += 1
                }
                guard j < bytes.count else { throw .invalidFilter("a string in the filter has no closing quote") }
                let literal = Array(bytes[i...j])
                var scanner = JSONScanner(file: "the filter", bytes: literal)
                guard case .string(let utf8)? = try? scanner.next(), let s = String(validating: utf8, as: UTF8.self) else {
                    throw .invalidFilter("a string in the filter has a bad escape (strings are JSON strings)")
                }
                out.append(.string(s))
                i = j
            default: word.append(b)
            }
            i += 1
        }
        flush()
        return out
    }

    private mutating func next() -> SCIMFilterToken? {
        guard index < tokens.count else { return nil }
        defer { index += 1 }
        return tokens[index]
    }

    private func peekWord(_ w: String) -> Bool {
        if index < tokens.count, case .word(let x) = tokens[index] { return x.lowercased() == w }
        return false
    }

    mutating func filter() throws(SCIMError) -> SCIMFilter {
        depth += 1
        defer { depth -= 1 }
        guard depth <= SCIMFilter.maxDepth else { throw .invalidFilter("the filter nests more than \(SCIMFilter.maxDepth) levels deep") }
        var left = try conjunction()
        while peekWord("or") {
            index += 1
            left = .or(left, try conjunction())
        }
        return left
    }

    private mutating func conjunction() throws(SCIMError) -> SCIMFilter {
        var left = try unary()
        while peekWord("and") {
            index += 1
            left = .and(left, try unary())
        }
        return left
    }

    private mutating func unary() throws(SCIMError) -> SCIMFilter {
        if peekWord("not") {
            index += 1
            guard next() == .open else { throw .invalidFilter("`not` must be followed by a filter in parentheses") }
            return .not(try parenthesized())
        }
        if index < tokens.count, tokens[index] == .open {
            index += 1
            return try parenthesized()
        }
        return try attributeExpression()
    }

    private mutating func parenthesized() throws(SCIMError) -> SCIMFilter {
        let inner = try filter()
        guard next() == .close else { throw .invalidFilter("a `(` has no matching `)`") }
        return inner
    }

    /// `attrPath pr`, `attrPath op value`, `attr[filter]`, and what providers send beside
    /// the grammar: `emails[type eq "work"].value eq "x"`, read as the elements matching both.
    private mutating func attributeExpression() throws(SCIMError) -> SCIMFilter {
        guard case .word(let name)? = next() else { throw .invalidFilter("expected an attribute name at \(tokenPosition)") }
        guard let path = SCIMAttributePath.parse(name) else { throw .invalidFilter("`\(name.prefix(60))` is not an attribute name") }
        if index < tokens.count, tokens[index] == .openBracket {
            index += 1
            guard path.subAttribute == nil else { throw .invalidFilter("a value filter `[...]` follows an attribute, not a sub-attribute") }
            let inner = try filter()
            guard next() == .closeBracket else { throw .invalidFilter("a `[` has no matching `]`") }
            if index < tokens.count, case .word(let w) = tokens[index], w.hasPrefix(".") {
                index += 1
                guard let sub = SCIMAttributePath.parse(w.dropFirst()), sub.schema == nil, sub.subAttribute == nil else {
                    throw .invalidFilter("`\(w.prefix(60))` is not a sub-attribute")
                }
                let comparison = try comparison(on: SCIMAttributePath(attribute: sub.attribute))
                return .valuePath(path, .and(inner, comparison))
            }
            return .valuePath(path, inner)
        }
        return try comparison(on: path)
    }

    private mutating func comparison(on path: SCIMAttributePath) throws(SCIMError) -> SCIMFilter {
        guard case .word(let opText)? = next() else { throw .invalidFilter("expected an operator after `\(path)`") }
        terms += 1
        guard terms <= SCIMFilter.maxTerms else { throw .invalidFilter("the filter has more than \(SCIMFilter.maxTerms) comparisons") }
        if opText.lowercased() == "pr" { return .present(path) }
        guard let op = SCIMCompare(rawValue: opText.lowercased()) else {
            throw .invalidFilter("`\(opText.prefix(20))` is not an operator; use eq, ne, co, sw, ew, gt, lt, ge, le or pr")
        }
        let value: SCIMFilterValue
        switch next() {
        case .string(let s)?: value = .string(s)
        case .word(let w)?:
            switch w.lowercased() {
            case "true": value = .bool(true)
            case "false": value = .bool(false)
            case "null": value = .null
            default:
                guard w.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }), w.first?.isNumber == true || w.first == "-" else {
                    throw .invalidFilter("`\(w.prefix(40))` is not a value; strings are quoted (\"...\"), and true, false, null and numbers are not")
                }
                value = .number(w)
            }
        default: throw .invalidFilter("expected a value after `\(path) \(opText)`")
        }
        return .compare(path, op, value)
    }

    private var tokenPosition: String { index <= tokens.count ? "token \(index)" : "the end" }
}
