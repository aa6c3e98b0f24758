/// One JSON object written straight into bytes, members in the order they are added, with
/// no spaces: an event's `subject` and `data` (docs/events.md). A district's first run
/// writes over a million of them, so values are copied from the export's UTF-8 bytes
/// without making a `String`, and the buffer is reused from one object to the next.
public struct CompactJSON {
    public private(set) var bytes: [UInt8] = []
    /// Per open object: whether it has a member yet (a comma goes before the next one).
    private var hasMember: [Bool] = []

    public init() { start() }

    /// Empties the buffer (keeping its capacity) and opens a new object.
    public mutating func start() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(UInt8(ascii: "{"))
        // Kept, not made anew: an event's two objects start over for each of a run's events.
        hasMember.removeAll(keepingCapacity: true)
        hasMember.append(false)
    }

    /// Closes every open object and returns the text.
    public mutating func finish() -> [UInt8] {
        while !hasMember.isEmpty { close() }
        return bytes
    }

    /// Closes every open object and hands `body` the bytes without copying them.
    public mutating func withFinished<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        while !hasMember.isEmpty { close() }
        return try bytes.withUnsafeBufferPointer(body)
    }

    public var text: String {
        var copy = self
        return String(decoding: copy.finish(), as: UTF8.self)
    }

    private mutating func key(_ name: String) {
        let open = hasMember.count - 1
        if hasMember[open] { bytes.append(UInt8(ascii: ",")) } else { hasMember[open] = true }
        quote(name)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { quote(value) } else { bytes.append(contentsOf: Self.null) }
    }

    public mutating func string(_ name: String, utf8 value: UnsafeBufferPointer<UInt8>) {
        key(name)
        quote(utf8: value)
    }

    public mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Self.true : Self.false)
    }

    public mutating func int(_ name: String, _ value: Int64?) {
        key(name)
        if let value { bytes.append(contentsOf: String(value).utf8) } else { bytes.append(contentsOf: Self.null) }
    }

    public mutating func strings(_ name: String, _ values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            quote(v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Opens a member object; members added until `close` go into it.
    public mutating func open(_ name: String) {
        key(name)
        bytes.append(UInt8(ascii: "{"))
        hasMember.append(false)
    }

    public mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        hasMember.removeLast()
    }

    private mutating func quote(_ s: String) {
        // A native string's bytes in place (the member names, most values); others made so.
        if s.utf8.withContiguousStorageIfAvailable({ Self.quote($0, into: &bytes) }) != nil { return }
        var s = s
        s.withUTF8 { quote(utf8: $0) }
    }

    private mutating func quote(utf8 value: UnsafeBufferPointer<UInt8>) { Self.quote(value, into: &bytes) }

    /// RFC 8259 string: `"` and `\` escaped, control characters as `\uXXXX` (the short
    /// forms for newline, return and tab); everything else, UTF-8 included, as it is.
    /// Appended to `bytes`: a value of its own, outside any object (a block's lines).
    static func quote(_ value: UnsafeBufferPointer<UInt8>, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var plain = true
        if let base = value.baseAddress {
            for i in 0..<value.count {
                let b = base[i]
                if b < 0x20 || b == 0x22 || b == 0x5C { plain = false; break }
            }
        }
        if plain {
            bytes.append(contentsOf: value)
        } else {
            for b in value {
                switch b {
                case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
                case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case ..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
                default: bytes.append(b)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A JSON array of strings: `["a","b"]`. (A query's list of keys, bound as one
    /// value: Foundation's `JSONEncoder` took a tenth of an unchanged run's linking for it.)
    static func stringArray(_ values: some Sequence<String>) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for v in values {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            var v = v
            v.withUTF8 { quote($0, into: &bytes) }
        }
        bytes.append(UInt8(ascii: "]"))
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let null = Array("null".utf8), `true` = Array("true".utf8), `false` = Array("false".utf8)
}
