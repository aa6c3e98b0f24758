/// One hex digit's value, in either case: a JSON `\u` escape, a percent-encoded byte, an id
/// in a route. Read byte by byte because `UInt32(_:radix:)` also takes a sign (`+041`).
package enum HexDigit {
    package static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
