import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests: one connection at a time, each request
/// answered by `handler` and then closed.
final class TestHTTPServer: @unchecked Sendable {
    struct Request {
        let method: String; let path: String; let headers: [String: String]
        /// The body, as `Content-Length` gives it (a webhook's event).
        var body: [UInt8] = []
    }
    struct Response {
        var status: Int
        var headers: [String: String] = [:]
        var body: [UInt8]
        /// Header lines sent after `headers`, for a name given more than once (`Link`).
        var repeatedHeaders: [(name: String, value: String)] = []
        /// A Content-Length other than the body's (a truncated transfer).
        var declaredLength: Int? = nil
        /// Send the body a few bytes at a time with this pause (a trickling server).
        var trickle: (bytes: Int, pause: TimeInterval)? = nil
    }

    let port: UInt16
    private let fd: Int32
    private let handler: @Sendable (Request) -> Response
    private let lock = NSLock()
    private var received: [Request] = []
    private let thread: Thread

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "http", code: 1) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw NSError(domain: "http", code: 2) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        self.fd = fd
        self.handler = handler
        let box = ServerLoop()
        thread = Thread { box.run() }
        box.server = self
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    var requests: [Request] { lock.withLock { received } }

    func shutdown() { Glibc.shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

    deinit { shutdown() }

    fileprivate func serveOne() -> Bool {
        let client = accept(fd, nil, nil)
        if client < 0 { return errno == EINTR }
        defer { close(client) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return true }
            data += buffer[0..<n]
            if let text = String(bytes: data, encoding: .utf8), text.contains("\r\n\r\n") { break }
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let first = lines[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where line.contains(":") {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        var request = Request(method: String(first[0]), path: String(first[1]), headers: headers)
        if let length = headers["content-length"].flatMap({ Int($0) }), length > 0,
           let end = text.range(of: "\r\n\r\n").map({ text.utf8.distance(from: text.startIndex, to: $0.upperBound) }) {
            while data.count < end + length {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                data += buffer[0..<n]
            }
            request.body = Array(data[end..<min(data.count, end + length)])
        }
        lock.withLock { received.append(request) }
        let response = handler(request)
        var head = "HTTP/1.1 \(response.status) X\r\nContent-Length: \(response.declaredLength ?? response.body.count)\r\nConnection: close\r\n"
        for (k, v) in response.headers { head += "\(k): \(v)\r\n" }
        for (k, v) in response.repeatedHeaders { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        func send(_ bytes: [UInt8]) -> Bool {
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        guard send(Array(head.utf8)) else { return true }
        if let trickle = response.trickle {
            var off = 0
            while off < response.body.count {
                guard send(Array(response.body[off..<min(off + trickle.bytes, response.body.count)])) else { return true }
                off += trickle.bytes
                Thread.sleep(forTimeInterval: trickle.pause)
            }
        } else {
            _ = send(response.body)
        }
        return true
    }
}

private final class ServerLoop: @unchecked Sendable {
    weak var server: TestHTTPServer?
    func run() {
        while let s = server, s.serveOne() {}
    }
}
