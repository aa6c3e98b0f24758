import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One accepted connection, from libmicrohttpd's "started" notice to its "closed" one: where
/// it comes from and where its current request stands, for the per-address limit and the
/// deadlines. `phase` and `since` change only under the `ConnectionTable`'s lock.
final class HTTPConnection: @unchecked Sendable {
    enum Phase: Equatable {
        /// Waiting for a request's headers: the first on a new connection, or the next one
        /// after an answer (kept alive).
        case waiting(first: Bool)
        /// Headers read, the body arriving.
        case body
        /// The whole request read; the handler works or the answer is being sent.
        case answering
        /// Shut by the sweeper; libmicrohttpd will close it.
        case cut
    }

    let fd: Int32
    /// nil on the unix socket.
    let peer: IPAddress?
    let peerPort: Int
    /// A trusted proxy or the unix socket: not counted per address.
    let exempt: Bool
    let tls: Bool
    var phase: Phase = .waiting(first: true)
    /// Monotonic nanoseconds: when the current phase's clock started (the connection's
    /// accept, or the end of the last answer).
    var since: UInt64
    /// The target of the request being read, once its request line arrived (for the log).
    var target: String?

    init(fd: Int32, peer: IPAddress?, peerPort: Int, exempt: Bool, tls: Bool, now: UInt64) {
        self.fd = fd
        self.peer = peer
        self.peerPort = peerPort
        self.exempt = exempt
        self.tls = tls
        since = now
    }

    /// Whether the descriptor still belongs to this connection (libmicrohttpd closes it
    /// right after its "closed" notice, and a new connection may get the number).
    func descriptorIsStillOurs() -> Bool {
        guard let peer else { return true }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) } }
        guard ok == 0 else { return false }
        return withUnsafePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                IPAddress(socketAddress: sa) == peer && Self.port(sa) == peerPort
            }
        }
    }

    static func port(_ sa: UnsafePointer<sockaddr>) -> Int {
        switch Int32(sa.pointee.sa_family) {
        case AF_INET: return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        case AF_INET6: return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
        default: return 0
        }
    }
}

/// Every open connection of the server (all its listeners): counts per address for the
/// limits, and the sweep that cuts connections past their deadlines.
final class ConnectionTable: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [ObjectIdentifier: HTTPConnection] = [:]
    private var perAddress: [IPAddress: Int] = [:]
    private(set) var refused = 0

    /// Whether one more connection from `peer` fits (checked before libmicrohttpd accepts it;
    /// counted once it started, so a few threads accepting at once may pass a limit by one each).
    func admits(_ peer: IPAddress?, exempt: Bool, limits: HTTPServerLimits) -> Bool {
        lock.withLock {
            let ok = open.count < limits.maxConnections
                && (exempt || peer.map { perAddress[$0, default: 0] < limits.maxConnectionsPerClient } ?? true)
            if !ok { refused += 1 }
            return ok
        }
    }

    func add(_ c: HTTPConnection) {
        lock.withLock {
            open[ObjectIdentifier(c)] = c
            if !c.exempt, let p = c.peer { perAddress[p, default: 0] += 1 }
        }
    }

    func remove(_ c: HTTPConnection) {
        lock.withLock {
            guard open.removeValue(forKey: ObjectIdentifier(c)) != nil else { return }
            if !c.exempt, let p = c.peer {
                let n = perAddress[p, default: 1] - 1
                perAddress[p] = n > 0 ? n : nil
            }
        }
    }

    func update(_ c: HTTPConnection, _ body: (HTTPConnection) -> Void) { lock.withLock { body(c) } }

    var count: Int { lock.withLock { open.count } }

    /// Requests being read or answered (not idle connections kept alive).
    var inFlight: Int { lock.withLock { open.values.filter { $0.phase == .body || $0.phase == .answering }.count } }

    /// Cuts the connections past their deadline: a 408 to those with a request under way
    /// (plain HTTP only; on TLS the bytes would be garbage), then `shutdown`, which makes
    /// libmicrohttpd see the end of the stream and close it. Done under the lock, which the
    /// "closed" notice also takes before libmicrohttpd closes the descriptor, so that a
    /// number reused by a new connection is never shut. Returns the cut requests' targets.
    func sweep(now: UInt64, limits: HTTPServerLimits) -> [(connection: HTTPConnection, target: String?)] {
        let headerNS = UInt64(limits.headerTimeout * 1e9), requestNS = UInt64(limits.requestTimeout * 1e9)
        return lock.withLock {
            var cut: [(HTTPConnection, String?)] = []
            for c in open.values {
                let age = now > c.since ? now - c.since : 0
                let overdue: Bool, answer: Bool
                switch c.phase {
                case .waiting(let first): overdue = age > headerNS; answer = first || c.target != nil
                case .body: overdue = age > requestNS; answer = true
                case .answering, .cut: overdue = false; answer = false
                }
                guard overdue, c.descriptorIsStillOurs() else { continue }
                if answer && !c.tls {
                    _ = TransportProblem.timeoutBytes.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
                }
                shutdown(c.fd, Int32(SHUT_RDWR))
                c.phase = .cut
                if answer { cut.append((c, c.target)) }
            }
            return cut
        }
    }
}
