import XCTest
@testable import SISync

/// `RowNumbers`, the plan's additions held as runs of consecutive rows (issue 34): the same
/// numbers in the same order as the array they replace, at a cost of runs, not rows.
final class RowNumbersTests: XCTestCase {
    func testConsecutiveNumbersAreOneRunAndReadBackAsGiven() {
        var numbers = RowNumbers()
        for n in Int32(0)..<100_000 { numbers.append(n) }
        XCTAssertEqual(numbers.runCount, 1, "a first import's additions: one run, not 100,000 numbers")
        XCTAssertEqual(numbers.count, 100_000)
        XCTAssertEqual(numbers.first, 0)
        XCTAssertEqual(numbers[99_999], 99_999)
        XCTAssertEqual(numbers, RowNumbers.all(100_000))
        XCTAssertTrue(numbers.elementsEqual(0..<100_000))
    }

    func testScatteredNumbersKeepTheirOrderAndEveryPosition() {
        let given: [Int32] = [3, 4, 5, 9, 11, 12, 2, 2, 40, 7]
        let numbers = RowNumbers(given)
        XCTAssertEqual(Array(numbers), given, "in the order given, repeats kept")
        XCTAssertEqual(numbers.indices.map { numbers[$0] }, given, "each position read through its run")
        XCTAssertEqual(numbers.runCount, 7, "3-5, 9, 11-12, 2, 2, 40, 7")
        XCTAssertFalse(numbers.isAscending)
        XCTAssertFalse(RowNumbers(given.sorted()).isAscending, "a repeat is not ascending")
        XCTAssertTrue(RowNumbers([1, 2, 3, 7, 8, 20]).isAscending)
        XCTAssertEqual(MirrorStore.inKeyOrder(numbers, EntityRows(kind: .staff, source: "staff.csv")), RowNumbers(given.sorted()))
    }

    func testEqualNumbersAreEqualHoweverTheyWereBuilt() {
        XCTAssertEqual(RowNumbers([0, 1, 2, 5]), [0, 1, 2, 5])
        var appended: RowNumbers = [0]
        for n: Int32 in [1, 2, 5] { appended.append(n) }
        XCTAssertEqual(appended, RowNumbers([0, 1, 2, 5]))
        XCTAssertNotEqual(RowNumbers([0, 1, 2]), RowNumbers([0, 1, 3]))
        XCTAssertTrue(RowNumbers().isEmpty)
        XCTAssertEqual(RowNumbers.all(0), [])
    }
}
