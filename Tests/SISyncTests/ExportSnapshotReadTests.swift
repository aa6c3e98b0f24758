import Foundation
import XCTest
@testable import SISync

/// How the CSV files of an export reach the planner (`ExportSnapshot.read`'s `ready`).
final class ExportSnapshotReadTests: XCTestCase {
    /// Issue 34: an entity is planned as soon as its file is read, whichever file that is.
    /// In entity order, staff (first) waited for the larger files read before it, and a
    /// day on which every file changed planned almost nothing while the files were read.
    /// Here the staff file is large and the donors' file has one row: the donors come first.
    func testEachEntityIsReadyAsSoonAsItsFileIsRead() throws {
        let dir = try folder()
        var staff = "staff_id,first_name,last_name,email,title,school_ids,status\n"
        for i in 0..<60_000 { staff += "S\(i),Ann,Lee,s\(i)@example.org,Teacher,100,active\n" }
        let export = try self.export(dir, [.staff: staff, .donors: "donor_id,name,email\nD1,\"Lee, Trust\",d1@example.org\n"])
        var order: [EntityKind] = []
        let snapshot = try ExportSnapshot.read(export, limit: InvalidRowLimit(parsing: "1%")!, entities: [.staff, .donors]) { rows in
            order.append(rows.kind)
        }
        XCTAssertEqual(order, [.donors, .staff], "the small file's rows are planned while the large one is read")
        XCTAssertEqual(snapshot.entities[.staff]?.count, 60_000)
        XCTAssertEqual(snapshot.entities[.donors]?.count, 1)
    }

    /// Whichever file is read first, the error is the first failing file's in entity order
    /// (the message does not depend on thread timing). Here the donors' file fails at once
    /// (no key column) and the staff file only at its end (too many rows without an id).
    func testTheFirstFailureInEntityOrderIsReported() throws {
        let dir = try folder()
        var staff = "staff_id,first_name,last_name,email,title,school_ids,status\n"
        for i in 0..<20_000 { staff += "S\(i),Ann,Lee,s\(i)@example.org,Teacher,100,active\n" }
        for i in 0..<2_000 { staff += ",Ann,Lee,n\(i)@example.org,Teacher,100,active\n" }
        let export = try self.export(dir, [.staff: staff, .donors: "name,email\nLee,d1@example.org\n"])
        XCTAssertThrowsError(try ExportSnapshot.read(export, limit: InvalidRowLimit(parsing: "1%")!, entities: [.staff, .donors]) { _ in }) { error in
            XCTAssertTrue("\(error)".contains("staff.csv"), "\(error)")
            XCTAssertFalse("\(error)".contains("donors.csv"), "\(error)")
        }
    }

    private func folder() throws -> String {
        let dir = NSTemporaryDirectory() + "snapshot-read-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    private func export(_ dir: String, _ files: [EntityKind: String]) throws -> FetchedExport {
        let fetched = try files.sorted { $0.key < $1.key }.map { kind, text in
            let path = "\(dir)/\(kind.rawValue).csv"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return FetchedFile(entity: kind, name: path, path: path, isTemporary: false, sha256: "", bytes: Int64(text.utf8.count))
        }
        return FetchedExport(format: .csv, files: fetched, contentHash: "")
    }
}
