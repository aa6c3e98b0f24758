import Foundation

/// The scheme, host and port of `[source] url`. Every request to a OneRoster API carries
/// the credential, and what comes back enters the mirror; so a URL the server names (a
/// `Link: rel="next"`, a redirect's `Location`) is requested only when it has this origin.
/// A server, or a proxy in front of it, cannot send the token, or records, anywhere else.
public struct SourceOrigin: Equatable, Sendable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int

    /// Nil for anything but a plain http(s) URL with a host: a user or password before the
    /// host (`https://good@evil/`), a backslash, white space, a control character, or a
    /// character outside ASCII (an IDN or a look-alike) or a percent sign in the host.
    /// Parsers disagree on those; and libcurl's reading (`CurlURL`), the one that decides
    /// where the request goes, must agree with Foundation's on the rest.
    public init?(_ url: String) {
        guard url.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" }),
              !DisplayedURL.hasUserInfo(url),
              let c = URLComponents(string: url),
              c.percentEncodedUser == nil, c.percentEncodedPassword == nil,
              let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = c.percentEncodedHost?.lowercased(), !host.isEmpty, !host.contains("%") else { return nil }
        let port = c.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { return nil }
        // libcurl, which makes the request, must read the same origin.
        guard let curl = CurlURL(url), curl.scheme?.lowercased() == scheme, curl.host?.lowercased() == host, curl.port == port else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    public var description: String { "\(scheme)://\(host):\(port)" }

    /// `target` (absolute, or relative to `page`) as an absolute URL on this origin, or nil
    /// when it leaves it or cannot be read for certain.
    public func resolve(_ target: String, against page: String) -> String? {
        guard target.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" }),
              let absolute = URL(string: target, relativeTo: URL(string: page))?.absoluteString,
              SourceOrigin(absolute) == self else { return nil }
        return absolute
    }
}
