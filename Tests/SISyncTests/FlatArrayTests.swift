import XCTest
@testable import SISync

/// `FlatArray`, the growable table behind the OneRoster translation's ids (issue 34): what
/// it is given comes back, past many growths, and a copy is a value (changing one leaves
/// the other as it was).
final class FlatArrayTests: XCTestCase {
    func testValuesComeBackPastEveryGrowth() {
        var a = FlatArray<UInt32>()
        XCTAssertTrue(a.isEmpty)
        for i in 0..<100_000 { a.append(UInt32(i) &* 2_654_435_761) }
        XCTAssertEqual(a.count, 100_000)
        XCTAssertEqual((0..<100_000).filter { a[$0] != UInt32($0) &* 2_654_435_761 }, [])
        a[7] = 1
        XCTAssertEqual(a[7], 1)
        var bytes = FlatArray<UInt8>()
        let text = Array("zoë-李\u{0}x".utf8)
        for _ in 0..<1000 { text.withUnsafeBufferPointer { bytes.append(contentsOf: $0) } }
        XCTAssertEqual(bytes.count, 1000 * text.count)
        XCTAssertEqual(bytes.withUnsafeBufferPointer((999 * text.count)..<(1000 * text.count)) { Array($0) }, text)
        XCTAssertEqual(bytes.withUnsafeBufferPointer(5..<5) { $0.count }, 0)
    }

    func testACopyIsAValue() {
        var a = FlatArray<Int32>()
        for i in 0..<10 { a.append(Int32(i)) }
        var b = a
        b[0] = 42
        b.append(10)
        XCTAssertEqual(a[0], 0, "the copy changed, not the original")
        XCTAssertEqual(a.count, 10)
        XCTAssertEqual(b[0], 42)
        XCTAssertEqual(b.count, 11)
        let c = b
        b.reserveCapacity(1 << 20)
        b.append(11)
        XCTAssertEqual(c.count, 11)
        XCTAssertEqual(b.count, 12)
        XCTAssertEqual(b[11], 11)
    }
}
