import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI
#if canImport(Glibc)
import Glibc
#endif

/// The `sisync-api` processes one test started, each on a socket of 127.0.0.1 the test
/// opened and passed (as systemd would: no race for a free port), and the requests it sends
/// them (APIHTTPTests, SCIMHTTPTests). `stopAll` in `tearDown`.
final class APIServerProcesses {
    private var sockets: [ListenSocket] = []
    private var processes: [SpawnedAPI] = []

    /// Returns once the process logged that it started.
    func start(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> (api: SpawnedAPI, port: Int) {
        let socket = try ListenSocket.openTCP(host: "127.0.0.1", port: 0)
        guard case .ip(_, let port) = socket.bound else { throw XCTSkip("no port") }
        sockets.append(socket)
        let api = try SpawnedAPI(arguments, passing: socket.fd)
        processes.append(api)
        XCTAssertTrue(api.waitFor("started"), api.seen, file: file, line: line)
        return (api, port)
    }

    func stopAll() {
        for p in processes where p.status == nil { kill(p.pid, SIGTERM); _ = p.waitForExit(timeout: 10) }
        processes = []
        sockets = []
    }

    /// One request with `Connection: close` and its answer.
    static func call(_ port: Int, _ method: String, _ target: String, token: String? = nil, json: String? = nil,
                     type: String = "application/json", host: String = "127.0.0.1") throws -> HTTPAnswer {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let json { head += "Content-Type: \(type)\r\nContent-Length: \(json.utf8.count)\r\n" }
        let r = try RawHTTPConnection.exchange(port: port, head + "\r\n" + (json ?? ""), timeout: 20)
        return HTTPAnswer(status: r.status, head: r.head, body: r.body)
    }
}

/// An answer as a test reads it.
struct HTTPAnswer {
    let status: Int
    let head: String
    let body: String

    func header(_ name: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]) ?? [:] }
    var result: String? { json["result"] as? String }
    var type: String? { (json["type"] as? String).map { String($0.dropFirst(Problem.typePrefix.count)) } }
}
