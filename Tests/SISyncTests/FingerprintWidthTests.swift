import Foundation
import XCTest
@testable import SISync

/// Records' fingerprints are 48 bits (schema 17; issue 34: the database's size): kept as
/// signed 48-bit numbers, which SQLite stores in 6 bytes, on both stores, and a change of a
/// record's values is still seen. Version 17 narrows the fingerprints an older sisync
/// stored to those sisync now computes for the same values.
final class FingerprintWidthTests: XCTestCase {
    private static let least: Int64 = -(1 << 47), most: Int64 = (1 << 47) - 1

    private func fingerprints(_ db: any StoreDatabase) throws -> [String] {
        var out: [String] = []
        try db.forEachRow("SELECT 'staff ' || staff_id || ' ' || CAST(fingerprint AS TEXT) FROM staff UNION ALL SELECT 'donor ' || donor_id || ' ' || CAST(fingerprint AS TEXT) FROM donors") {
            out.append($0.text(0))
        }
        return out.sorted()
    }

    private func firstImport(_ w: Workspace) -> Configuration {
        let c = w.configure(entities: "staff, donors")
        w.write("staff.csv", staffCSV(manyStaff(200)))
        w.write("donors.csv", "donor_id,name,email\n" + (1...100).map { "D\($0),Donor \($0),d\($0)@home.org\n" }.joined())
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        return c
    }

    func testEachRecordsFingerprintIsKeptIn48BitsAndAChangeIsStillSeen() throws {
        let w = Workspace()
        let c = firstImport(w)
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE fingerprint < \(Self.least) OR fingerprint > \(Self.most)"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM donors WHERE fingerprint < \(Self.least) OR fingerprint > \(Self.most)"), 0)
        XCTAssertGreaterThan(try db.int("SELECT count(*) FROM staff WHERE fingerprint < 0") ?? 0, 0, "with their sign: half of them below 0")
        // (An unchanged export is not planned again, R3: what the fingerprints are compared
        // with is checked below, after the migration, and in the 64-bit test.)
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged)
        w.write("staff.csv", staffCSV(manyStaff(200).map { $0.0 == "S7" ? ($0.0, $0.1, $0.2, "moved@district.org") : $0 }))
        let changed = w.sync(c)
        XCTAssertEqual(changed.summary.outcome, .applied)
        XCTAssertEqual(changed.summary.staff.updated, 1)
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE email = 'moved@district.org'"), 1)
    }

    /// A plan held before the upgrade carries 64-bit fingerprints: applied after it, each
    /// is stored as the fingerprint sisync now computes for the same values.
    func testAFingerprintOf64BitsIsStoredAsIts48BitOne() {
        let stored = StoredFingerprint(.staff)
        let values = ["Ana", "Núñez", "ana@district.org", "Teacher", "101", ""]
        let digest = EntityRows.digest(values: values)
        XCTAssertGreaterThanOrEqual(digest, 1 << 48, "these values' digest has bits above the 48")
        let now = EntityRows.fingerprint(values: values)
        XCTAssertLessThan(now, 1 << 48)
        XCTAssertEqual(stored.column(digest), stored.column(now))
        XCTAssertEqual(stored.fingerprint(stored.column(now)), now, "read back as computed")
        XCTAssertTrue((Self.least...Self.most).contains(stored.column(now)))
    }

    func testVersion17NarrowsStoredFingerprintsToThoseSISyncNowComputes() throws {
        let w = Workspace()
        let c = firstImport(w)
        let db = try w.rawDatabase()
        let now = try fingerprints(db)
        // As an older sisync kept them: 64 bits, here made so that their fold is the 48 bits
        // kept now (a high half h, and the low 48 bits xor h).
        let h: UInt64 = 0xBEEF
        for (table, key) in [("staff", "staff_id"), ("donors", "donor_id")] {
            var rows: [(String, Int64)] = []
            try db.forEachRow("SELECT \(unescaped: key), fingerprint FROM \(unescaped: table)") { r in
                let n = UInt64(bitPattern: r.int64(1)) & EntityRows.fingerprintMask
                rows.append((r.text(0), Int64(bitPattern: (h << 48) | (n ^ h))))
            }
            for (id, old) in rows { try db.run("UPDATE \(unescaped: table) SET fingerprint = \(old) WHERE \(unescaped: key) = \(id)") }
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE fingerprint >= \(Self.least)"), 0, "64-bit values, as before version 17")
        let step = try XCTUnwrap(Migration.all.first { $0.name == "records' fingerprints in 48 bits" })
        if w.isPostgres {
            try Workspace.rawPostgres(w).connection.executeScript(step.statements(.postgres).joined(separator: ";\n"))
        } else {
            for sql in step.statements(.sqlite) { try db.execute(sql) }
        }
        XCTAssertEqual(try fingerprints(db), now, "each the fingerprint sisync now computes for the record's values")
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged)
    }
}
