import XCTest
@testable import SISync

/// R4 mirroring and R5 guard on plain values: no files, no database.
final class PlannerTests: XCTestCase {
    private let now = Timestamp.parse("2026-09-01T06:00:00Z")!

    private func rows(_ list: [(String, [String], Bool)]) throws -> EntityRows {
        var r = EntityRows(kind: .staff, source: "staff.csv")
        for (i, (key, values, inactive)) in list.enumerated() {
            r.noteRowRead()
            try r.append(key: key, values: values.map { Array($0.utf8)[...] }, inactive: inactive, location: i + 2)
        }
        return r
    }

    private func v(_ first: String, _ email: String = "x@d.org") -> [String] { [first, "Lee", email, "Teacher", "101", ""] }

    func testR4AddUpdateDeactivateReactivate() throws {
        let stored = InMemoryEntityState(records: [
            (key: "S1", values: v("Ann"), active: true, missingSince: nil),
            (key: "S2", values: v("Bob"), active: true, missingSince: nil),
            (key: "S3", values: v("Cy"), active: false, missingSince: nil),
            (key: "S4", values: v("Di"), active: true, missingSince: nil),
        ])
        let export = try rows([("S1", v("Ann"), false), ("S2", v("Robert", "bob@d.org"), false), ("S3", v("Cy"), false),
                           ("S4", v("Di"), true), ("S5", v("Eve"), false)])
        let plan = try Planner(deactivateAfter: 0, now: now).plan(rows: export, stored: stored)
        XCTAssertEqual(plan.additions, [4])
        let byKey = Dictionary(uniqueKeysWithValues: plan.updates.map { ($0.key, $0) })
        XCTAssertEqual(byKey["S2"]?.fields.map(\.name), ["first_name", "email"])
        XCTAssertEqual(byKey["S2"]?.fields.first?.old, "Bob")
        XCTAssertEqual(byKey["S2"]?.fields.first?.new, "Robert")
        XCTAssertEqual(byKey["S3"]?.reactivate, true)
        XCTAssertEqual(byKey["S4"]?.deactivate, .statusInactive)
        XCTAssertNil(byKey["S1"], "an unchanged record has no update")
        XCTAssertEqual(plan.activeBefore, 3)
    }

    /// Issue 34: a first import adds every row, and its additions are one run of rows, not a
    /// number per row (4 bytes a row held through the whole run); a day's few are a run each.
    func testAFirstImportsAdditionsAreOneRunOfRows() throws {
        let export = try rows((0..<1000).map { ("S\(1000 + $0)", v("N\($0)"), false) })
        let first = try Planner(deactivateAfter: 0, now: now).plan(rows: export, stored: InMemoryEntityState(records: []))
        XCTAssertEqual(first.additions.count, 1000)
        XCTAssertEqual(first.additions.runCount, 1)
        XCTAssertEqual(Array(first.additions), Array(0..<1000))
        let stored = InMemoryEntityState(records: (0..<1000).filter { $0 % 100 != 7 }.map { (key: "S\(1000 + $0)", values: v("N\($0)"), active: true, missingSince: nil) })
        let day = try Planner(deactivateAfter: 0, now: now).plan(rows: export, stored: stored)
        XCTAssertEqual(Array(day.additions), (0..<10).map { Int32($0 * 100 + 7) })
        XCTAssertEqual(day.additions.runCount, 10)
    }

    func testR4AbsentRecordIsDeactivatedAndNothingIsDeleted() throws {
        let stored = InMemoryEntityState(records: [(key: "S1", values: v("Ann"), active: true, missingSince: nil),
                                                   (key: "S2", values: v("Bob"), active: false, missingSince: nil)])
        let plan = try Planner(deactivateAfter: 0, now: now).plan(rows: try rows([]), stored: stored)
        XCTAssertEqual(plan.updates.map(\.key), ["S1"])
        XCTAssertEqual(plan.updates.first?.deactivate, .absent)
    }

