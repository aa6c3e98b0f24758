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
