import XCTest
@testable import SISync

final class KeyIndexTests: XCTestCase {
    private func insert(_ index: inout KeyIndex, _ key: String) -> (entry: Int, inserted: Bool) {
        var k = key
        return k.withUTF8 { index.insert($0) }
    }

    func testFindsEveryKeyAcrossGrowthAndRefusesDuplicates() {
        var index = KeyIndex()
        let keys = (0..<50_000).map { "ST\($0)" } + ["", "Zoë", "H1\u{1F}student\u{1F}ST1"]
        for (i, k) in keys.enumerated() {
            let r = insert(&index, k)
            XCTAssertTrue(r.inserted, k)
            XCTAssertEqual(r.entry, i)
        }
        XCTAssertEqual(index.count, keys.count)
        for (i, k) in keys.enumerated() where i % 97 == 0 || i >= 50_000 {
            XCTAssertEqual(index.find(k), i, k)
            XCTAssertEqual(index.key(i), k)
        }
        XCTAssertNil(index.find("ST50000"))
        XCTAssertNil(index.find("st1"), "keys are exact, not case-folded")
        let again = insert(&index, "ST123")
        XCTAssertFalse(again.inserted)
        XCTAssertEqual(again.entry, 123)
    }
}
