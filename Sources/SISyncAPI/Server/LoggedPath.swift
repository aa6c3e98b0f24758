/// A request's path as the access log shows it: without its query string (which may hold a
/// name or a code), control characters and backslashes escaped (`\x0a`, `\\`) so that a
/// client cannot forge a second line or a terminal escape, and at most 512 bytes of it.
package enum LoggedPath {
    package static let limit = 512

    package static func text(_ target: String) -> String {
        let path = QueryString.split(target: target).path
        var out = ""
        var used = 0
        for scalar in path.unicodeScalars {
            let piece: String
            switch scalar.value {
            case 0x5C: piece = "\\\\"
            case 0..<0x20, 0x7F, 0x80..<0xA0, 0x2028, 0x2029:
                piece = scalar.value < 0x100 ? "\\x" + hex2(scalar.value) : "\\u" + String(scalar.value, radix: 16)
            default: piece = String(scalar)
            }
            used += piece.utf8.count
            if used > limit { return out + "…" }
            out += piece
        }
        return out
    }

    private static func hex2(_ v: UInt32) -> String { (v < 16 ? "0" : "") + String(v, radix: 16) }
}
