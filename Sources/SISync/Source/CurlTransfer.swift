import CCurl
import Foundation

/// One libcurl easy handle. Owns the handle and frees it on release; all pointer work
/// for HTTP stays in this file.
public final class CurlTransfer {
    let handle: UnsafeMutableRawPointer
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    private static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    public init() throws(FetchError) {
        _ = Self.globalInit
        guard let h = curl_easy_init() else {
            throw .transfer(url: "-", code: -1, message: "libcurl could not create a handle (out of memory?)")
        }
        handle = h
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// How a request authenticates. Secrets go to libcurl's auth options, never into
    /// custom headers, so libcurl does not send them to another host after a redirect.
    public enum Auth: Sendable {
        case none
        case bearer(String)
        case basic(user: String, password: String)
    }

    /// What a request needs besides the URL.
    public struct Request {
        public var url: String
        public var timeoutSeconds: Double
        public var maxBytes: Int64
        public var caFile: String?
        public var headers: [String] = []
        public var auth: Auth = .none
        /// A form body: the request becomes a POST (the OAuth token request).
        public var formBody: String?
        public var userAgent = "sisync/\(SisyncVersion.current)"
        /// Abort when slower than 1 KiB/s for this long.
        public var lowSpeedSeconds = 30
        /// Off for the OAuth token POST (a 307/308 would send the client secret in the body
        /// again, to wherever it points) and for OneRoster REST pages (the fetcher follows
        /// a redirect itself, only on the configured host).
        public var followRedirects = true
        public init(url: String, timeoutSeconds: Double, maxBytes: Int64, caFile: String?) {
            self.url = url
            self.timeoutSeconds = timeoutSeconds
            self.maxBytes = maxBytes
            self.caFile = caFile
        }
    }

    /// What came back: the status, the headers sisync uses, and the body's size and start.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String?
        public var etag: String?
        public var lastModified: String?
        public var retryAfter: String?
        /// OneRoster REST paging: `Link` (rel="next") and `X-Total-Count`.
        public var link: String? = nil
        public var totalCount: String? = nil
        /// Where a redirect points, when redirects are not followed.
        public var location: String? = nil
        public var bytes: Int64
        /// The first bytes of the (decoded) body, for the sanity check.
        public var head: [UInt8]
    }

