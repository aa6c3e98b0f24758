/// A URL as sisync shows it: in messages, log entries and their fields, stored run errors,
/// the STATUS line and command output. A user name and password, and the values of query
/// parameters whose names look like secrets (`token`, `key`, `secret`, `password`, `sig`,
/// ...), become `REDACTED`: some exports are reached through a URL that carries its own
/// credential (an API key, a signed link), and a run error is read by more people, and
/// kept longer, than the configuration file. The request itself uses the URL as written.
public struct DisplayedURL: CustomStringConvertible, Sendable {
    public static let mask = "REDACTED"
    public let raw: String

    public init(_ raw: String) { self.raw = raw }

    public var description: String { Self.redact(raw) }

    /// Whether a query parameter holds a secret, judged by its name (any case, percent
    /// decoded): names containing token, key, secret, pass, pwd, sig (signature, X-Amz-
    /// Signature), auth, credential, session or jwt, and `code` (an Azure Functions key, an
    /// OAuth code) and `pw`. Redacting a harmless value costs a less telling message, nothing more.
    public static func isSecretParameter(_ name: Substring) -> Bool {
        let n = (name.removingPercentEncoding ?? String(name)).lowercased()
        if n == "code" || n == "pw" { return true }
        return ["token", "key", "secret", "pass", "pwd", "sig", "auth", "credential", "session", "jwt"].contains { n.contains($0) }
    }

    /// The authority of `url` (between `://` and the first `/`, `?`, `#` or `\`), as libcurl
    /// and browsers read it; nil without `://`.
    static func authority(of url: Substring) -> Range<String.Index>? {
        guard let scheme = url.range(of: "://") else { return nil }
        let end = url[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0 == "\\" } ?? url.endIndex
        return scheme.upperBound..<end
    }

    /// Whether `url` names a user (and perhaps a password) before its host.
    public static func hasUserInfo(_ url: String) -> Bool { userInfoEnd(url[...]) != nil }

    /// The `@` that ends `url`'s user information, if it has any. A password holding `/`,
    /// `?`, `#` or `\` unencoded (`https://sis:aB3/xY@host/`, common in generated ones) ends
    /// the authority early, leaving a "port" that is no number; libcurl then refuses the URL,
    /// but the password is still in it: the last `@` after such an authority ends it.
    static func userInfoEnd(_ url: Substring) -> String.Index? {
        guard let a = authority(of: url) else { return nil }
        let authority = url[a]
        if let at = authority.lastIndex(of: "@") { return at }
        guard !authority.hasPrefix("["), let colon = authority.lastIndex(of: ":"),
              !authority[authority.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return url[a.upperBound...].lastIndex(of: "@")
    }

    /// `url` with its user information and secret-looking query and fragment values masked.
    public static func redact(_ url: String) -> String {
        guard var a = authority(of: url[...]) else { return url }
        var out = String(url[..<a.lowerBound])
        if let at = userInfoEnd(url[...]) {
            let hostEnd = url[at...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0 == "\\" } ?? url.endIndex
            out += mask + url[at..<hostEnd]
            a = a.lowerBound..<hostEnd
        } else {
            out += url[a]
        }
        let rest = url[a.upperBound...]
        guard let q = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) else { return out + rest }
        out += rest[..<q]
        // Query and fragment alike (`#access_token=` in an implicit-flow link): name=value
        // pairs, each with the `?`, `#`, `&` or `;` before it kept as it was.
        func masked(_ segment: String) -> String {
            let body = segment.dropFirst()
            guard let eq = body.firstIndex(of: "="), isSecretParameter(body[..<eq]) else { return segment }
            return String(segment.prefix(1)) + body[...eq] + mask
        }
        var segment = ""
        for c in rest[q...] {
            if "?#&;".contains(c), !segment.isEmpty {
                out += masked(segment)
                segment = ""
            }
            segment.append(c)
        }
        out += masked(segment)
        return out
    }

    /// Whether the URL's last query or fragment pair is one `redact` masks.
    static func endsInSecretValue(_ url: Substring) -> Bool {
        guard let a = authority(of: url), let cut = url[a.upperBound...].lastIndex(where: { "?#&;".contains($0) }) else { return false }
        let pair = url[url.index(after: cut)...]
        guard let eq = pair.firstIndex(of: "=") else { return false }
        return isSecretParameter(pair[..<eq])
    }

    /// Whether `text` holds `://`, looked for in its UTF-8 bytes: every log entry of a run
    /// passes here (300,000 for a first import), and Foundation's `contains` cost 3.5% of
    /// the import's CPU.
    static func mentionsURL(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= 3 else { return false }
            for i in 0...(bytes.count - 3) where bytes[i] == UInt8(ascii: ":") && bytes[i + 1] == UInt8(ascii: "/") && bytes[i + 2] == UInt8(ascii: "/") {
                return true
            }
            return false
        }
    }

    /// `text` with every http(s) URL in it redacted. The last line of defence for text that
    /// is shown or stored (log entries, run errors): a URL ends at white space, a quote,
    /// a backtick or an angle bracket, and sentence punctuation after it stays outside.
    ///
    /// Masking a secret value that held a quote moves where the next URL starts, so what
    /// followed it, read again, may be a URL of its own with a secret in it (`make fuzz`,
    /// source-url: `…?sig=1'…"…//shttps://user@…`). The text is read again until nothing
    /// changes: each pass only masks more, so what is shown is masked as far as any reading
    /// of it would mask it, and redacting it again changes nothing.
    public static func redacting(in text: String) -> String {
        guard mentionsURL(text) else { return text }
        var current = text
        for _ in 0..<8 {
            let next = redactingOnce(in: current)
            if next == current { return next }
            current = next
        }
        return current
    }

    private static func redactingOnce(in text: String) -> String {
        var out = ""
        var rest = text[...]
        while let r = rest.range(of: "://") {
            var start = r.lowerBound
            while start > rest.startIndex {
                let before = rest.index(before: start)
                guard rest[before].isASCII, rest[before].isLetter || rest[before] == "+" || rest[before] == "-" || rest[before] == "." else { break }
                start = before
            }
            // A scheme glued to a word (`a.https://`, `xhttps://`) is still http(s): the
            // letters before it are not part of it.
            let glued = rest[start..<r.lowerBound].lowercased()
            for known in ["https", "http"] where glued.hasSuffix(known) && glued.count > known.count {
                start = rest.index(r.lowerBound, offsetBy: -known.count)
                break
            }
            var end = rest[r.upperBound...].firstIndex { $0.isWhitespace || "`'\"<>".contains($0) } ?? rest.endIndex
            // A secret value may hold a quote itself (`token=ab'cd`): masking would stop at
            // it and show the rest. Such a value runs on to the white space; a quote that
            // opened the URL is given back at its end.
            var quoted: Character? = nil
            if end < rest.endIndex, "'\"".contains(rest[end]), endsInSecretValue(rest[start..<end]) {
                quoted = start > rest.startIndex ? rest[rest.index(before: start)] : nil
                end = rest[end...].firstIndex { $0.isWhitespace } ?? rest.endIndex
            }
            while end > r.upperBound, ":;,.)".contains(rest[rest.index(before: end)]) { end = rest.index(before: end) }
            if let quoted, "'\"".contains(quoted), end > r.upperBound, rest[rest.index(before: end)] == quoted {
                end = rest.index(before: end)
            }
            let scheme = rest[start..<r.lowerBound].lowercased()
            out += rest[..<start]
            out += scheme == "http" || scheme == "https" ? redact(String(rest[start..<end])) : String(rest[start..<end])
            rest = rest[end...]
        }
        return out + rest
    }
}
