/// A small pull parser over one JSON document. It hands out values one at a time instead
/// of building a tree, so a large export is never copied into millions of dictionary
/// objects; and it reads a document that streams (`init(file:source:)`, a native export)
/// a chunk at a time, keeping only the bytes it has not read yet, so that the document
/// itself is never held whole: a district's 150 MB export took the run to 300 MB, and one
/// five times its size to 1.1 GB, when it was.
package struct JSONScanner {
    package enum Token { case string([UInt8]), number([UInt8]), bool(Bool), null, objectStart, arrayStart }

    /// A value's first token without its text, for `next(appendingTo:)`: the text went onto
    /// the caller's buffer.
    package enum Kind: Equatable { case string, number, bool(Bool), null, objectStart, arrayStart }

    /// Appends the document's next bytes to its argument; false at the document's end.
    package typealias Source = (inout [UInt8]) throws -> Bool

    let file: String
    /// The bytes not yet read, from `index` on (a streamed document's window; the whole
    /// document otherwise). Bytes before `index` are dropped when more are read.
    private var bytes: [UInt8]
    private var index = 0
    /// How many bytes of the document came before `bytes[0]`.
    private var base = 0
    private let source: Source?
    private var ended = false
    /// The most bytes the window has held (tests: a streamed document is never held whole).
    package private(set) var largestWindow = 0

    /// The byte offset in the document of what is read next, for messages.
    package var pos: Int { base + index }

    /// The JSON path being read, for messages (`staff[12].email`).
    package var path = JSONPath()

    /// The longest string or number kept (4 MiB, the most a CSV record of the same export
    /// may hold: `CSVReader.recordByteLimit`). A document streams, so without a bound one
    /// unclosed string would be read into memory whole.
    package static let valueByteLimit = 4 << 20

    package init(file: String, bytes: [UInt8]) {
        self.file = file
        self.bytes = bytes
        self.source = nil
        self.ended = true
        largestWindow = bytes.count
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    /// A document read from `source` as it is needed.
    package init(file: String, source: @escaping Source) throws {
        self.file = file
        self.bytes = []
        self.source = source
        if try has(3), bytes[index] == 0xEF, bytes[index + 1] == 0xBB, bytes[index + 2] == 0xBF { index = 3 }
    }

    func error(_ message: String) -> ExportError {
        error(message, at: pos)
    }

    func error(_ message: String, at offset: Int) -> ExportError {
        .malformedJSON(file: file, path: path.description, offset: offset, message: message)
    }

    /// Whether `n` bytes from `index` are there, reading on if the document streams.
    @inline(__always) private mutating func has(_ n: Int) throws -> Bool {
        bytes.count - index >= n ? true : try readMore(n)
    }

    @inline(never) private mutating func readMore(_ n: Int) throws -> Bool {
        guard let source else { return false }
        while bytes.count - index < n {
            if ended { return false }
            if index > 0 {
                bytes.removeSubrange(0..<index)
                base += index
                index = 0
            }
            // A source that gives nothing has ended too (a hand-written one could say it
            // had more forever).
            let before = bytes.count
            if try !source(&bytes) || bytes.count == before { ended = true }
            largestWindow = max(largestWindow, bytes.count)
        }
        return true
    }

    mutating func skipWhitespace() throws {
        while true {
            if index == bytes.count { guard try readMore(1) else { return } }
            let b = bytes[index]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 } else { return }
        }
    }

    mutating func peek() throws -> UInt8 {
        try skipWhitespace()
        guard try has(1) else { throw error("the document ends too early") }
        return bytes[index]
    }

    mutating func expect(_ b: UInt8) throws {
        let c = try peek()
        guard c == b else {
            throw error("expected `\(Character(Unicode.Scalar(b)))`, found `\(Character(Unicode.Scalar(c)))`")
        }
        index += 1
    }

    /// After `{` or `,` inside an object: the next key, or nil at `}`.
    package mutating func nextKey(first: Bool) throws -> String? {
        var key: [UInt8] = []
        guard try nextKey(first: first, into: &key) else { return nil }
        return String(decoding: key, as: UTF8.self)
    }

    /// After `{` or `,` inside an object: false at `}`, else true with the next key's bytes
    /// (decoded) appended to `key`.
    package mutating func nextKey(first: Bool, into key: inout [UInt8]) throws -> Bool {
        try nextKey(first: first, into: &key, keeping: true)
    }

    private mutating func nextKey(first: Bool, into key: inout [UInt8], keeping: Bool) throws -> Bool {
        let c = try peek()
        if c == UInt8(ascii: "}") { index += 1; return false }
        if !first {
            guard c == UInt8(ascii: ",") else { throw error("expected `,` or `}` between object members") }
            index += 1
        }
        guard try peek() == UInt8(ascii: "\"") else { throw error("expected a quoted member name") }
        try readString(into: &key, keeping: keeping)
        try expect(UInt8(ascii: ":"))
        return true
    }

    /// Inside an array: true when another element follows, false at `]`.
    package mutating func nextElement(first: Bool) throws -> Bool {
        let c = try peek()
        if c == UInt8(ascii: "]") { index += 1; return false }
        if !first {
            guard c == UInt8(ascii: ",") else { throw error("expected `,` or `]` between array elements") }
            index += 1
        }
        return true
    }

    /// Reads a scalar, or consumes the opening bracket of an object or array.
    package mutating func next() throws -> Token {
        var text: [UInt8] = []
        switch try next(appendingTo: &text) {
        case .string: return .string(text)
        case .number: return .number(text)
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .objectStart: return .objectStart
        case .arrayStart: return .arrayStart
        }
    }

    /// Reads a scalar, its text (a string decoded, a number as written) appended to `out`,
    /// or consumes the opening bracket of an object or array.
    package mutating func next(appendingTo out: inout [UInt8]) throws -> Kind {
        try next(appendingTo: &out, keeping: true)
    }

    private mutating func next(appendingTo out: inout [UInt8], keeping: Bool) throws -> Kind {
        let c = try peek()
        switch c {
        case UInt8(ascii: "\""): try readString(into: &out, keeping: keeping); return .string
        case UInt8(ascii: "{"): index += 1; return .objectStart
        case UInt8(ascii: "["): index += 1; return .arrayStart
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try readNumber(into: &out, keeping: keeping); return .number
        default: throw error("unexpected character `\(Character(Unicode.Scalar(c)))`")
        }
    }

    /// Reads a whole value and keeps nothing of it (a member no entity has).
    package mutating func skipValue() throws {
        var none: [UInt8] = []
        try skip(after: try next(appendingTo: &none, keeping: false))
    }

    /// How deep values may nest below the point where skipping starts. The JSON export (docs/export-format.md) needs four
    /// levels (document, entity array, record, list); anything near this bound is not an
    /// export, and a bound keeps a hostile document from exhausting memory or time.
    static let maxDepth = 256

    /// Skips the rest of a value whose first token was already read.
    package mutating func skip(after token: Token) throws {
        switch token {
        case .objectStart: try skip(after: Kind.objectStart)
        case .arrayStart: try skip(after: Kind.arrayStart)
        default: return
        }
    }

    /// Skips the rest of a value whose first token was already read. It walks the value
    /// with a counter, not by recursion, so no nesting can overflow the stack; nesting
    /// deeper than `maxDepth` is a structural error (R2) at the current path. Strings in
    /// it are read, not kept.
    package mutating func skip(after kind: Kind) throws {
        // One bit per open container: 1 for an object, 0 for an array.
        var open: [Bool] = []
        var first = true
        switch kind {
        case .objectStart: open.append(true)
        case .arrayStart: open.append(false)
        default: return
        }
        var none: [UInt8] = []
        while let isObject = open.last {
            let more: Bool
            if isObject {
                more = try nextKey(first: first, into: &none, keeping: false)
            } else {
                more = try nextElement(first: first)
            }
            guard more else { open.removeLast(); first = false; continue }
            first = false
            let inner = try next(appendingTo: &none, keeping: false)
            guard inner == .objectStart || inner == .arrayStart else { continue }
            guard open.count < Self.maxDepth else {
                throw error("values are nested more than \(Self.maxDepth) levels deep")
            }
            open.append(inner == .objectStart)
            first = true
        }
    }

    package mutating func finish() throws {
        try skipWhitespace()
        guard try !has(1) else { throw error("unexpected content after the end of the document") }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let matches = try has(n) && word.withUTF8Buffer { w in
            bytes.withUnsafeBufferPointer { b in (0..<n).allSatisfy { b[index + $0] == w[$0] } }
        }
        guard matches else { throw error("unexpected word; expected \(word)") }
        index += n
    }

    private mutating func readNumber(into out: inout [UInt8], keeping: Bool) throws {
        let start = pos
        var text: [UInt8] = []
        while try has(1) {
            let b = bytes[index]
            guard (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") else { break }
            guard text.count < Self.valueByteLimit else { throw error("a number of more than 4 MiB", at: start) }
            text.append(b)
            index += 1
        }
        guard Double(String(decoding: text, as: UTF8.self)) != nil else { throw error("malformed number") }
        if keeping { out.append(contentsOf: text) }
    }

    /// Reads a string (the opening quote is at `index`), appending its decoded bytes to
    /// `out` when `keeping`. Runs of plain bytes are found and copied at once.
    /// A string past `valueByteLimit` is refused at its opening quote, wherever the chunks
    /// of a streamed document fall.
    private mutating func readString(into out: inout [UInt8], keeping: Bool) throws {
        let opened = pos
        index += 1 // opening quote
        var length = 0
        // Counts what the string adds, and keeps it when asked.
        func take<Piece: Collection<UInt8>>(_ piece: Piece) throws {
            length += piece.count
            guard length <= Self.valueByteLimit else { throw error("a string of more than 4 MiB", at: opened) }
            if keeping { out.append(contentsOf: piece) }
        }
        while true {
            if index == bytes.count { guard try readMore(1) else { throw error("a string is never closed") } }
            let end = bytes.withUnsafeBufferPointer { b -> Int in
                var i = index
                while i < b.count {
                    let c = b[i]
                    if c == 0x22 || c == 0x5C || c < 0x20 { break }
                    i += 1
                }
                return i
            }
            if end > index {
                try take(bytes[index..<end])
                index = end
                continue
            }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") { index += 1; return }
            if b < 0x20 { throw error("a control character inside a string must be escaped") }
            index += 1
            guard try has(1) else { throw error("a string is never closed") }
            let e = bytes[index]; index += 1
            switch e {
            case UInt8(ascii: "\""): try take(CollectionOfOne(0x22))
            case UInt8(ascii: "\\"): try take(CollectionOfOne(0x5C))
            case UInt8(ascii: "/"): try take(CollectionOfOne(0x2F))
            case UInt8(ascii: "b"): try take(CollectionOfOne(0x08))
            case UInt8(ascii: "f"): try take(CollectionOfOne(0x0C))
            case UInt8(ascii: "n"): try take(CollectionOfOne(0x0A))
            case UInt8(ascii: "r"): try take(CollectionOfOne(0x0D))
            case UInt8(ascii: "t"): try take(CollectionOfOne(0x09))
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard try has(2), bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw error("an unpaired UTF-16 surrogate in a \\u escape")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("an unpaired UTF-16 surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("an invalid \\u escape") }
                try take(String(Character(u)).utf8)
            default: throw error("an unknown escape `\\\(Character(Unicode.Scalar(e)))`")
            }
        }
    }

    /// Four hex digits and nothing else (RFC 8259).
    private mutating func hex4() throws -> UInt32 {
        guard try has(4) else { throw error("a \\u escape needs four hex digits") }
        var v: UInt32 = 0
        for b in bytes[index..<index + 4] {
            guard let digit = HexDigit.value(b) else { throw error("a \\u escape needs four hex digits") }
            v = v << 4 | UInt32(digit)
        }
        index += 4
        return v
    }
}

/// Where in a document a scanner is, for messages: `staff[12].email`. Kept in parts and
/// written out only for a message, not once a row or a member.
package struct JSONPath: CustomStringConvertible, Equatable {
    package var top = ""
    package var element: Int?
    package var member: String?

    package init(top: String = "", element: Int? = nil, member: String? = nil) {
        self.top = top
        self.element = element
        self.member = member
    }

    package var description: String {
        var s = top
        if let element { s += "[\(element)]" }
        if let member { s += "." + member }
        return s
    }
}
