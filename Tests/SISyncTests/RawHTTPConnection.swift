import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A client socket the tests drive byte by byte: what a hostile client sends (two lengths, a
/// header a second), and what comes back, up to the server closing the connection.
final class RawHTTPConnection {
    let fd: Int32

    /// Connects to 127.0.0.1:port, or to a unix socket path.
    init(port: Int? = nil, unixPath: String? = nil) throws {
        if let unixPath {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in unixPath.utf8.enumerated() { raw[i] = b } }
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard rc == 0 else { close(fd); throw Self.failure("connect \(unixPath)") }
        } else {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port!).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else { close(fd); throw Self.failure("connect 127.0.0.1:\(port!)") }
        }
    }

    deinit { close(fd) }

    static func failure(_ what: String) -> NSError {
        NSError(domain: "RawHTTPConnection", code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(errno)))"])
    }

    /// Sends everything; false when the server has closed (EPIPE, ECONNRESET).
    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// What arrives within `timeout` seconds, and whether the server closed the connection.
    func receive(timeout: Double = 5, until stop: (String) -> Bool = { _ in false }) -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&p, 1, ms) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return (String(decoding: out, as: UTF8.self), true) }
            out += buffer[0..<n]
            if stop(String(decoding: out, as: UTF8.self)) { break }
        }
        return (String(decoding: out, as: UTF8.self), false)
    }

    /// Whether the server closed the connection within `timeout` (reading and dropping what comes).
    func closes(within timeout: Double) -> Bool { receive(timeout: timeout).closed }

    /// One request with `Connection: close`, and the whole answer.
    static func exchange(port: Int? = nil, unixPath: String? = nil, _ request: String, timeout: Double = 10) throws -> (status: Int, head: String, body: String, closed: Bool) {
        let c = try RawHTTPConnection(port: port, unixPath: unixPath)
        c.send(request)
        let r = c.receive(timeout: timeout)
        return parse(r.text, closed: r.closed)
    }

    static func parse(_ text: String, closed: Bool) -> (status: Int, head: String, body: String, closed: Bool) {
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, head, parts.dropFirst().joined(separator: "\r\n\r\n"), closed)
    }
}
