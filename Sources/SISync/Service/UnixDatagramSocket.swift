import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a message to systemd (notify or journal socket) could not be sent.
public enum ServiceSocketError: Error, CustomStringConvertible, Equatable, Sendable {
    case badAddress(String)
    case cannotCreate(errno: Int32)
    case cannotSend(address: String, errno: Int32)

    public var description: String {
        switch self {
        case .badAddress(let a): return "`\(a)` is not a unix socket address (a path, or @name for an abstract socket, under 108 bytes)"
        case .cannotCreate(let e): return "cannot create a unix datagram socket: \(String(cString: strerror(e)))"
        case .cannotSend(let a, let e): return "cannot send to \(a): \(String(cString: strerror(e)))"
        }
    }
}

/// One unbound unix datagram socket that sends to a fixed address: `$NOTIFY_SOCKET` or the
/// journal's socket. A leading `@` names an abstract socket. Owns its descriptor.
final class UnixDatagramSocket: @unchecked Sendable {
    let address: String
    private let fd: Int32
    private var storage = sockaddr_un()
    private let length: socklen_t
    private let lock = NSLock()

    init(address: String) throws(ServiceSocketError) {
        self.address = address
        var bytes = Array(address.utf8)
        let pathCapacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !bytes.isEmpty, bytes.count < pathCapacity, address.hasPrefix("/") || address.hasPrefix("@") else {
            throw .badAddress(address)
        }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // Abstract names are exactly as long as given; paths end with their NUL.
        let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        length = socklen_t(offset + bytes.count + (bytes[0] == 0 ? 0 : 1))
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .cannotCreate(errno: errno) }
    }

    deinit { close(fd) }

    /// Sends one datagram (the whole message or nothing).
    func send(_ message: [UInt8]) throws(ServiceSocketError) {
        lock.lock()
        defer { lock.unlock() }
        let sent = message.withUnsafeBytes { body in
            withUnsafePointer(to: &storage) { addr in
                addr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), sa, length)
                }
            }
        }
        if sent < 0 { throw .cannotSend(address: address, errno: errno) }
    }
}
