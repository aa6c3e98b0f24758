import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Serves a directory over HTTP/1.1 on 127.0.0.1 for the benchmark's HTTP mode: one
/// connection at a time, files streamed in 1 MiB chunks with their Content-Length.
final class LoopbackServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let root: String

    init(root: String) throws {
        self.root = root
        (fd, port) = try listenOnLoopback()
        let thread = Thread { [self] in while serveOne() {} }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)/" }

    private func serveOne() -> Bool {
        let client = accept(fd, nil, nil)
        guard client >= 0 else { return errno == EINTR }
        defer { close(client) }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return true }
            request += buffer[0..<n]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let name = line.count > 1 ? String(line[1].split(separator: "/").last ?? "") : ""
        func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
            var off = 0
            while off < bytes.count {
                let n = Glibc.send(client, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                off += n
            }
            return true
        }
        let path = root + "/" + name
        guard !name.contains(".."), let file = FileHandle(forReadingAtPath: path),
              let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int else {
            _ = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8).withUnsafeBytes(send)
            return true
        }
        defer { try? file.close() }
        guard Array("HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n".utf8).withUnsafeBytes(send) else { return true }
        while let chunk = try? file.read(upToCount: 1 << 20), !chunk.isEmpty {
            guard chunk.withUnsafeBytes(send) else { break }
        }
        return true
    }
}
