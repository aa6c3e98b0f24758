import CMicroHTTPD
import Foundation
import SISync
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP server: libmicrohttpd on each listening socket, its worker threads calling the
/// handler with a bounded `HTTPRequest` and writing its `HTTPResponse`. It owns the daemon
/// handles; every pointer of the C library stays in this file. It enforces what a hostile
/// client must not get past (issue 30): the body, target and header limits, request
/// smuggling's ambiguous framings, the connection limits (in all and per address, a
/// trusted proxy and the unix socket excepted), and the header and request deadlines,
/// which libmicrohttpd's inactivity timeout alone does not give.
package final class HTTPServer: @unchecked Sendable {
    /// One answered request, for the access log and the metrics (no body, no query string).
    package struct Exchange: Sendable {
        package var client: HTTPClient
        package var method: String
        /// The target as sent; `LoggedPath` strips its query for the log.
        package var target: String
        package var status: Int
        package var route: String?
        package var clientName: String?
        /// Seconds from the request line to the answer.
        package var duration: Double
    }

    private let handler: any HTTPHandler
    private let limits: HTTPServerLimits
    private let proxies: TrustedProxies
    private let observe: @Sendable (Exchange) -> Void
    private let tls: TLSCredentials?
    private let table = ConnectionTable()
    private var listeners: [Listener] = []
    private let sweeperStop = DispatchSemaphore(value: 0)
    private let sweeperDone = DispatchSemaphore(value: 0)
    private var sweeping = false
    /// How many requests that may wait run off libmicrohttpd's threads now (`answerOffThread`).
    private let waitingLock = NSLock()
    private var waitingCount = 0
    /// Requests whose handler answers later (long polls), their connections suspended:
    /// from `park` until libmicrohttpd takes the connection back (`unpark`).
    private let parkedLock = NSLock()
    private var parked: [ObjectIdentifier: RequestState] = [:]

    /// libmicrohttpd's context for one socket: which server, and whether it is the unix socket.
    final class Listener {
        unowned let server: HTTPServer
        let socket: ListenSocket
        var daemon: OpaquePointer?
        init(server: HTTPServer, socket: ListenSocket) { self.server = server; self.socket = socket }
    }

    /// One request while it is read: created when its request line arrives, released when
    /// libmicrohttpd reports it completed (or the connection gone).
    final class RequestState: @unchecked Sendable {
        /// The target's bytes as the request line sent them, and as text for the router and
        /// the log (bytes that are not UTF-8 refused by `RequestSyntax` before any use).
        let rawTarget: [UInt8]
        let target: String
        let started: UInt64
        var method = ""
        var version = ""
        var headers: [(name: String, value: String)] = []
        var headerBytes = 0
        var body: [UInt8] = []
        var headersRead = false
        var answered = false
        /// A chunked body passed the limit: the rest is read and dropped (libmicrohttpd
        /// takes an answer only before the body or after all of it), then 413.
        var tooLarge = false
        var connection: HTTPConnection?
        /// Set off libmicrohttpd's threads while the connection is suspended, read after it
        /// is resumed (libmicrohttpd's resume is the handover; the lock makes it explicit).
        private let lock = NSLock()
        private var _finished: HTTPResponse?
        var finished: HTTPResponse? {
            get { lock.withLock { _finished } }
            set { lock.withLock { _finished = newValue } }
        }
        var suspended = false
        /// The handler's promise while the connection is parked.
        var pending: HTTPPendingAnswer?
        /// The client closed the connection while it was parked: nothing is sent.
        private var _gone = false
        var gone: Bool {
            get { lock.withLock { _gone } }
            set { lock.withLock { _gone = newValue } }
        }
        init(target: [UInt8], started: UInt64) {
            rawTarget = target
            self.target = String(decoding: target, as: UTF8.self)
            self.started = started
        }
    }

    package init(sockets: [ListenSocket], tls: TLSCredentials? = nil, limits: HTTPServerLimits = HTTPServerLimits(),
                 trustedProxies: TrustedProxies = TrustedProxies(), handler: any HTTPHandler,
                 observe: @escaping @Sendable (Exchange) -> Void = { _ in }) {
        self.handler = handler
        self.limits = limits
        self.proxies = trustedProxies
        self.observe = observe
        self.tls = tls
        listeners = sockets.map { Listener(server: self, socket: $0) }
    }

    deinit { stop() }

    /// Connections refused at accept by the connection limits, since the start.
    package var refusedConnections: Int { table.refused }
    package var openConnections: Int { table.count }
    /// Requests parked now (long polls whose connection is suspended).
    package var parkedRequests: Int { parkedLock.withLock { parked.count } }

    /// Starts a daemon on every socket (none started when one fails) and the sweeper.
    package func start() throws(HTTPServerError) {
        for l in listeners {
            let usesTLS = tls != nil && !l.socket.bound.isUnix
            var settings = sisync_mhd_settings()
            settings.flags = SISYNC_MHD_FLAGS
            settings.listen_fd = l.socket.fd
            settings.threads = UInt32(max(1, limits.threads))
            settings.connection_limit = UInt32(max(1, limits.maxConnections))
            settings.connection_timeout = UInt32(max(1, limits.requestTimeout.rounded(.up)))
            settings.memory_limit = 32 * 1024
            settings.context = Unmanaged.passUnretained(l).toOpaque()
            settings.accept_policy = { cls, addr, _ in
                let l = Unmanaged<Listener>.fromOpaque(cls!).takeUnretainedValue()
                return l.server.admits(l, addr) ? mhdYes : mhdNo
            }
            settings.access = { cls, connection, url, method, version, data, size, context in
                let l = Unmanaged<Listener>.fromOpaque(cls!).takeUnretainedValue()
                return l.server.access(l, connection!, url, method, version, data, size!, context!)
            }
            settings.completed = { cls, connection, context, _ in
                let l = Unmanaged<Listener>.fromOpaque(cls!).takeUnretainedValue()
                l.server.completed(connection, context)
            }
            settings.notify = { cls, connection, socketContext, code in
                let l = Unmanaged<Listener>.fromOpaque(cls!).takeUnretainedValue()
                l.server.notify(l, connection!, socketContext!, started: code.rawValue == 0)
            }
            settings.uri_log = { cls, uri, connection in
                let l = Unmanaged<Listener>.fromOpaque(cls!).takeUnretainedValue()
                return l.server.requestLine(uri, connection)
            }
            let daemon: OpaquePointer? = usesTLS
                ? tls!.certificate.withCString { cert in tls!.key.withCString { key in
                    settings.tls_certificate = cert
                    settings.tls_key = key
                    return sisync_mhd_start(&settings)
                } }
                : sisync_mhd_start(&settings)
            guard let daemon else {
                stop()
                throw .start(address: l.socket.bound.description, tls: usesTLS)
            }
            l.daemon = daemon
            _ = l.socket.release()  // libmicrohttpd closes it when stopped
        }
        sweeping = true
        let t = Thread { [self] in
            while sweeperStop.wait(timeout: .now() + limits.sweepInterval) == .timedOut {
                for (c, target) in table.sweep(now: Self.now(), limits: limits) {
                    observe(Exchange(client: c.peer.map { .address($0.description) } ?? .unixSocket, method: "-", target: target ?? "-",
                                     status: 408, route: nil, clientName: nil, duration: Double(Self.now() - c.since) / 1e9))
                }
                releaseAbandoned()
            }
            sweeperDone.signal()
        }
        t.name = "sisync-api sweeper"
        t.start()
    }

    /// Stops accepting at once, gives requests in progress `limits.stopGrace` seconds, then
    /// closes every connection and joins libmicrohttpd's threads. Idempotent. Requests
    /// running off its threads are waited for first, however long: libmicrohttpd aborts
    /// the process when stopped with a suspended connection (sisync-api's own stop ends the
    /// process after 4.5 s regardless).
    package func stop() {
        let running = listeners.filter { $0.daemon != nil }
        for l in running {
            let fd = MHD_quiesce_daemon(l.daemon)
            if fd >= 0 { close(fd) }
            if let path = l.socket.createdPath { unlink(path) }
        }
        let deadline = Self.now() + UInt64(limits.stopGrace * 1e9)
        // Parked polls are asked to answer now with what they have; those that cannot in
        // the grace get 503 from here. libmicrohttpd must have taken every one back before
        // it stops.
        for r in parkedLock.withLock({ Array(parked.values) }) { r.pending?.hurryUp() }
        while !running.isEmpty && table.inFlight > 0 && Self.now() < deadline { usleep(10_000) }
        for r in parkedLock.withLock({ Array(parked.values) }) {
            var stopping = handler.transportAnswer(status: 503, title: "Service Unavailable", detail: "sisync-api is stopping; ask again after Retry-After seconds",
                                                   path: QueryString.split(target: r.target).0)
            stopping.headers.append(("Retry-After", "1"))
            r.pending?.complete(stopping)
        }
        while !running.isEmpty && parkedRequests > 0 { usleep(10_000) }
        while !running.isEmpty && waitingLock.withLock({ waitingCount }) > 0 { usleep(10_000) }
        for l in running {
            MHD_stop_daemon(l.daemon)
            l.daemon = nil
        }
        if sweeping {
            sweeping = false
            sweeperStop.signal()
            sweeperDone.wait()
        }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    // MARK: libmicrohttpd's callbacks (its worker threads)

    private func admits(_ l: Listener, _ addr: UnsafePointer<sockaddr>?) -> Bool {
        guard !l.socket.bound.isUnix, let addr else { return table.admits(nil, exempt: true, limits: limits) }
        let peer = IPAddress(socketAddress: addr)
        return table.admits(peer, exempt: peer.map(proxies.contains) ?? true, limits: limits)
    }

    private func notify(_ l: Listener, _ connection: OpaquePointer, _ socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>, started: Bool) {
        if started {
            var peer: IPAddress?, port = 0
            if !l.socket.bound.isUnix, let addr = sisync_mhd_client_address(connection) {
                peer = IPAddress(socketAddress: addr)
                port = HTTPConnection.port(addr)
            }
            let c = HTTPConnection(fd: sisync_mhd_connection_fd(connection), peer: peer, peerPort: port,
                                   exempt: peer.map(proxies.contains) ?? true, tls: tls != nil && !l.socket.bound.isUnix, now: Self.now())
            table.add(c)
            socketContext.pointee = Unmanaged.passRetained(c).toOpaque()
        } else if let p = socketContext.pointee {
            table.remove(Unmanaged<HTTPConnection>.fromOpaque(p).takeRetainedValue())
            socketContext.pointee = nil
        }
    }

    private func connectionState(_ connection: OpaquePointer?) -> HTTPConnection? {
        guard let connection, let p = sisync_mhd_socket_context(connection) else { return nil }
        return Unmanaged<HTTPConnection>.fromOpaque(p).takeUnretainedValue()
    }

    /// The request line arrived: the raw target (libmicrohttpd decodes the path it passes
    /// the handler; the router needs it encoded), and the clock of the request.
    private func requestLine(_ uri: UnsafePointer<CChar>?, _ connection: OpaquePointer?) -> UnsafeMutableRawPointer? {
        let raw = uri.map { Array(UnsafeRawBufferPointer(start: $0, count: strnlen($0, limits.maxTargetBytes + 1))) } ?? []
        let state = RequestState(target: raw, started: Self.now())
        if let c = connectionState(connection) { table.update(c) { $0.target = state.target } }
        return Unmanaged.passRetained(state).toOpaque()
    }

    private func completed(_ connection: OpaquePointer?, _ context: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        if let context, let p = context.pointee {
            unpark(Unmanaged<RequestState>.fromOpaque(p).takeUnretainedValue())
            Unmanaged<RequestState>.fromOpaque(p).release()
            context.pointee = nil
        }
        if let c = connectionState(connection) {
            table.update(c) {
                if $0.phase != .cut { $0.phase = .waiting(first: false); $0.since = Self.now() }
                $0.target = nil
            }
        }
    }

    private func access(_ l: Listener, _ connection: OpaquePointer, _ url: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?,
                        _ version: UnsafePointer<CChar>?, _ data: UnsafePointer<CChar>?, _ size: UnsafeMutablePointer<Int>,
                        _ context: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        let request: RequestState
        if let p = context.pointee {
            request = Unmanaged<RequestState>.fromOpaque(p).takeUnretainedValue()
        } else {
            request = RequestState(target: url.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? [], started: Self.now())
            context.pointee = Unmanaged.passRetained(request).toOpaque()
        }
        if request.answered {
            size.pointee = 0
            return mhdYes
        }
        if !request.headersRead {
            request.headersRead = true
            request.method = method.map { String(cString: $0) } ?? ""
            request.version = version.map { String(cString: $0) } ?? ""
            request.connection = connectionState(connection)
            if let c = request.connection { table.update(c) { if $0.phase != .cut { $0.phase = .body } } }
            readHeaders(connection, into: request)
            if let refusal = refusal(of: request) { return answer(refusal, to: request, on: connection, l, close: true) }
            return mhdYes
        }
        if size.pointee > 0 {
            let n = size.pointee
            size.pointee = 0
            guard !request.tooLarge, request.body.count + n <= limits.maxBodyBytes else {
                request.tooLarge = true
                request.body = []
                return mhdYes
            }
            data.map { request.body.append(contentsOf: UnsafeRawBufferPointer(start: $0, count: n)) }
            return mhdYes
        }
        if request.suspended, request.pending != nil {
            guard let done = request.finished else { return mhdYes }
            unpark(request)
            // To a client gone, the placeholder and the close (refusing the request instead
            // would make libmicrohttpd log an internal error).
            return answer(done, to: request, on: connection, l, close: request.gone)
        }
        if let done = request.finished { return answer(done, to: request, on: connection, l, close: false) }
        if request.suspended { return mhdYes }
        if let c = request.connection { table.update(c) { if $0.phase != .cut { $0.phase = .answering } } }
        if request.tooLarge { return answer(tooLarge(request), to: request, on: connection, l, close: true) }
        let (path, query) = QueryString.split(target: request.target)
        let http = HTTPRequest(method: request.method, path: path, query: QueryString.parse(query), headers: request.headers,
                               body: request.body, client: client(l, request))
        guard Self.mayWait(http) else {
            switch handler.respond(http) {
            case .answer(let response): return answer(response, to: request, on: connection, l, close: false)
            case .later(let pending): return park(pending, request, connection)
            }
        }
        return answerOffThread(http, request, connection, l)
    }

    /// Suspends the connection until the handler's answer comes (a long poll): no worker
    /// thread waits for it. The answer resumes it from whatever thread gives it, and
    /// libmicrohttpd then calls `access` again, which sends it.
    private func park(_ pending: HTTPPendingAnswer, _ request: RequestState, _ connection: OpaquePointer) -> MHD_Result {
        request.suspended = true
        request.pending = pending
        parkedLock.withLock { parked[ObjectIdentifier(request)] = request }
        MHD_suspend_connection(connection)
        let resume = UnsafeSendable(connection)
        pending.whenAnswered { response in
            request.finished = response
            MHD_resume_connection(resume.value)
        }
        return mhdYes
    }

    private func unpark(_ request: RequestState) {
        parkedLock.withLock { _ = parked.removeValue(forKey: ObjectIdentifier(request)) }
    }

    /// Parked requests whose client closed the connection (libmicrohttpd does not watch a
    /// suspended connection): their handler is told to drop them, and the connection is
    /// resumed to be closed. Logged as nginx logs it, 499 (what is sent goes nowhere).
    private func releaseAbandoned() {
        for r in parkedLock.withLock({ Array(parked.values) }) {
            guard let pending = r.pending, !pending.isAnswered, let c = r.connection, Self.hungUp(c.fd) else { continue }
            r.gone = true
            if pending.complete(HTTPResponse(status: 499)) { pending.hurryUp() }
        }
    }

    /// Whether the peer closed its side of a socket (POLLRDHUP), or it failed.
    static func hungUp(_ fd: Int32) -> Bool {
        let rdhup: Int16 = 0x2000  // POLLRDHUP (Linux); Glibc's module leaves it out
        var p = pollfd(fd: fd, events: rdhup, revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        return p.revents & (rdhup | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    /// Whether a request may wait inside the handler: every method but GET and HEAD (reads
    /// never wait for a run; a login hashes a password, a write may wait for the run lock).
    static func mayWait(_ r: HTTPRequest) -> Bool { r.method != "GET" && r.method != "HEAD" }

    /// Suspends the connection, runs the handler on a thread of its own and resumes the connection
    /// with the answer, so that libmicrohttpd's thread serves its other connections meanwhile;
    /// 503 at once past `limits.maxWaitingRequests`.
    private func answerOffThread(_ http: HTTPRequest, _ request: RequestState, _ connection: OpaquePointer, _ l: Listener) -> MHD_Result {
        let admitted = waitingLock.withLock { () -> Bool in
            guard waitingCount < limits.maxWaitingRequests else { return false }
            waitingCount += 1
            return true
        }
        guard admitted else {
            var busy = transportAnswer(to: request, 503, "Service Unavailable",
                                       "sisync-api has \(limits.maxWaitingRequests) logins and writes in progress, the most it takes at once; send the request again after Retry-After seconds")
            busy.headers.append(("Retry-After", "1"))
            return answer(busy, to: request, on: connection, l, close: false)
        }
        request.suspended = true
        MHD_suspend_connection(connection)
        let handler = self.handler
        let resume = UnsafeSendable(connection)
        // A thread each, not a dispatch queue: on Linux a queue runs about as many blocked
        // items at once as there are cores, and the rest would wait behind them.
        Thread.detachNewThread { [self] in
            request.finished = handler.handle(http)
            MHD_resume_connection(resume.value)
            waitingLock.withLock { waitingCount -= 1 }
        }
        return mhdYes
    }

    private func readHeaders(_ connection: OpaquePointer, into request: RequestState) {
        let box = Unmanaged.passUnretained(request).toOpaque()
        _ = MHD_get_connection_values(connection, MHD_ValueKind(rawValue: 1)!, { cls, _, key, value in
            let r = Unmanaged<RequestState>.fromOpaque(cls!).takeUnretainedValue()
            let name = key.map { String(cString: $0).lowercased() } ?? ""
            let text = value.map { String(cString: $0) } ?? ""
            r.headerBytes += name.utf8.count + text.utf8.count + 4
            if r.headers.count <= 1000 { r.headers.append((name, text)) }
            return mhdYes
        }, box)
    }

    /// The answer to a request that must not reach the handler, judged on its headers.
    private func refusal(of r: RequestState) -> HTTPResponse? {
        if r.target.utf8.count > limits.maxTargetBytes {
            return transportAnswer(to: r, 414, "URI Too Long", "the request target is longer than \(limits.maxTargetBytes) bytes")
        }
        if r.headerBytes > limits.maxHeaderBytes || r.headers.count > limits.maxHeaderCount {
            return transportAnswer(to: r, 431, "Request Header Fields Too Large",
                                   "send at most \(limits.maxHeaderCount) header lines of \(limits.maxHeaderBytes) bytes in all")
        }
        do { try RequestSyntax.judge(target: r.rawTarget, version: r.version, headers: r.headers) } catch {
            return transportAnswer(to: r, 400, "Bad Request", error.description)
        }
        let framing: RequestFraming
        do { framing = try RequestFraming.judge(r.headers) } catch {
            return transportAnswer(to: r, 400, "Bad Request", error.description)
        }
        if case .length(let n) = framing, n > limits.maxBodyBytes { return tooLarge(r) }
        return nil
    }

    private func tooLarge(_ r: RequestState) -> HTTPResponse {
        transportAnswer(to: r, 413, "Content Too Large", "a request body may hold at most \(limits.maxBodyBytes) bytes")
    }

    /// The server's own answer, in the error format of the routes the request was for.
    private func transportAnswer(to r: RequestState, _ status: Int, _ title: String, _ detail: String) -> HTTPResponse {
        handler.transportAnswer(status: status, title: title, detail: detail, path: QueryString.split(target: r.target).0)
    }

    private func client(_ l: Listener, _ r: RequestState) -> HTTPClient {
        guard !l.socket.bound.isUnix, let peer = r.connection?.peer else { return .unixSocket }
        let forwarded = r.headers.filter { $0.name == "x-forwarded-for" }.map(\.value)
        return .address(proxies.client(peer: peer, forwardedFor: forwarded).description)
    }

    /// Headers the server writes itself: a handler's would contradict them.
    private static let transportHeaders: Set<String> = ["content-length", "connection", "transfer-encoding", "date"]

    private func answer(_ response: HTTPResponse, to request: RequestState, on connection: OpaquePointer, _ l: Listener, close: Bool) -> MHD_Result {
        request.answered = true
        let status = (100...599).contains(response.status) ? response.status : 500
        let made = response.body.withUnsafeBytes { raw in
            MHD_create_response_from_buffer(raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), MHD_ResponseMemoryMode(rawValue: 2)!)
        }
        guard let made else { return mhdNo }
        defer { MHD_destroy_response(made) }
        for (name, value) in response.headers where !Self.transportHeaders.contains(name.lowercased()) {
            _ = MHD_add_response_header(made, name, value)  // refused when it holds a line break: left out
        }
        if close { _ = MHD_add_response_header(made, "Connection", "close") }
        let queued = MHD_queue_response(connection, UInt32(status), made)
        guard queued == mhdYes else { return mhdNo }
        observe(Exchange(client: client(l, request), method: request.method, target: request.target, status: status,
                         route: response.route, clientName: response.clientName, duration: Double(Self.now() - request.started) / 1e9))
        return queued
    }
}

private let mhdYes = MHD_Result(rawValue: 1)!

/// A libmicrohttpd connection handed to the thread that resumes it (libmicrohttpd's resume
/// is safe from any thread).
private struct UnsafeSendable: @unchecked Sendable {
    let value: OpaquePointer
    init(_ value: OpaquePointer) { self.value = value }
}
private let mhdNo = MHD_Result(rawValue: 0)!

/// `[api] tls_certificate` and `tls_key`, read into memory (libmicrohttpd takes PEM text).
package struct TLSCredentials: Sendable {
    package let certificate: String
    package let key: String

    package init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    package static func read(certificate: String, key: String) throws(HTTPServerError) -> TLSCredentials {
        func text(_ path: String) throws(HTTPServerError) -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .tlsFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? "not readable by this user" : "no such file")
            }
            let s = String(decoding: data, as: UTF8.self)
            guard s.contains("-----BEGIN ") else { throw .tlsFile(path: path, reason: "not PEM text (-----BEGIN …)") }
            return s
        }
        return TLSCredentials(certificate: try text(certificate), key: try text(key))
    }
}
