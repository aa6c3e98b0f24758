import XCTest
@testable import SISync
import SISyncLetters

/// One table from an ending or an error to the exit code (README, "Commands"): sisyncd,
/// each tenant and sisyncctl exit alike for the same failure.
final class ExitCodeTests: XCTestCase {
    func testARunsEndingGivesItsExitCode() {
        XCTAssertEqual(ExitCode.of(.applied), 0)
        XCTAssertEqual(ExitCode.of(.unchanged), 0)
        XCTAssertEqual(ExitCode.of(.blocked(reason: "blocked by the guard (R5)")), 65)
        let hold = RunHold(runID: 4, heldAt: "2026-12-01T08:00:00Z", expiresAt: "2026-12-08T08:00:00Z", changeMark: 0)
        XCTAssertEqual(ExitCode.of(.held(hold, reason: "blocked by the guard (R5)")), 65)
        XCTAssertEqual(ExitCode.of(.failed(.unavailable, message: "HTTP 503")), 69)
    }

    /// What sisyncctl's own catch ladder decided before, now the table's: a request refused
    /// is 1, a file that cannot be written 73, a busy database 75, a bad configuration 78.
    func testSisyncctlsErrorsAreInTheOneTable() {
        XCTAssertEqual(ExitCode.of(StoreError.notFound(what: "run 9")), 1)
        XCTAssertEqual(ExitCode.of(AccessError.noSuchStudent("ST9")), 1)
        XCTAssertEqual(ExitCode.of(HoldError.notHeld(9)), 1)
        XCTAssertEqual(ExitCode.of(LetterPDFError.exists(path: "/tmp/letters.pdf")), 73)
        XCTAssertEqual(ExitCode.of(StoreCopy.CopyError.notSQLite("postgresql://db/sis")), 73)
        XCTAssertEqual(ExitCode.of(StoreError.noDatabase(path: "/var/lib/sisync/sisync.db")), 73)
        XCTAssertEqual(ExitCode.of(StoreError.locked(path: "/var/lib/sisync/sisync.db", holder: "sisyncd pid 812")), 75)
        XCTAssertEqual(ExitCode.of(ConfigError.missingFile(path: "/etc/sisync/sisync.conf")), 78)
        // A database error without a class of its own (SQLITE_BUSY past the timeout) is the
        // database's state, never exit 70, which says sisync has a bug.
        XCTAssertEqual(ExitCode.of(StoreError.sqlite(path: "/var/lib/sisync/sisync.db", code: 5, message: "database is locked", sql: "BEGIN IMMEDIATE")), 73)
        XCTAssertEqual(ExitCode.of(APIClientError.exists("gradebook")), 1)
    }
}
