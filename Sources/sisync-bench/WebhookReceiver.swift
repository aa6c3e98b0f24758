import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A webhook receiver on 127.0.0.1 for `sisync-bench webhooks`: HTTP/1.1 with kept-alive
/// connections, each request read to its `Content-Length` and answered 204. It counts the
/// requests and the connections they came on.
final class WebhookReceiver: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var requests = 0
    private var connections = 0

    init() throws {
        (fd, port) = try listenOnLoopback()
        Thread { [self] in
            while true {
                let client = accept(self.fd, nil, nil)
                guard client >= 0 else { if errno == EINTR { continue }; return }
                lock.withLock { connections += 1 }
                Thread { [self] in serve(client) }.start()
            }
        }.start()
    }

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var counts: (requests: Int, connections: Int) { lock.withLock { (requests, connections) } }

    /// Requests on one connection until the client closes it.
    private func serve(_ client: Int32) {
        defer { close(client) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let answer = Array("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".utf8)
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            // One request: headers, then Content-Length bytes of body.
            var headerEnd: Int?
            while headerEnd == nil {
                if let i = Self.find(end, in: data) { headerEnd = i + 4; break }
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { return }
                data += buffer[0..<n]
            }
            let head = String(decoding: data[0..<headerEnd!], as: UTF8.self).lowercased()
            var length = 0
            if let r = head.range(of: "content-length:") {
                length = Int(head[r.upperBound...].prefix { $0 != "\r" }.trimmingCharacters(in: .whitespaces)) ?? 0
            }
            while data.count < headerEnd! + length {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { return }
                data += buffer[0..<n]
            }
            data.removeFirst(headerEnd! + length)
            lock.withLock { requests += 1 }
            guard answer.withUnsafeBytes({ send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == answer.count else { return }
        }
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
        return nil
    }
}
