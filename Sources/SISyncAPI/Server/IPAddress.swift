import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address as bytes, read with `inet_pton`: how the per-address limits, the
/// trusted proxies and the access log compare and show clients. An IPv4-mapped IPv6 address
/// (`::ffff:192.0.2.1`, what a dual-stack socket reports) is its IPv4 address, so that one
/// client is one address whichever socket it came through.
package struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 or 16 bytes.
    package let bytes: [UInt8]

    package init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 64, !text.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(v4: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        self.init(v6: withUnsafeBytes(of: &v6) { Array($0) })
    }

    /// 16 bytes of an IPv6 address (IPv4-mapped ones become IPv4).
    package init(v6 bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self.bytes = Array(bytes[12..<16])
        } else {
            self.bytes = bytes
        }
    }

    package init(v4 bytes: [UInt8]) { self.bytes = bytes }

    /// The address of a socket address (AF_INET or AF_INET6), nil for any other family.
    package init?(socketAddress: UnsafePointer<sockaddr>) {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            var a = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            self.init(v4: withUnsafeBytes(of: &a) { Array($0) })
        case AF_INET6:
            var a = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            self.init(v6: withUnsafeBytes(of: &a) { Array($0) })
        default:
            return nil
        }
    }

    package var isLoopback: Bool {
        bytes.count == 4 ? bytes[0] == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// `inet_ntop`'s canonical text (`2001:db8::1`, `192.0.2.1`).
    package var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }
}

/// An address or a CIDR block of `[api] trusted_proxies` (`10.0.0.5`, `10.0.0.0/8`, `fd00::/8`).
package struct IPBlock: Sendable, Equatable, CustomStringConvertible {
    package let address: IPAddress
    package let prefix: Int

    package init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...bits).contains(p), parts[1].allSatisfy(\.isASCII) else { return nil }
            // A mapped IPv4 block written in IPv6 (::ffff:10.0.0.0/104) counts in IPv4 bits.
            prefix = address.bytes.count == 4 && String(parts[0]).contains(":") ? p - 96 : p
            guard prefix >= 0 else { return nil }
        }
        self.address = address
        self.prefix = prefix
    }

    package func contains(_ other: IPAddress) -> Bool {
        guard other.bytes.count == address.bytes.count else { return false }
        var remaining = prefix
        for (a, b) in zip(address.bytes, other.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if a & mask != b & mask { return false }
            remaining -= 8
        }
        return true
    }

    package var description: String { prefix == address.bytes.count * 8 ? "\(address)" : "\(address)/\(prefix)" }
}
