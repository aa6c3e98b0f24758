/// Reads a request's JSON body strictly (issue 30): one object whose members are all among
/// the endpoint's fields and all strings; bad JSON, another type, an unknown, repeated or
/// missing field is an error naming it. Its own small reader, bounded in depth, so that no
/// body (the transport caps them at 64 KiB) can exhaust the stack.
package enum StrictJSON {
    package enum ReadError: Error, Equatable, CustomStringConvertible, Sendable {
        case malformed(String, offset: Int)
        case notAnObject
        case unknownField(String)
        case repeatedField(String)
        case wrongType(field: String, found: String)
        case missingField(String)

        package var description: String {
            switch self {
            case .malformed(let what, let offset): return "the body is not JSON: \(what) at byte \(offset)"
            case .notAnObject: return "the body must be one JSON object"
            case .unknownField(let f): return "unknown field `\(f)`; check the field names in docs/api.md"
            case .repeatedField(let f): return "field `\(f)` is given twice"
            case .wrongType(let f, let found): return "field `\(f)` must be a string, not \(found)"
            case .missingField(let f): return "field `\(f)` is missing"
            }
        }
    }

    /// Nesting deeper than this is refused: no body of the API nests at all.
    static let maximumDepth = 32

    /// The object's string members, exactly `fields` (all required).
    package static func readObject(_ bytes: [UInt8], fields: [String]) throws(ReadError) -> [String: String] {
        var reader = Reader(bytes: bytes)
        reader.skipSpace()
        guard reader.peek == UInt8(ascii: "{") else {
            if reader.atEnd { throw .malformed("empty body", offset: 0) }
            _ = try reader.value(depth: 0)
            reader.skipSpace()
            guard reader.atEnd else { throw .malformed("text after the value", offset: reader.index) }
            throw .notAnObject
        }
        let members = try reader.object(depth: 0)
        reader.skipSpace()
        guard reader.atEnd else { throw .malformed("text after the object", offset: reader.index) }
        var out: [String: String] = [:]
        for (name, value) in members {
            guard fields.contains(name) else { throw .unknownField(name) }
            guard out[name] == nil else { throw .repeatedField(name) }
            guard case .string(let s) = value else { throw .wrongType(field: name, found: value.typeName) }
            out[name] = s
        }
        for f in fields where out[f] == nil { throw .missingField(f) }
        return out
    }

    enum Value {
        case string(String)
        case other(String)

        var typeName: String {
            switch self {
            case .string: return "a string"
            case .other(let t): return t
            }
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
        }

        mutating func expect(_ c: Character) throws(ReadError) {
            skipSpace()
            guard peek == c.asciiValue else { throw .malformed("expected `\(c)`", offset: index) }
            index += 1
        }

        mutating func object(depth: Int) throws(ReadError) -> [(String, Value)] {
            guard depth < StrictJSON.maximumDepth else { throw .malformed("nesting too deep", offset: index) }
            try expect("{")
            var members: [(String, Value)] = []
            skipSpace()
            if peek == UInt8(ascii: "}") { index += 1; return members }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw .malformed("expected a member name", offset: index) }
                let name = try string()
                try expect(":")
                members.append((name, try value(depth: depth + 1)))
                skipSpace()
                guard let b = peek else { throw .malformed("unfinished object", offset: index) }
                index += 1
                if b == UInt8(ascii: "}") { return members }
                guard b == UInt8(ascii: ",") else { throw .malformed("expected `,` or `}`", offset: index - 1) }
            }
        }

        mutating func array(depth: Int) throws(ReadError) {
            guard depth < StrictJSON.maximumDepth else { throw .malformed("nesting too deep", offset: index) }
            try expect("[")
            skipSpace()
            if peek == UInt8(ascii: "]") { index += 1; return }
            while true {
                _ = try value(depth: depth + 1)
                skipSpace()
                guard let b = peek else { throw .malformed("unfinished array", offset: index) }
                index += 1
                if b == UInt8(ascii: "]") { return }
                guard b == UInt8(ascii: ",") else { throw .malformed("expected `,` or `]`", offset: index - 1) }
            }
        }

        mutating func value(depth: Int) throws(ReadError) -> Value {
            skipSpace()
            guard let b = peek else { throw .malformed("expected a value", offset: index) }
            switch b {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "{"): _ = try object(depth: depth); return .other("an object")
            case UInt8(ascii: "["): try array(depth: depth); return .other("an array")
            case UInt8(ascii: "t"): try literal("true"); return .other("a boolean")
            case UInt8(ascii: "f"): try literal("false"); return .other("a boolean")
            case UInt8(ascii: "n"): try literal("null"); return .other("null")
            default: try number(); return .other("a number")
            }
        }

        mutating func literal(_ word: String) throws(ReadError) {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { throw .malformed("unknown word", offset: index) }
            index += w.count
        }

        mutating func number() throws(ReadError) {
            let start = index
            func digits() -> Int {
                let s = index
                while let b = peek, b >= 0x30 && b <= 0x39 { index += 1 }
                return index - s
            }
            if peek == UInt8(ascii: "-") { index += 1 }
            let first = index
            guard digits() > 0 else { throw .malformed("expected a value", offset: start) }
            if bytes[first] == 0x30 && index - first > 1 { throw .malformed("a number with a leading zero", offset: start) }
            if peek == UInt8(ascii: ".") { index += 1; guard digits() > 0 else { throw .malformed("a number without digits after `.`", offset: index) } }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw .malformed("a number without an exponent", offset: index) }
            }
        }

        /// A string (at its opening quote), its escapes resolved; the bytes must be UTF-8.
        mutating func string() throws(ReadError) -> String {
            let start = index
            index += 1
            var out: [UInt8] = []
            while true {
                guard let b = peek else { throw .malformed("unfinished string", offset: start) }
                index += 1
                switch b {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw .malformed("a string that is not UTF-8", offset: start) }
                    return s
                case UInt8(ascii: "\\"):
                    guard let e = peek else { throw .malformed("unfinished escape", offset: index) }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if scalar >= 0xD800 && scalar < 0xDC00 {
                            guard peek == UInt8(ascii: "\\") else { throw .malformed("a lone surrogate", offset: index) }
                            index += 1
                            guard peek == UInt8(ascii: "u") else { throw .malformed("a lone surrogate", offset: index) }
                            index += 1
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw .malformed("a lone surrogate", offset: index) }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00 && scalar < 0xE000 {
                            throw .malformed("a lone surrogate", offset: index)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw .malformed("an invalid escape", offset: index) }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw .malformed("an invalid escape", offset: index - 1)
                    }
                default:
                    guard b >= 0x20 else { throw .malformed("a control character in a string", offset: index - 1) }
                    out.append(b)
                }
            }
        }

        mutating func hex4() throws(ReadError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw .malformed("unfinished \\u escape", offset: index) }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[index]
                index += 1
                switch b {
                case 0x30...0x39: v = v << 4 | UInt32(b - 0x30)
                case 0x41...0x46: v = v << 4 | UInt32(b - 0x41 + 10)
                case 0x61...0x66: v = v << 4 | UInt32(b - 0x61 + 10)
                default: throw .malformed("a bad \\u escape", offset: index - 1)
                }
            }
            return v
        }
    }
}
