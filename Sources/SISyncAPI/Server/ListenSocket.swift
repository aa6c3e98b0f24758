import Foundation
import SISync
#if canImport(Glibc)
import Glibc
#endif

/// One listening stream socket: opened for an `APIListenAddress`, or handed over by systemd
/// (`LISTEN_FDS`, as `systemd-journal-remote` takes its sockets). It owns the descriptor
/// until `HTTPServer` hands it to libmicrohttpd, and tells what it is bound to from the
/// kernel (`getsockname`), so that the rule "no plain HTTP off loopback" holds for a socket
/// systemd made too.
package final class ListenSocket: @unchecked Sendable {
    package private(set) var fd: Int32
    /// What the kernel says the socket is bound to.
    package let bound: BoundAddress
    /// The unix socket's path this process created (removed again at stop).
    let createdPath: String?

    package enum BoundAddress: Sendable, Equatable, CustomStringConvertible {
        case ip(IPAddress, port: Int)
        case unix(path: String)

        /// Loopback and unix sockets may carry plain HTTP behind a reverse proxy on the same
        /// host; anything else (0.0.0.0 and :: included) reaches the network.
        package var isLocal: Bool {
            switch self {
            case .unix: return true
            case .ip(let a, _): return a.isLoopback
            }
        }

        package var isUnix: Bool { if case .unix = self { return true } else { return false } }

        package var description: String {
            switch self {
            case .unix(let path): return "unix:" + path
            case .ip(let a, let port): return a.bytes.count == 16 ? "[\(a)]:\(port)" : "\(a):\(port)"
            }
        }
    }

    private init(fd: Int32, bound: BoundAddress, createdPath: String?) {
        self.fd = fd
        self.bound = bound
        self.createdPath = createdPath
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Gives the descriptor away (to libmicrohttpd); this object no longer closes it.
    func release() -> Int32 {
        let f = fd
        fd = -1
        return f
    }

    /// Binds and listens on `address`. Port 0 (tests) takes a free port; `bound` says which.
    package static func open(_ address: APIListenAddress) throws(HTTPServerError) -> ListenSocket {
        switch address {
        case .unix(let path): return try openUnix(path: path)
        case .tcp(let host, let port): return try openTCP(host: host, port: port, shown: address.description)
        }
    }

    /// A TCP socket on a host and port (`APIListenAddress` refuses port 0; tests use it here).
    package static func openTCP(host: String, port: Int, shown: String? = nil) throws(HTTPServerError) -> ListenSocket {
        let shown = shown ?? "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw .resolve(address: shown, reason: String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        let family = first.pointee.ai_family
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(address: shown, call: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let e = errno; close(fd); throw .socket(address: shown, call: "bind", errno: e)
        }
        guard listen(fd, SOMAXCONN) == 0 else { let e = errno; close(fd); throw .socket(address: shown, call: "listen", errno: e) }
        do { return ListenSocket(fd: fd, bound: try boundAddress(of: fd), createdPath: nil) } catch { close(fd); throw .socket(address: shown, call: "getsockname", errno: errno) }
    }

    private static func openUnix(path: String) throws(HTTPServerError) -> ListenSocket {
        let shown = "unix:" + path
        var st = stat()
        if lstat(path, &st) == 0 {
            // A socket nobody answers on is left over from a process that ended; anything
            // else there is not ours to remove.
            guard st.st_mode & S_IFMT == S_IFSOCK, !answers(unixPath: path) else { throw .unixPathInUse(path: path) }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(address: shown, call: "socket", errno: errno) }
        var addr = unixAddress(path)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard ok == 0 else { let e = errno; close(fd); throw .socket(address: shown, call: "bind", errno: e) }
        // Who may connect is decided by the directory's permissions (and the bearer token).
        chmod(path, 0o666)
        guard listen(fd, SOMAXCONN) == 0 else { let e = errno; close(fd); unlink(path); throw .socket(address: shown, call: "listen", errno: e) }
        return ListenSocket(fd: fd, bound: .unix(path: path), createdPath: path)
    }

    private static func unixAddress(_ path: String) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        return addr
    }

    private static func answers(unixPath path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = unixAddress(path)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } } == 0
    }

    /// The sockets systemd passed (`LISTEN_PID` is this process, `LISTEN_FDS` of them from
    /// fd 3), or none when it passed none. The variables are removed, as `sd_listen_fds(1)`
    /// does, so that a child does not take them for its own.
    package static func fromSystemd(environment: [String: String] = ProcessInfo.processInfo.environment,
                                    pid: Int32 = getpid()) throws(HTTPServerError) -> [ListenSocket] {
        guard let pidText = environment["LISTEN_PID"], let count = environment["LISTEN_FDS"] else { return [] }
        unsetenv("LISTEN_PID"); unsetenv("LISTEN_FDS"); unsetenv("LISTEN_FDNAMES")
        guard Int32(pidText) == pid else { return [] }
        guard let n = Int32(count), n >= 0, n <= 64 else { throw .systemdSockets(reason: "LISTEN_FDS=\(count) is not a count of sockets") }
        var sockets: [ListenSocket] = []
        for fd in 3..<(3 + n) {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            sockets.append(try inherited(fd: fd))
        }
        return sockets
    }

    /// A descriptor this process was given: a listening stream socket, or an error saying why not.
    package static func inherited(fd: Int32) throws(HTTPServerError) -> ListenSocket {
        var type: Int32 = 0, accepting: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 else {
            throw .notAListeningSocket(fd: fd, reason: "not a socket (\(String(cString: strerror(errno))))")
        }
        guard type == Int32(SOCK_STREAM.rawValue) else { throw .notAListeningSocket(fd: fd, reason: "not a stream socket (ListenStream=)") }
        len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0, accepting != 0 else {
            throw .notAListeningSocket(fd: fd, reason: "it does not listen (Accept=yes is not supported)")
        }
        do { return ListenSocket(fd: fd, bound: try boundAddress(of: fd), createdPath: nil) } catch {
            throw .notAListeningSocket(fd: fd, reason: "neither IPv4, IPv6 nor a unix socket")
        }
    }

    private struct UnknownFamily: Error {}

    private static func boundAddress(of fd: Int32) throws(UnknownFamily) -> BoundAddress {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard ok == 0 else { throw UnknownFamily() }
        return try withUnsafePointer(to: &storage) { (p) throws(UnknownFamily) -> BoundAddress in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(UnknownFamily) -> BoundAddress in
                switch Int32(sa.pointee.sa_family) {
                case AF_UNIX:
                    let path = sa.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { un in
                        withUnsafeBytes(of: un.pointee.sun_path) { raw -> String in
                            let bytes = Array(raw.prefix(max(0, Int(len) - 2)))
                            // An abstract socket's name starts with NUL; systemd shows it as @name.
                            if bytes.first == 0 { return "@" + String(decoding: bytes.dropFirst().prefix { $0 != 0 }, as: UTF8.self) }
                            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                        }
                    }
                    return .unix(path: path)
                case AF_INET:
                    let port = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
                    return .ip(IPAddress(socketAddress: sa)!, port: port)
                case AF_INET6:
                    let port = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                    return .ip(IPAddress(socketAddress: sa)!, port: port)
                default:
                    throw UnknownFamily()
                }
            }
        }
    }
}
