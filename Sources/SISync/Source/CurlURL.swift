import CCurl

/// A URL as libcurl reads it, through its URL API. Whether a request carries the SIS
/// credential depends on where libcurl will send it, so `SourceOrigin` accepts a URL only
/// when this reading and Foundation's agree on its scheme, host and port: two parsers that
/// disagree on an odd URL are how a credential reaches the wrong host. Owns its handle.
final class CurlURL {
    private let handle: OpaquePointer

    /// Nil when libcurl refuses the URL (it would refuse to request it too).
    init?(_ url: String) {
        guard let h = curl_url() else { return nil }
        handle = h
        guard curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK else { return nil }
    }

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { curl_url_cleanup(handle) }

    /// `reference` (absolute or relative) resolved against this URL, as libcurl resolves
    /// a redirect's `Location`; nil when libcurl refuses it.
    func resolving(_ reference: String) -> CurlURL? {
        guard let copy = curl_url_dup(handle) else { return nil }
        let resolved = CurlURL(handle: copy)
        guard curl_url_set(copy, CURLUPART_URL, reference, 0) == CURLUE_OK else { return nil }
        return resolved
    }

    var scheme: String? { part(CURLUPART_SCHEME) }
    var host: String? { part(CURLUPART_HOST) }
    /// The port, the scheme's default when the URL names none.
    var port: Int? { part(CURLUPART_PORT, flags: UInt32(CURLU_DEFAULT_PORT)).flatMap { Int($0) } }
    var url: String? { part(CURLUPART_URL) }

    private func part(_ which: CURLUPart, flags: UInt32 = 0) -> String? {
        var out: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, which, &out, flags) == CURLUE_OK, let out else { return nil }
        defer { curl_free(out) }
        return String(cString: out)
    }
}
