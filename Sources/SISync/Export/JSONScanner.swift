/// A small pull parser over one JSON document held in a single buffer. It hands out
/// values one at a time instead of building a tree, so a large export is never copied
/// into millions of dictionary objects.
package struct JSONScanner {
    package enum Token { case string([UInt8]), number([UInt8]), bool(Bool), null, objectStart, arrayStart }

    let file: String
    let bytes: [UInt8]
    package private(set) var pos = 0
    /// The JSON path being read, for messages (`staff[12].email`).
    var path = ""

    package init(file: String, bytes: [UInt8]) {
        self.file = file
        self.bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }
    }

    func error(_ message: String) -> ExportError {
        .malformedJSON(file: file, path: path, offset: pos, message: message)
    }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { break }
        }
    }

    mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard pos < bytes.count else { throw error("the document ends too early") }
        return bytes[pos]
    }

    mutating func expect(_ b: UInt8) throws {
        let c = try peek()
        guard c == b else {
            throw error("expected `\(Character(Unicode.Scalar(b)))`, found `\(Character(Unicode.Scalar(c)))`")
        }
        pos += 1
    }

    /// After `{` or `,` inside an object: the next key, or nil at `}`.
    package mutating func nextKey(first: Bool) throws -> String? {
        let c = try peek()
        if c == UInt8(ascii: "}") { pos += 1; return nil }
        if !first {
            guard c == UInt8(ascii: ",") else { throw error("expected `,` or `}` between object members") }
            pos += 1
        }
        guard try peek() == UInt8(ascii: "\"") else { throw error("expected a quoted member name") }
        let key = String(decoding: try readString(), as: UTF8.self)
        try expect(UInt8(ascii: ":"))
        return key
    }

    /// Inside an array: true when another element follows, false at `]`.
    package mutating func nextElement(first: Bool) throws -> Bool {
        let c = try peek()
        if c == UInt8(ascii: "]") { pos += 1; return false }
        if !first {
            guard c == UInt8(ascii: ",") else { throw error("expected `,` or `]` between array elements") }
            pos += 1
        }
        return true
    }

    /// Reads a scalar, or consumes the opening bracket of an object or array.
    package mutating func next() throws -> Token {
        let c = try peek()
        switch c {
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "{"): pos += 1; return .objectStart
        case UInt8(ascii: "["): pos += 1; return .arrayStart
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        default: throw error("unexpected character `\(Character(Unicode.Scalar(c)))`")
        }
    }

    /// How deep values may nest below the point where skipping starts. The JSON export (docs/export-format.md) needs four
    /// levels (document, entity array, record, list); anything near this bound is not an
    /// export, and a bound keeps a hostile document from exhausting memory or time.
    static let maxDepth = 256

    /// Skips the rest of a value whose first token was already read. It walks the value
    /// with a counter, not by recursion, so no nesting can overflow the stack; nesting
    /// deeper than `maxDepth` is a structural error (R2) at the current path.
    package mutating func skip(after token: Token) throws {
        // One bit per open container: 1 for an object, 0 for an array.
        var open: [Bool] = []
        var first = true
        switch token {
        case .objectStart: open.append(true)
        case .arrayStart: open.append(false)
        default: return
        }
        while let isObject = open.last {
            let more: Bool
            if isObject { more = try nextKey(first: first) != nil } else { more = try nextElement(first: first) }
            guard more else { open.removeLast(); first = false; continue }
            first = false
            switch try next() {
            case .objectStart, .arrayStart:
                guard open.count < Self.maxDepth else {
                    throw error("values are nested more than \(Self.maxDepth) levels deep")
                }
                open.append(bytes[pos - 1] == UInt8(ascii: "{"))
                first = true
            default: break
            }
        }
    }

    package mutating func finish() throws {
        skipWhitespace()
        guard pos == bytes.count else { throw error("unexpected content after the end of the document") }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw error("unexpected word; expected \(word)")
        }
        pos += w.count
    }

    private mutating func readNumber() throws -> [UInt8] {
        let start = pos
        while pos < bytes.count {
            let b = bytes[pos]
            if (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { pos += 1 } else { break }
        }
        let text = Array(bytes[start..<pos])
        guard Double(String(decoding: text, as: UTF8.self)) != nil else { throw error("malformed number") }
        return text
    }

    private mutating func readString() throws -> [UInt8] {
        pos += 1 // opening quote
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw error("a string is never closed") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; break }
            if b < 0x20 { throw error("a control character inside a string must be escaped") }
            if b != UInt8(ascii: "\\") { out.append(b); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { throw error("a string is never closed") }
            let e = bytes[pos]; pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw error("an unpaired UTF-16 surrogate in a \\u escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("an unpaired UTF-16 surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("an invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("an unknown escape `\\\(Character(Unicode.Scalar(e)))`")
            }
        }
        return out
    }

    private mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16) else {
            throw error("a \\u escape needs four hex digits")
        }
        pos += 4
        return v
    }
}
