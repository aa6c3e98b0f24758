import Synchronization
import XCTest
@testable import SISync

/// Issue 34: the stored records matched on a second thread (`StoredRecordFeed`) read from
/// the real stores (both: `make test` runs this class on PostgreSQL too), with a composite
/// key, whose parts the table's scan joins in one buffer it reuses for every record.
final class StoredRecordFeedStoreTests: XCTestCase {
    /// More relationships than the feed's batches hold at once.
    private let n = StoredRecordFeed.batchSize * (StoredRecordFeed.batches + 1) + 7
    private let t0 = Timestamp.parse("2026-09-01T06:00:00Z")!
    /// Rows skipped for an empty relationship (R2): their stored records stay as they are.
    private let skipped: Set<Int> = [12, 6002, 16004]

    private func relationships(_ included: (Int) -> Bool, relationship: (Int) -> String = { _ in "Parent" }) -> String {
        var text = "household_id,record_type,record_id,relationship\n"
        for i in 0..<n where included(i) { text += "H\(i / 2),student,ST\(i),\(relationship(i))\n" }
        return text
    }

    private func sync(_ w: Workspace, _ c: Configuration, at date: Date, dryRun: Bool = false, matchedAlongsideFrom: Int? = nil) -> SyncRun.Result {
        var options = SyncRun.Options()
        options.dryRun = dryRun
        options.allowMassDeactivation = true
        options.matchedAlongsideFrom = matchedAlongsideFrom
        return SyncRun(configuration: c, options: options, log: MemoryLog(), clock: { date }).performWithStore()
    }

    /// A mirror with inactive records (gone from the last export), then an export with
    /// additions, changed relationships, records gone, records back and skipped rows.
    private func preparedWorkspace() throws -> (Workspace, Configuration) {
        let w = Workspace()
        let c = w.configure(entities: "staff, household_relationships")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        w.write("household_relationships.csv", relationships { $0 % 10 != 9 })
        XCTAssertEqual(sync(w, c, at: t0).summary.outcome, .applied)
        w.write("household_relationships.csv", relationships { $0 % 10 != 9 && $0 % 50 != 3 })
        let second = sync(w, c, at: t0.addingTimeInterval(3600))
        XCTAssertEqual(second.summary.outcome, .applied, second.summary.error ?? "")
        XCTAssertGreaterThan(second.summary.entities["household_relationships"]?.deactivated ?? 0, 0)
        w.write("household_relationships.csv", relationships({ i in
            (i % 10 != 9 || i % 20 == 9) && i % 41 != 5 && (i % 50 != 3 || i % 100 == 3)
        }, relationship: { i in skipped.contains(i) ? "" : i % 7 == 1 ? "Guardian" : "Parent" }))
        return (w, c)
    }

    func testR4ACompositeKeyEntityPlannedOnTwoThreadsFromTheStoreIsPlannedAsOnOne() throws {
        let (w, c) = try preparedWorkspace()
        let at = t0.addingTimeInterval(7200)
        func planned(_ from: Int) throws -> EntityPlan {
            let result = sync(w, c, at: at, dryRun: true, matchedAlongsideFrom: from)
            XCTAssertEqual(result.summary.outcome, .applied, result.summary.error ?? "")
            XCTAssertTrue(result.summary.dryRun)
            return try XCTUnwrap(result.plan?.entities.first { $0.kind == .householdRelationships })
        }
        let one = try planned(.max), two = try planned(0)
        XCTAssertEqual(StoredRecordFeedTests.lines(two), StoredRecordFeedTests.lines(one))
        // The plan has every kind of change, and the skipped rows' records in none of them.
        XCTAssertEqual(one.additions.count, (0..<n).filter { $0 % 20 == 9 && $0 % 41 != 5 }.count)
        XCTAssertTrue(one.updates.contains { $0.fields.map(\.new) == ["Guardian"] })
        XCTAssertTrue(one.updates.contains { $0.reactivate })
        XCTAssertTrue(one.updates.contains { $0.deactivate == .absent })
        let skippedKeys = Set(skipped.map { RecordKey.join(["H\($0 / 2)", "student", "ST\($0)"]) })
        XCTAssertEqual(skippedKeys.count, 3)
        XCTAssertFalse(one.updates.contains { skippedKeys.contains($0.key) }, "skipped rows' records stay as they are")
    }

    /// A stop (`interrupt`) while the feed's scan reads the store: the plan's error is
    /// `StoreError.interrupted`, the matching thread (there during the scan) has exited when
    /// the error comes, and the connection plans again afterwards.
    func testAnInterruptDuringTheFeedsScanIsAStopAndEndsTheMatchingThread() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, household_relationships")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        w.write("household_relationships.csv", relationships { _ in true })
        XCTAssertEqual(sync(w, c, at: t0).summary.outcome, .applied)
        var rows = EntityRows(kind: .householdRelationships, source: "household_relationships.csv")
        for i in 0..<n {
            try rows.append(key: RecordKey.join(["H\(i / 2)", "student", "ST\(i)"]), values: [Array("Parent".utf8)[...]], inactive: false, location: i + 2)
        }
        let store = try w.store()
        let table = CountingState(try XCTUnwrap(store.mirror.state(for: .householdRelationships) as? StoredEntityTable), failAt: .max)
        let at = StoredRecordFeed.batchSize * 2 + 5
        var threadsDuringTheScan = -1
        table.atRecord = (at, {
            threadsDuringTheScan = StoredRecordFeedTests.matchingThreads()
            if w.isPostgres {
                // The scan's rows came with its statement, and a cancel sent now could land on
                // the next one: the stop is what the run's check of its stop signal throws.
                throw StoreError.interrupted
            }
            store.database.interrupt()
        })
        var planner = Planner(deactivateAfter: 0, now: t0)
        planner.matchedAlongsideFrom = 0
        XCTAssertThrowsError(try planner.plan(rows: rows, stored: table)) { XCTAssertEqual($0 as? StoreError, .interrupted, "\($0)") }
        XCTAssertEqual(threadsDuringTheScan, 1, "matched on the feed's thread")
        XCTAssertEqual(StoredRecordFeedTests.matchingThreads(), 0, "the matching thread has exited")
        XCTAssertLessThanOrEqual(table.delivered, at + 1, "the scan stopped")
        planner.matchedAlongsideFrom = .max
        let again = try planner.plan(rows: rows, stored: store.mirror.state(for: .householdRelationships))
        XCTAssertEqual(again.activeBefore, n)
        XCTAssertEqual(again.updates.count + again.additions.count, 0)
    }
}
