import XCTest
@testable import SISync

final class LogEventTypeTests: XCTestCase {
    /// journalctl MESSAGE_ID queries need fixed, distinct, 32-lowercase-hex ids, and the
    /// README's table is what administrators copy them from.
    func testMessageIDsAreFixedDistinctAndDocumented() throws {
        let ids = LogEventType.allCases.map(\.messageID)
        XCTAssertEqual(Set(ids).count, ids.count)
        for id in ids {
            XCTAssertEqual(id.count, 32, id)
            XCTAssertTrue(id.allSatisfy { "0123456789abcdef".contains($0) }, id)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        for type in LogEventType.allCases {
            XCTAssertTrue(readme.contains("| `\(type.messageID)` | \(type.name) |"), "README lacks \(type.name)")
        }
        XCTAssertEqual(LogEventType.guardBlocked.messageID, "338f1c8876dc9cd2b25fde1a34a88787", "ids never change once published")
    }
}
