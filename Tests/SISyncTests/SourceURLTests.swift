import XCTest
@testable import SISync

/// Source URLs as sisync shows them (issue 26 item 14) and which URLs a OneRoster server
/// may make sisync request (item 4): pure functions, no network.
final class SourceURLTests: XCTestCase {
    func testSecretQueryValuesAndUserInfoAreRedacted() {
        let cases: [(String, String)] = [
            ("https://127.0.0.1:8443/x?token=s3cret&page=1", "https://127.0.0.1:8443/x?token=REDACTED&page=1"),
            ("https://sis.example.org/e.csv?Access_Token=a&API_KEY=b&X-Amz-Signature=c&sig=d&password=e&client_secret=f&code=g&school=101",
             "https://sis.example.org/e.csv?Access_Token=REDACTED&API_KEY=REDACTED&X-Amz-Signature=REDACTED&sig=REDACTED&password=REDACTED&client_secret=REDACTED&code=REDACTED&school=101"),
            ("https://sis.example.org/e.csv?a=1;apikey=x#access_token=y&state=z", "https://sis.example.org/e.csv?a=1;apikey=REDACTED#access_token=REDACTED&state=z"),
            ("https://user:pw@sis.example.org/x", "https://REDACTED@sis.example.org/x"),
            ("https://tok3n@sis.example.org", "https://REDACTED@sis.example.org"),
            // A password with `/`, `?` or `#` unencoded ends the authority early (libcurl then
            // fails on the "port", and the URL goes into the error as written).
            ("https://sis:aB3/xY+z@sis.example.org/e.csv?token=t", "https://REDACTED@sis.example.org/e.csv?token=REDACTED"),
            ("https://sis:p?w#x@sis.example.org/e.csv", "https://REDACTED@sis.example.org/e.csv"),
            ("https://sis.example.org:8443/users/a@b.org", "https://sis.example.org:8443/users/a@b.org"),
            ("https://[::1]:8443/users/a@b.org", "https://[::1]:8443/users/a@b.org"),
            ("https://sis.example.org/users/a@b.org?x=1", "https://sis.example.org/users/a@b.org?x=1"),
            ("https://sis.example.org/x?%74oken=s3cret", "https://sis.example.org/x?%74oken=REDACTED"),
            ("https://sis.example.org/x?jwt=eyJhbGciOi.x.y&pw=hunter2&upward=1", "https://sis.example.org/x?jwt=REDACTED&pw=REDACTED&upward=1"),
            ("https://sis.example.org/x?token", "https://sis.example.org/x?token"),
            ("/srv/exports/staff.csv", "/srv/exports/staff.csv"),
        ]
        for (raw, shown) in cases {
            XCTAssertEqual(DisplayedURL(raw).description, shown, raw)
            XCTAssertEqual(DisplayedURL.hasUserInfo(raw), shown.contains(DisplayedURL.mask + "@"), "refused by the configuration: \(raw)")
            XCTAssertEqual(DisplayedURL.redact(shown), shown, "redacting twice changes nothing")
        }
    }

    /// A secret value holding a quote runs on to the white space, and masking it moves where
    /// the next URL starts: the user information of the URL after it (`shttps://sie@`) is
    /// masked too, and redacting the result again changes nothing (a `make fuzz` finding,
    /// source-url).
    func testRedactingTextIsIdempotentWhenAMaskedQuoteUncoversAnotherURL() {
        let text = "https://s?sig=1'://///#;\"\\k;//shttps://sie@?cl\n|||x?"
        let once = DisplayedURL.redacting(in: text)
        XCTAssertEqual(once, "https://s?sig=REDACTED#;\"\\k;//shttps://REDACTED@?cl\n|||x?")
        XCTAssertEqual(DisplayedURL.redacting(in: once), once)
    }