    func testR4DeactivateAfterMarksMissingThenDeactivates() throws {
        let planner = Planner(deactivateAfter: 48 * 3600, now: now)
        let fresh = InMemoryEntityState(records: [(key: "S1", values: v("Ann"), active: true, missingSince: nil)])
        let first = try planner.plan(rows: try rows([]), stored: fresh)
        XCTAssertEqual(first.updates.first?.markMissing, now)
        XCTAssertNil(first.updates.first?.deactivate)

        let oneDay = InMemoryEntityState(records: [(key: "S1", values: v("Ann"), active: true, missingSince: now.addingTimeInterval(-24 * 3600))])
        XCTAssertTrue(try planner.plan(rows: try rows([]), stored: oneDay).updates.isEmpty, "still within deactivate_after")

        let threeDays = InMemoryEntityState(records: [(key: "S1", values: v("Ann"), active: true, missingSince: now.addingTimeInterval(-72 * 3600))])
        XCTAssertEqual(try planner.plan(rows: try rows([]), stored: threeDays).updates.first?.deactivate, .absent)
        // The unchanged-export path reaches the same verdict (R3 + deactivate_after).
        let unchanged = try planner.planUnchanged(kinds: [.staff]) { _ in threeDays }
        XCTAssertEqual(unchanged.entities.first?.updates.first?.deactivate, .absent)

        let back = try planner.plan(rows: try rows([("S1", v("Ann"), false)]), stored: oneDay)
        XCTAssertEqual(back.updates.first?.clearMissing, true)
        XCTAssertNil(back.updates.first?.deactivate)
    }

    func testR2SkippedRowIsNeverDeactivated() throws {
        var export = try rows([("S1", v("Ann"), false)])
        try export.reportProblem(RowProblem(file: "staff.csv", location: "3", column: "email", id: "S2", message: "invalid email"), key: "S2", line: 3)
        let stored = InMemoryEntityState(records: [(key: "S1", values: v("Ann"), active: true, missingSince: nil),
                                                   (key: "S2", values: v("Bob"), active: true, missingSince: nil)])
        let plan = try Planner(deactivateAfter: 0, now: now).plan(rows: export, stored: stored)
        XCTAssertTrue(plan.updates.isEmpty)
        XCTAssertTrue(plan.additions.isEmpty)
    }

    private func guardVerdict(active: Int, removed: Int, allow: Bool = false, percent: Double = 10, count: Int = 5) throws -> GuardVerdict {
        let stored = InMemoryEntityState(records: (0..<active).map { (key: "S\($0)", values: v("N\($0)"), active: true, missingSince: nil) })
        let kept = try rows((removed..<active).map { ("S\($0)", v("N\($0)"), false) })
        let p = try Planner(deactivateAfter: 0, now: now).plan(rows: kept, stored: stored)
        var settings = GuardSettings()
        settings.deactivate = GuardLimit(percent: percent, count: count)
        return RunGuard(settings: settings).judge(Plan(entities: [p], snapshot: nil, plannedAt: now), allowMassDeactivation: allow)
    }

    func testR5GuardNeedsBothPercentAndCount() throws {
        XCTAssertEqual(try guardVerdict(active: 100, removed: 10), .allowed)          // 10%: not more than 10%
        guard case .blocked(let reason) = try guardVerdict(active: 100, removed: 11) else { return XCTFail() }
        XCTAssertTrue(reason.contains("11 of 100 active staff"), reason)
        XCTAssertEqual(try guardVerdict(active: 20, removed: 5), .allowed)            // 25% but only 5 records
        if case .blocked = try guardVerdict(active: 20, removed: 6) {} else { XCTFail("6 of 20 must block") }
    }

    func testR5EmptyStaffExportIsBlockedEvenBelowTheCount() throws {
        guard case .blocked(let reason) = try guardVerdict(active: 3, removed: 3) else { return XCTFail() }
        XCTAssertTrue(reason.contains("no rows"), reason)
    }

    func testR5OverrideAllowsOnce() throws {
        guard case .overridden = try guardVerdict(active: 100, removed: 50, allow: true) else { return XCTFail() }
    }
}
