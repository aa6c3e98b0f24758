import XCTest
@testable import SISync

/// The fast paths of the users' side (issue 16) give exactly what the slow ones gave.
final class TimestampTests: XCTestCase {
    func testTimestampsAreFormattedAsBefore() {
        let moments: [Double] = [0, 59.9, 951_782_400, 1_796_083_200, 1_796_169_599.5, 4_102_444_799]
        for seconds in moments {
            let d = Date(timeIntervalSince1970: seconds)
            var t = time_t(d.timeIntervalSince1970.rounded(.down))
            var p = tm()
            gmtime_r(&t, &p)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(p.tm_year) + 1900, Int(p.tm_mon) + 1,
                                  Int(p.tm_mday), Int(p.tm_hour), Int(p.tm_min), Int(p.tm_sec))
            XCTAssertEqual(Timestamp.format(d), expected)
            XCTAssertEqual(Timestamp.parse(Timestamp.format(d))?.timeIntervalSince1970, seconds.rounded(.down))
        }
    }

    /// `Timestamp.parse` reads the canonical form without a formatter (a SCIM lookup parsed two
    /// a user): the same dates as ISO8601DateFormatter, and what is not a real time is left to it.
    func testTimestampsAreParsedAsTheFormatterParsesThem() {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        for text in ["1970-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "2026-12-06T14:59:30Z", "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z",
                     "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-1-01T00:00:00Z", "2026-01-01 00:00:00Z",
                     "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00.250Z", "２０２６-01-01T00:00:00Z", ""] {
            let fractional = ISO8601DateFormatter()
            fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            XCTAssertEqual(Timestamp.parse(text), f.date(from: text) ?? fractional.date(from: text), text)
            if let fast = Timestamp.canonical(text) { XCTAssertEqual(fast, f.date(from: text), text) }
        }
        XCTAssertNil(Timestamp.canonical("2026-02-30T00:00:00Z"), "not a real day: left to the formatter")
        XCTAssertNotNil(Timestamp.canonical("2024-02-29T23:59:59Z"))
    }

    /// A string that needs no escape is written whole; one that does is escaped as before:
    /// both read back as the same string.
    func testJSONStringsAreWrittenAsBefore() throws {
        for text in ["plain", "", "ann@district.org", "Zoë ✓ 北京", "a\"b", "back\\slash", "line\nbreak", "tab\t", "\u{1}ctl", "é\"\u{7f}"] {
            let rendered = JSONValue.array([.string(text)]).rendered(pretty: false)
            XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String], [text], rendered)
        }
        XCTAssertEqual(JSONValue.string("a\"b\u{1}").rendered(pretty: false), #""a\"b\u0001""#)
        XCTAssertEqual(JSONValue.string("plain ✓").rendered(pretty: false), "\"plain ✓\"")
    }

    func testUserImportCellsAreTrimmedAsBefore() {
        for cell in ["", " ", "jdoe", " jdoe", "jdoe\t", "\u{00A0}jdoe\u{2003}", "é", " é ", "a b", "\u{1F}x", "x\n"] {
            XCTAssertEqual(UserImport.trimmed(cell), cell.trimmingCharacters(in: .whitespaces), "`\(cell)`")
        }
    }

    func testUsernamesAreCheckedAsBefore() {
        for name in ["", "jdoe", "j doe", "j\tdoe", "j\ndoe", "j\u{0B}d", "j\u{0C}d", "j\rd", "\u{1F}x", "~!@#", "é", "j\u{00A0}d", "j\u{2003}d", "ñ ñ"] {
            XCTAssertEqual(UserRecord.isValidUsername(name), !name.isEmpty && !name.contains(where: \.isWhitespace), "`\(name)`")
        }
        XCTAssertEqual(parseBoolean(" Yes "), true)
        XCTAssertEqual(parseBoolean("\u{00A0}off"), false)
        XCTAssertNil(parseBoolean("maybe"))
    }
}
