// What sisync-api's transport parses from a client or a configuration (issue 30): the query
// string, X-Forwarded-For behind trusted proxies, `[api] listen` addresses, the framing
// headers judged against request smuggling, and the path as the access log shows it.
// Line 1 is a request target, line 2 an X-Forwarded-For value, line 3 a listen address,
// the rest header lines (`name: value`).
//
// Findings: a crash; a query pair that does not read back the same once percent-encoded; a
// client address that is neither the peer nor an address of the header, or does not read
// back as itself; a listen address whose text does not parse to the same address; framing
// accepted with both Content-Length and Transfer-Encoding, two lengths, or a length other
// than the one header's digits; a header name that is no token, a target with a space or a
// byte that is not ASCII, or HTTP/1.1 without one Host accepted by `RequestSyntax`; a logged
// path with a control character or past its limit.
import Foundation
@testable import SISync
@testable import SISyncAPI
import FuzzSupport

func percentEncoded(_ s: String) -> String {
    s.utf8.map { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) ? String(UnicodeScalar(b)) : String(format: "%%%02X", b)
    }.joined()
}

let proxies = try! TrustedProxies(parsing: ["10.0.0.0/8", "192.0.2.7", "fd00::/8"])

fuzzMain { data in
    let text = String(decoding: data, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let target = lines[0]
    let forwarded = lines.count > 1 ? lines[1] : ""
    let listen = lines.count > 2 ? lines[2] : ""
    let headers = lines.dropFirst(3).compactMap { line -> (name: String, value: String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]))
    }

    let (path, query) = QueryString.split(target: target)
    let pairs = QueryString.parse(query)
    guard !path.contains("?") else { finding("split left a ? in the path \(path.debugDescription)") }
    let again = QueryString.parse(pairs.map { percentEncoded($0.name) + "=" + percentEncoded($0.value) }.joined(separator: "&"))
    guard again.count == pairs.count, zip(again, pairs).allSatisfy({ $0.name == $1.name && $0.value == $1.value }) else {
        finding("query \(query.debugDescription) reads \(pairs), encoded again \(again)")
    }

    for peer in [IPAddress("10.1.2.3")!, IPAddress("198.51.100.1")!] {
        let client = proxies.client(peer: peer, forwardedFor: [forwarded])
        let listed = forwarded.split(separator: ",", omittingEmptySubsequences: false).compactMap { TrustedProxies.address(of: $0) }
        guard client == peer || listed.contains(client) else { finding("client \(client) from \(forwarded.debugDescription) is neither the peer nor listed") }
        guard IPAddress(client.description) == client else { finding("\(client) does not read back as itself") }
        if !proxies.contains(peer) && client != peer { finding("an untrusted peer's header was believed: \(forwarded.debugDescription)") }
    }

    if let address = APIListenAddress(parsing: listen) {
        guard APIListenAddress(parsing: address.description) == address else { finding("\(listen.debugDescription) -> \(address) does not parse back") }
    }

    let lengths = headers.filter { $0.name == "content-length" }
    let codings = headers.filter { $0.name == "transfer-encoding" }
    do throws(RequestFraming.Problem) {
        let framing = try RequestFraming.judge(headers)
        if !lengths.isEmpty && !codings.isEmpty { finding("both Content-Length and Transfer-Encoding accepted") }
        if lengths.count > 1 { finding("two Content-Lengths accepted") }
        if case .length(let n) = framing {
            let digits = lengths[0].value.trimmingCharacters(in: .whitespaces)
            guard String(n) == digits || Int(digits) == n, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { finding("length \(n) from \(lengths[0].value.debugDescription)") }
        }
    } catch {
        _ = error.description
    }

    do throws(RequestSyntax.Problem) {
        try RequestSyntax.judge(target: Array(target.utf8), version: "HTTP/1.1", headers: headers)
        if headers.contains(where: { $0.name.isEmpty || $0.name.contains(" ") || $0.name.contains(":") }) { finding("a header name that is no token accepted: \(headers)") }
        if target.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) { finding("a target with a space, a control character or a non-ASCII byte accepted") }
        if headers.filter({ $0.name == "host" }).count != 1 { finding("HTTP/1.1 without exactly one Host accepted") }
    } catch {
        _ = error.description
    }

    let logged = LoggedPath.text(target)
    guard !logged.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { finding("control character in the logged path \(logged.debugDescription)") }
    guard logged.utf8.count <= LoggedPath.limit + 3 else { finding("logged path of \(logged.utf8.count) bytes") }
    guard !logged.contains("?") else { finding("the query reached the logged path \(logged.debugDescription)") }
}
