import XCTest
@testable import SISync

/// `Link` headers (RFC 8288) as OneRoster REST servers send them for paging. A next link
/// missed here stops paging early: without X-Total-Count the roster would be cut short and
/// R4 would deactivate the people on the pages never read (issue 26, paging review).
final class LinkHeaderTests: XCTestCase {
    func testATargetMayHoldCommasAndSemicolons() {
        let session = "https://sis.example.org/ims/oneroster/v1p1/users;jsessionid=ab?limit=100&offset=100"
        XCTAssertEqual(LinkHeader("<\(session)>; rel=\"next\"").next, session)
        let fields = "https://sis.example.org/ims/oneroster/v1p1/users?fields=sourcedId,givenName&offset=100"
        XCTAssertEqual(LinkHeader("<\(fields)>; rel=\"next\"").next, fields)
        let both = "/users;jsessionid=x,y?fields=a,b;c&offset=2"
        let header = LinkHeader("<\(both)>;rel=next,<\(fields)>; rel=\"last\"")
        XCTAssertEqual(header.links.map(\.target), [both, fields])
        XCTAssertEqual(header.next, both)
        XCTAssertEqual(header.unreadable, [])
    }

    func testSeveralLinkValuesAndTheFirstNextWins() {
        let header = LinkHeader(#"<https://x/u?offset=0>; rel="first", <https://x/u?offset=4>; rel="next", <https://x/u?offset=8>; rel="next""#)
        XCTAssertEqual(header.links.map(\.relations), [["first"], ["next"], ["next"]])
        XCTAssertEqual(header.next, "https://x/u?offset=4")
    }

    func testRelQuotedUnquotedAnyCaseAndAsAList() {
        XCTAssertEqual(LinkHeader("<a>; rel=next").next, "a")
        XCTAssertEqual(LinkHeader("<a>; REL=\"NeXt\"").next, "a")
        XCTAssertEqual(LinkHeader("<a>;rel = \"last  next\"").next, "a")
        XCTAssertEqual(LinkHeader("<a>; rel=\"next last\"").links.first?.relations, ["next", "last"])
        XCTAssertEqual(LinkHeader("<a>; rel=\"last \u{301}x\tnext\"").links.first?.relations, ["last", "\u{301}x", "next"], "split on the space, even before a combining mark")
        XCTAssertEqual(LinkHeader("<a>; title=\"x, y; rel=next\"; rel=\"last\"").next, nil, "a quoted value is not a parameter")
        XCTAssertEqual(LinkHeader("<a>; title=\"say \\\"next\\\"\"; rel=next").links.first?.parameters,
                       [.init(name: "title", value: "say \"next\""), .init(name: "rel", value: "next")])
        XCTAssertNil(LinkHeader("<a>; rel=\"first\"; rel=\"next\"").next, "only the first rel counts (RFC 8288 3.3)")
        XCTAssertNil(LinkHeader("<a>; rel=\"nextpage\"").next)
        XCTAssertNil(LinkHeader("<a>; rev=\"next\"").next)
        XCTAssertNil(LinkHeader("<a>; rel*=UTF-8''next").next)
    }

    /// CurlTransfer joins repeated `Link:` lines with ", " (RFC 9110 5.3).
    func testSeveralHeaderLinesJoined() {
        let header = LinkHeader(["<https://x/u;s=1?offset=2>; rel=\"next\"", "<https://x/u?offset=0>; rel=\"first\""].joined(separator: ", "))
        XCTAssertEqual(header.next, "https://x/u;s=1?offset=2")
        XCTAssertEqual(header.links.count, 2)
    }

    func testGarbageHasNoNextAndIsReportedUnreadable() {
        for garbage in ["", " ", ",,", "next", "rel=\"next\"", "https://x/u?offset=2; rel=\"next\"", "<https://x/u?offset=2; rel=\"next\"",
                        "<a> rel=next", "<a>; rel=\"next", "<a>; =next", "\u{0}<\u{0}>\u{0};", "<<<>>>", ";;;", "\"<a>; rel=next\""] {
            let header = LinkHeader(garbage)
            XCTAssertNil(header.next, garbage)
        }
        XCTAssertEqual(LinkHeader("").unreadable, [])
        XCTAssertEqual(LinkHeader("<a> rel=next").unreadable, ["<a> rel=next"])
        XCTAssertEqual(LinkHeader("<https://x/u?offset=2; rel=\"next\"").unreadable, ["<https://x/u?offset=2; rel=\"next\""], "an unclosed target takes the rest")
        // A malformed link-value does not hide a good one after it.
        let mixed = LinkHeader("junk; rel=next, <a>; rel=\"first\" stray, <b,c>; rel=next")
        XCTAssertEqual(mixed.unreadable, ["junk; rel=next", "<a>; rel=\"first\" stray"])
        XCTAssertEqual(mixed.next, "b,c")
    }

    func testEmptyParametersAreTolerated() {
        XCTAssertEqual(LinkHeader("<a>;; rel=next;").next, "a")
        XCTAssertEqual(LinkHeader("<a>;").unreadable, [])
        XCTAssertEqual(LinkHeader("<>; rel=next").next, "", "an empty target is the page itself; the fetcher refuses it as a loop")
    }

    func testTargetsAreVerbatimEvenOutsideASCII() {
        let header = LinkHeader("<https://x/ü é?q=\u{301}>;rel=next")
        XCTAssertEqual(header.next, "https://x/ü é?q=\u{301}")
        XCTAssertEqual(Array(header.next!.utf8), Array("https://x/ü é?q=\u{301}".utf8))
    }
}
