/// `[api] trusted_proxies`: the reverse proxies whose `X-Forwarded-For` is believed and whose
/// connections the per-address limit leaves alone (one proxy carries many clients). Anyone
/// else can write any address into that header, so from them it is ignored.
package struct TrustedProxies: Sendable, Equatable {
    package let blocks: [IPBlock]

    package init(_ blocks: [IPBlock] = []) { self.blocks = blocks }

    /// The configured entries; the first that is no address or block is returned as the error.
    package init(parsing entries: [String]) throws(TrustedProxyError) {
        var blocks: [IPBlock] = []
        for e in entries {
            guard let b = IPBlock(e) else { throw TrustedProxyError(entry: e) }
            blocks.append(b)
        }
        self.blocks = blocks
    }

    package func contains(_ address: IPAddress) -> Bool { blocks.contains { $0.contains(address) } }

    /// Who is asking: the peer itself unless it is a trusted proxy; then `X-Forwarded-For`
    /// (every such header, in order, as one list) read from the right, each proxy appending
    /// the address it got the request from, skipping trusted proxies: the first address that
    /// is not one of them. An entry that is no address (`unknown`, a name, garbage a client
    /// wrote) ends the walk at the last trusted hop, so the result is always an address the
    /// server or a trusted proxy saw, never text a client chose.
    package func client(peer: IPAddress, forwardedFor headers: [String]) -> IPAddress {
        guard contains(peer) else { return peer }
        let entries = headers.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
        var current = peer
        for raw in entries.reversed() {
            guard let hop = Self.address(of: raw) else { return current }
            current = hop
            if !contains(hop) { return hop }
        }
        return current
    }

    /// One entry of the list: an address, optionally with a port (`192.0.2.1:4711`,
    /// `[2001:db8::1]:4711`), white space around it ignored.
    static func address(of raw: Substring) -> IPAddress? {
        var text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber)) else { return nil }
            text = String(text[text.index(after: text.startIndex)..<close])
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            guard text[text.index(after: colon)...].allSatisfy(\.isNumber) else { return nil }
            text = String(text[..<colon])
        }
        return IPAddress(text)
    }
}

/// An entry of `[api] trusted_proxies` that is neither an address nor a CIDR block.
package struct TrustedProxyError: Error, Equatable, CustomStringConvertible {
    package let entry: String
    package var description: String { "`\(entry)` is not an IP address or CIDR block (such as 10.0.0.5, 10.0.0.0/8 or fd00::/8)" }
}