    func testURLsInTextAreRedactedAndTheRestIsKept() {
        let text = "https://h:1/x?token=s3cret&page=1: the server answered HTTP 500 (see `https://h/y?key=k2`), then <http://h/z?sig=k3>."
        XCTAssertEqual(DisplayedURL.redacting(in: text),
                       "https://h:1/x?token=REDACTED&page=1: the server answered HTTP 500 (see `https://h/y?key=REDACTED`), then <http://h/z?sig=REDACTED>.")
        XCTAssertEqual(DisplayedURL.redacting(in: "no url here, token=x"), "no url here, token=x")
        for (text, found) in [("", false), ("://", true), (":/", false), ("a:/ /b", false), ("é https://h/x", true), ("x:\u{1F600}//", false)] {
            XCTAssertEqual(DisplayedURL.mentionsURL(text), found, text)
        }
        XCTAssertEqual(DisplayedURL.redacting(in: "postgresql://db/x?sslkey=/k.pem"), "postgresql://db/x?sslkey=/k.pem", "only http(s) source URLs")
        // A quote inside a secret value, quoted or not, and a scheme glued to a word.
        XCTAssertEqual(DisplayedURL.redacting(in: "fetch 'https://h/x?token=ab'cd' failed"), "fetch 'https://h/x?token=REDACTED' failed")
        XCTAssertEqual(DisplayedURL.redacting(in: "fetch https://h/x?token=ab\"cd failed"), "fetch https://h/x?token=REDACTED failed")
        XCTAssertEqual(DisplayedURL.redacting(in: "fetch 'https://h/x?page=2' failed"), "fetch 'https://h/x?page=2' failed")
        XCTAssertEqual(DisplayedURL.redacting(in: "(see 'https://h/x?key=a'b'), then 'https://h/x?token=a'b c'"),
                       "(see 'https://h/x?key=REDACTED'), then 'https://h/x?token=REDACTED c'")
        XCTAssertEqual(DisplayedURL.redacting(in: "see a.https://h/x?key=k4, then xhttp://u:pw@h/"), "see a.https://h/x?key=REDACTED, then xhttp://REDACTED@h/")
        // Every sink: a log entry's message and fields, and a run's stored error.
        let event = LogEvent(.fetchFailed, .error, text, fields: [("SISYNC_URL", "https://h/x?token=s3cret")])
        XCTAssertFalse(event.message.contains("s3cret") || event.fields[0].1.contains("s3cret"))
        var summary = RunSummary(runID: 1, startedAt: "", ending: .running, dryRun: false, actor: "t", trigger: .schedule)
        summary.ending = .failed(.unavailable, message: text)
        XCTAssertFalse(summary.error!.contains("s3cret"), summary.error!)
        XCTAssertFalse("\(FetchError.afterAttempts(2, .httpStatus(url: "https://h/x?token=s3cret", status: 500)))".contains("s3cret"))
    }

    func testTheOriginComparesNormalisedSchemeHostAndPort() throws {
        let origin = try XCTUnwrap(SourceOrigin("https://SIS.Example.org/ims/oneroster/v1p1"))
        XCTAssertEqual(origin.description, "https://sis.example.org:443")
        let page = "https://sis.example.org/ims/oneroster/v1p1/users?limit=2&offset=0"
        XCTAssertEqual(origin.resolve("/ims/oneroster/v1p1/users?limit=2&offset=2", against: page), "https://sis.example.org/ims/oneroster/v1p1/users?limit=2&offset=2")
        XCTAssertEqual(origin.resolve("users?offset=4", against: page), "https://sis.example.org/ims/oneroster/v1p1/users?offset=4")
        XCTAssertNotNil(origin.resolve("HTTPS://sis.EXAMPLE.org:443/x", against: page), "the default port, written or not")
        let refused = [
            "https://evil.example.net/users", "http://sis.example.org/users", "https://sis.example.org:8443/users",
            "//evil.example.net/users", "https://sis.example.org@evil.example.net/users", "https://evil.example.net#@sis.example.org/",
            "https://sis.example.org:443@evil.example.net/", "https://evil.example.net\\@sis.example.org/", "https:\\\\evil.example.net/",
            "https://sis.example.org.evil.example.net/", "https://s\u{0131}s.example.org/", "https://%73is.example.org/",
            "https://sis.example.org /x", "ftp://sis.example.org/x", "javascript:alert(1)", "https://user:pw@sis.example.org/x",
        ]
        for target in refused { XCTAssertNil(origin.resolve(target, against: page), target) }
        XCTAssertNil(SourceOrigin("/srv/oneroster"))
        XCTAssertNil(SourceOrigin("https://good@evil.example.net/"))
        XCTAssertEqual(SourceOrigin("http://127.0.0.1/x"), SourceOrigin("http://127.0.0.1:80/y"))
    }

    /// Issue 26 item 4: where the request goes is libcurl's reading of the URL. A host that
    /// Foundation keeps as written but libcurl reads as another (numeric IPv4 forms, which
    /// libcurl normalises to a dotted address) is no origin at all, so no link can be
    /// judged against it, and no link written that way passes.
    func testTheOriginIsOneLibcurlReadsTheSame() throws {
        for url in ["https://0x7f.1/users", "https://2130706433/users", "http://127.1/x"] {
            XCTAssertNil(SourceOrigin(url), url)
            XCTAssertNotEqual(CurlURL(url)?.host, URLComponents(string: url)?.host, "\(url): the two readings differ")
        }
        let origin = try XCTUnwrap(SourceOrigin("https://127.0.0.1:8443/ims"))
        XCTAssertNil(origin.resolve("https://0x7f.1:8443/ims/users", against: "https://127.0.0.1:8443/ims/orgs"))
        XCTAssertEqual(CurlURL("https://127.0.0.1:8443/a/b")?.resolving("../c?x=1")?.url, "https://127.0.0.1:8443/c?x=1")
        XCTAssertEqual(CurlURL("https://sis.example.org/a")?.port, 443, "the scheme's default port")
        XCTAssertNil(CurlURL("https://exa mple.org/"), "libcurl refuses what it would not request")
    }
}
