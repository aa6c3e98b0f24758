/// What libmicrohttpd 0.9.75 lets through that a proxy in front may read otherwise, judged
/// on the request as the server read it (issue 30, "A hostile client"). Each is a way to
/// make two readers disagree about a request, so each is refused with 400 and the
/// connection closed:
/// - a header name that is no token (RFC 9110 5.1): libmicrohttpd keeps
///   `Transfer-Encoding : chunked` as a header named `Transfer-Encoding ` and frames the body
///   by its `Content-Length`, where a lenient proxy frames it as chunked; it also glues an
///   obs-fold continuation line onto the previous header's name;
/// - a control character in a header value (a bare CR, which some readers take for a line
///   end); a horizontal tab is allowed;
/// - a request target with anything but visible ASCII (a space, a control character, a raw
///   byte above 0x7F, which would otherwise reach the router as U+FFFD);
/// - an HTTP/1.1 request without exactly one `Host` (RFC 9112 3.2).
package enum RequestSyntax {
    package enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        case badHeaderName(String)
        case controlInHeaderValue(String)
        case badTarget
        case host(count: Int)

        package var description: String {
            switch self {
            case .badHeaderName(let n):
                return "header name `\(Self.shown(n))` is not a token (no spaces, colons or control characters; no folded lines); send one `Name: value` per line"
            case .controlInHeaderValue(let n): return "header `\(Self.shown(n))` holds a control character; header values are text on one line"
            case .badTarget: return "the request target holds a space, a control character or a byte that is not ASCII; percent-encode it"
            case .host(let count): return count == 0 ? "an HTTP/1.1 request needs a Host header" : "the request has \(count) Host headers; send one"
            }
        }

        /// At most 40 characters, control characters as `\xNN`.
        private static func shown(_ s: String) -> String {
            var out = ""
            for u in s.unicodeScalars.prefix(40) {
                if u.value < 0x20 || u.value == 0x7F { out += "\\x" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
            }
            return out
        }
    }

    /// `target` as the request line sent it (raw bytes), headers with lower-case names.
    package static func judge(target: [UInt8], version: String, headers: [(name: String, value: String)]) throws(Problem) {
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badTarget }
        for h in headers {
            guard !h.name.isEmpty, h.name.utf8.allSatisfy(isTokenByte) else { throw .badHeaderName(h.name) }
            guard !h.value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { throw .controlInHeaderValue(h.name) }
        }
        if version == "HTTP/1.1" {
            let hosts = headers.filter { $0.name == "host" }.count
            guard hosts == 1 else { throw .host(count: hosts) }
        }
    }

    /// RFC 9110 tchar: `!#$%&'*+-.^_`|~`, digits and letters.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }
}
