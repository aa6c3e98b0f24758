import Foundation
import XCTest
@testable import SISync

/// What a run's writes cost SQLite in bytes written (issue 34: the every-file day's apply
/// and commit). Counted by the kernel for this process (`/proc/self/io`, `wchar`: every
/// byte handed to write and pwrite), so a file SQLite opens and unlinks at once (a
/// statement journal, a spilled temporary table) counts too.
final class SQLiteWriteVolumeTests: XCTestCase {
    /// The mirror's set-based updates keep no statement journal. Such a journal copies every
    /// page the statement changes to a temporary file before changing it, so that the
    /// statement alone can be taken back; a run never takes back a statement alone (any
    /// error rolls the whole run back, R1). On the every-file day it was as many page
    /// writes again as the WAL's.
    func testTheMirrorsUpdatesWriteNoStatementJournal() throws {
        let w = Workspace(sqlite: true)
        let config = w.configure()
        // A table larger than SQLite keeps a statement journal in memory (64 KiB), so
        // that one would reach a file.
        let records = 20_000
        w.write("staff.csv", largeStaffCSV(records))
        XCTAssertEqual(w.sync(config).summary.outcome, .applied)
        let store = try w.store()
        let db = store.database
        let tableBytes = try XCTUnwrap(try db.int("SELECT sum(pgsize) FROM dbstat WHERE name = 'staff'"))
        XCTAssertGreaterThan(tableBytes, 1 << 20, "the updates touch every page of a table of more than a megabyte")
        // Every record deactivated (no export rows needed), and every other one's missing
        // mark set: three UPDATE statements, each over the whole table.
        var plan = EntityPlan(kind: .staff, activeBefore: records, exportEmpty: false)
        plan.updates = (1...records).map { i in
            var u = RecordUpdate(key: "S\(i)", row: nil)
            if i % 2 == 0 { u.markMissing = Date(timeIntervalSince1970: 1_800_000_000) } else { u.deactivate = .absent }
            return u
        }
        try db.transaction(commit: false) {
            let before = try Self.bytesWritten()
            try store.mirror.applyEntity(plan, rows: nil, runID: 2, stamp: "2027-01-01T00:00:00Z", checkStop: {})
            let written = try Self.bytesWritten() - before
            XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE active = FALSE"), records / 2)
            XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE missing_since IS NOT NULL"), records / 2)
            // The changed pages stay in the page cache until the commit (16 MiB of it):
            // nothing but the small staging table may reach a file.
            XCTAssertLessThan(written, tableBytes / 4, "\(written) bytes written while updating a table of \(tableBytes) bytes")
        }
    }

    /// Bytes this process has handed to write calls so far.
    static func bytesWritten() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/io", encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("wchar:") })
        return try XCTUnwrap(Int(line.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)))
    }
}
