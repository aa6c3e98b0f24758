/// How long a request's body is, as its headers say, judged before any of it is read. Two
/// readers (a proxy in front, this server) that disagree on where a body ends let a client
/// hide a second request inside the first (request smuggling). So anything ambiguous is
/// refused with 400 and the connection closed: `Content-Length` together with
/// `Transfer-Encoding`, two `Content-Length`s (or one listing several values), a length that
/// is no plain number, or a transfer coding other than `chunked`.
package enum RequestFraming: Equatable, Sendable {
    case noBody
    case length(Int)
    case chunked

    package enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        case lengthAndTransferEncoding
        case repeatedLength
        case badLength(String)
        case unsupportedTransferEncoding(String)

        package var description: String {
            switch self {
            case .lengthAndTransferEncoding: return "the request has both Content-Length and Transfer-Encoding; send one"
            case .repeatedLength: return "the request has more than one Content-Length; send one"
            case .badLength(let v): return "Content-Length `\(v.prefix(40))` is not a number of bytes"
            case .unsupportedTransferEncoding(let v): return "Transfer-Encoding `\(v.prefix(40))` is not supported; send chunked or a Content-Length"
            }
        }
    }

    /// Headers with lower-case names, as the server reads them.
    package static func judge(_ headers: [(name: String, value: String)]) throws(Problem) -> RequestFraming {
        let lengths = headers.filter { $0.name == "content-length" }.map(\.value)
        let codings = headers.filter { $0.name == "transfer-encoding" }.map(\.value)
        if !lengths.isEmpty && !codings.isEmpty { throw .lengthAndTransferEncoding }
        if !codings.isEmpty {
            let all = codings.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard all == ["chunked"] else { throw .unsupportedTransferEncoding(codings.joined(separator: ", ")) }
            return .chunked
        }
        guard let first = lengths.first else { return .noBody }
        guard lengths.count == 1, !first.contains(",") else { throw .repeatedLength }
        let v = first.trimmingCharacters(in: .whitespaces)
        // At most 18 digits: any larger value is refused as too large long before it overflows.
        guard !v.isEmpty, v.utf8.count <= 18, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(v) else { throw .badLength(first) }
        return .length(n)
    }
}