    /// Downloads `request.url` into `destination` (emptied first), a file of the run's
    /// private directory, written through its descriptor. Throws for transport failures
    /// (with libcurl's code, to decide on retries), the size cap and aborts.
    public func perform(_ request: Request, into destination: RunFile, stop: StopSignal? = nil) throws(FetchError) -> Response {
        do { try destination.rewind() } catch {
            throw .unreadableFile(path: destination.shownAs, reason: "cannot empty the download file: \(error)")
        }
        let sink = TransferSink(output: destination, maxBytes: request.maxBytes, stop: stop)
        curl_easy_reset(handle)
        var headerList: UnsafeMutablePointer<curl_slist>?
        for h in request.headers { headerList = curl_slist_append(headerList, h) }
        defer { curl_slist_free_all(headerList) }
        let url = request.url
        func check(_ code: CURLcode, _ what: String) throws(FetchError) { try Self.check(code, what, url: url) }
        try check(sisync_curl_setopt_string(handle, CURLOPT_URL, url), "the URL")
        try check(sisync_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(sisync_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "allowed protocols")
        // Redirects may stay on http from http, but never leave https for http.
        let secure = url.lowercased().hasPrefix("https://")
        try check(sisync_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, secure ? "https" : "http,https"), "redirect protocols")
        try check(sisync_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0), "redirects")
        try check(sisync_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 5), "the redirect limit")
        try check(sisync_curl_setopt_long(handle, CURLOPT_UNRESTRICTED_AUTH, 0), "credentials only to the first host")
        try check(sisync_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1), "TLS peer verification")
        try check(sisync_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2), "TLS host verification")
        if let ca = request.caFile { try check(sisync_curl_setopt_string(handle, CURLOPT_CAINFO, ca), "the CA file") }
        try check(sisync_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeoutSeconds * 1000)), "the timeout")
        try check(sisync_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(min(request.timeoutSeconds, 30) * 1000)), "the connect timeout")
        try check(sisync_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024), "the low-speed limit")
        try check(sisync_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, request.lowSpeedSeconds), "the low-speed time")
        try check(sisync_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""), "Accept-Encoding")
        try check(sisync_curl_setopt_string(handle, CURLOPT_USERAGENT, request.userAgent), "the User-Agent")
        switch request.auth {
        case .none: break
        case .bearer(let token):
            try check(sisync_curl_setopt_long(handle, CURLOPT_HTTPAUTH, sisync_curlauth_bearer()), "bearer authentication")
            try check(sisync_curl_setopt_string(handle, CURLOPT_XOAUTH2_BEARER, token), "the bearer token")
        case .basic(let user, let password):
            try check(sisync_curl_setopt_long(handle, CURLOPT_HTTPAUTH, sisync_curlauth_basic()), "basic authentication")
            try check(sisync_curl_setopt_string(handle, CURLOPT_USERNAME, user), "the user name")
            try check(sisync_curl_setopt_string(handle, CURLOPT_PASSWORD, password), "the password")
        }
        if let body = request.formBody {
            try check(sisync_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, body), "the form body")
        }
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "the error buffer")
        try check(sisync_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), "headers")
        try check(sisync_curl_setopt_write(handle, curlWrite), "the write callback")
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()), "the write data")
        try check(sisync_curl_setopt_header(handle, curlHeader), "the header callback")
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, Unmanaged.passUnretained(sink).toOpaque()), "the header data")
        try check(sisync_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0), "progress")
        try check(sisync_curl_setopt_progress(handle, curlProgress), "the progress callback")
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, Unmanaged.passUnretained(sink).toOpaque()), "the progress data")
        errorBuffer[0] = 0
        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        if sink.overLimit { throw .tooLarge(url: url, limit: request.maxBytes) }
        if code == CURLE_ABORTED_BY_CALLBACK { throw .aborted(url: url) }
        if let why = sink.writeFailure { throw .unreadableFile(path: destination.shownAs, reason: "cannot write the downloaded export: \(why) (disk full?)") }
        if code != CURLE_OK {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            throw .transfer(url: url, code: Int(code.rawValue), message: detail)
        }
        var status = 0
        _ = sisync_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, contentType: sink.header("content-type"), etag: sink.header("etag"),
                        lastModified: sink.header("last-modified"), retryAfter: sink.header("retry-after"),
                        link: sink.header("link"), totalCount: sink.header("x-total-count"), location: sink.header("location"),
                        bytes: sink.written, head: sink.head)
    }

    /// A failed option is a transfer error naming the option (no request is sent).
    static func check(_ code: CURLcode, _ what: String, url: String) throws(FetchError) {
        if code != CURLE_OK {
            throw .transfer(url: url, code: Int(code.rawValue), message: "could not set \(what): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    /// libcurl codes worth another attempt: the connection, not the request, failed.
    public static func isTransient(code: Int) -> Bool {
        let transient: [CURLcode] = [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY,
                                     CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING,
                                     CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM]
        return transient.contains { Int($0.rawValue) == code }
    }
}

/// State shared with the C callbacks of one transfer.
private final class TransferSink {
    let output: RunFile
    let maxBytes: Int64
    var written: Int64 = 0
    var overLimit = false
    var writeFailure: String?
    var head: [UInt8] = []
    /// Headers of the last response (a redirect's headers are replaced by the next ones).
    var headers: [String: String] = [:]
    let stop: StopSignal?
    func header(_ name: String) -> String? { headers[name] }
    init(output: RunFile, maxBytes: Int64, stop: StopSignal?) {
        self.output = output
        self.maxBytes = maxBytes
        self.stop = stop
    }
}

private func curlWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context, let data else { return 0 }
    let sink = Unmanaged<TransferSink>.fromOpaque(context).takeUnretainedValue()
    let n = size * count
    sink.written += Int64(n)
    if sink.written > sink.maxBytes { sink.overLimit = true; return 0 }
    if sink.head.count < 256 {
        data.withMemoryRebound(to: UInt8.self, capacity: n) { p in sink.head += UnsafeBufferPointer(start: p, count: min(n, 256 - sink.head.count)) }
    }
    if let why = sink.output.write(UnsafeRawBufferPointer(start: data, count: n)) {
        sink.writeFailure = why
        return 0
    }
    return n
}

private func curlProgress(_ context: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let context else { return 0 }
    let sink = Unmanaged<TransferSink>.fromOpaque(context).takeUnretainedValue()
    return sink.stop?.isStopping == true ? 1 : 0
}

private func curlHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let n = size * count
    guard let context, let data else { return n }
    let sink = Unmanaged<TransferSink>.fromOpaque(context).takeUnretainedValue()
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
    if line.hasPrefix("HTTP/") { sink.headers = [:]; return n }
    if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased().trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        // A list header may come as several lines, which mean the same as one joined with
        // ", " (RFC 9110 5.3): a server may send its next page's `Link` on a line of its own.
        if name == "link", let earlier = sink.headers[name], !earlier.isEmpty {
            sink.headers[name] = value.isEmpty ? earlier : earlier + ", " + value
        } else {
            sink.headers[name] = value
        }
    }
    return n
}
