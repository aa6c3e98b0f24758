import SISync

/// The query string of a request URL (`a=1&b=x%20y`), decoded as HTML forms and every HTTP
/// client encode it: `%XX` bytes and `+` for a space. libmicrohttpd would decode it too, but
/// without `+` and after it has already decoded the path, which must reach the router with
/// its percent-encoding intact (an encoded `/` must not split a segment); so the server reads
/// the raw target itself.
package enum QueryString {
    /// The pairs in order; a name without `=` has an empty value, empty pieces (`a=1&&b=2`)
    /// are skipped. A `%` not followed by two hex digits stays as it is; bytes that are not
    /// UTF-8 become U+FFFD, so a value is always text.
    package static func parse<S: StringProtocol>(_ query: S) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for piece in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let eq = piece.firstIndex(of: UInt8(ascii: "=")) {
                pairs.append((decode(piece[..<eq]), decode(piece[piece.index(after: eq)...])))
            } else {
                pairs.append((decode(piece), ""))
            }
        }
        return pairs
    }

    /// Splits a request target (`/v1/users/x?y=1#f`) into its path, as sent, and its query.
    package static func split(target: String) -> (path: String, query: Substring) {
        var target = Substring(target)
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        guard let mark = target.firstIndex(of: "?") else { return (String(target), "") }
        return (String(target[..<mark]), target[target.index(after: mark)...])
    }

    /// One name or value: `+` is a space, `%XX` the byte XX.
    package static func decode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), let h1 = bytes.index(i, offsetBy: 1, limitedBy: bytes.endIndex), h1 != bytes.endIndex,
                      let h2 = bytes.index(h1, offsetBy: 1, limitedBy: bytes.endIndex), h2 != bytes.endIndex,
                      let high = HexDigit.value(bytes[h1]), let low = HexDigit.value(bytes[h2]) {
                out.append(high << 4 | low)
                i = h2
            } else {
                out.append(b)
            }
            i = bytes.index(after: i)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
