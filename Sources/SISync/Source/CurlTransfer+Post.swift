import CCurl
import Foundation

/// A POST of a body in memory, for webhooks: the answer's status and its first bytes (for
/// the error a failure records). The handle keeps its connection between posts (libcurl's
/// connection cache survives `curl_easy_reset`), so a backlog goes over one kept-alive
/// connection. Redirects are never followed: a 3xx is a failure.
extension CurlTransfer {
    public struct Posted: Sendable {
        public var status: Int
        /// Up to 512 bytes of the answer's body.
        public var head: [UInt8]
    }

    /// `abort` is asked while the request is in flight (libcurl's progress callback, several
    /// times a second): true ends it at once (`FetchError.aborted`), so that a receiver that
    /// holds a request open does not hold a stopping sisyncd past its stop budget.
    public func post(url: String, headers: [String], body: [UInt8], timeoutSeconds: Double,
                     abort: @escaping () -> Bool = { false }) throws(FetchError) -> Posted {
        let sink = PostSink(abort: abort)
        curl_easy_reset(handle)
        var headerList: UnsafeMutablePointer<curl_slist>?
        // No `Expect: 100-continue` round trip before a body over 1 KiB.
        for h in headers + ["Expect:"] { headerList = curl_slist_append(headerList, h) }
        defer { curl_slist_free_all(headerList) }
        func check(_ code: CURLcode, _ what: String) throws(FetchError) { try Self.check(code, what, url: url) }
        try check(sisync_curl_setopt_string(handle, CURLOPT_URL, url), "the URL")
        try check(sisync_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(sisync_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "allowed protocols")
        try check(sisync_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0), "redirects")
        try check(sisync_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1), "TLS peer verification")
        try check(sisync_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2), "TLS host verification")
        try check(sisync_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeoutSeconds * 1000)), "the timeout")
        try check(sisync_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(min(timeoutSeconds, 10) * 1000)), "the connect timeout")
        try check(sisync_curl_setopt_string(handle, CURLOPT_USERAGENT, "sisync/\(SisyncVersion.current)"), "the User-Agent")
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "the error buffer")
        try check(sisync_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), "headers")
        try check(sisync_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count), "the body's size")
        try check(sisync_curl_setopt_write(handle, postWrite), "the write callback")
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()), "the write data")
        try check(sisync_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0), "progress")
        try check(sisync_curl_setopt_progress(handle, postProgress), "the progress callback")
        try check(sisync_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, Unmanaged.passUnretained(sink).toOpaque()), "the progress data")
        errorBuffer[0] = 0
        // POSTFIELDS points at the body for this call only (a buffer of one byte when it is
        // empty: the size says 0).
        let bytes = body.isEmpty ? [0] : body
        let code = bytes.withUnsafeBufferPointer { b -> CURLcode in
            let set = sisync_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: b.baseAddress!))
            guard set == CURLE_OK else { return set }
            return withExtendedLifetime(sink) { curl_easy_perform(handle) }
        }
        if code == CURLE_ABORTED_BY_CALLBACK { throw .aborted(url: url) }
        if code != CURLE_OK {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            throw .transfer(url: url, code: Int(code.rawValue), message: detail)
        }
        var status = 0
        _ = sisync_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return Posted(status: status, head: sink.head)
    }
}

/// Keeps the first bytes of a POST's answer and drops the rest; says when to abort.
private final class PostSink {
    var head: [UInt8] = []
    let abort: () -> Bool
    init(abort: @escaping () -> Bool) { self.abort = abort }
}

private func postProgress(_ context: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let context else { return 0 }
    return Unmanaged<PostSink>.fromOpaque(context).takeUnretainedValue().abort() ? 1 : 0
}

private func postWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let n = size * count
    guard let data, let context else { return n }
    let sink = Unmanaged<PostSink>.fromOpaque(context).takeUnretainedValue()
    if sink.head.count < 512 {
        data.withMemoryRebound(to: UInt8.self, capacity: n) { p in
            sink.head += UnsafeBufferPointer(start: p, count: min(n, 512 - sink.head.count))
        }
    }
    return n
}
