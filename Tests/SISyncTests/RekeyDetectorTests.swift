import XCTest
@testable import SISync

/// Issue 33's evidence rules (docs/rekey.md), on the pure detector: a plan planned from
/// rows and an in-memory stored state, the proposal out.
final class RekeyDetectorTests: XCTestCase {
    typealias Record = (id: String, values: [String])

    /// Plans `after` against `before` (all active) and asks the detector.
    private func propose(_ kind: EntityKind, before: [Record], after: [Record], minShare: Double = 50,
                         aliases: [String: String] = [:], requested: [RekeyRequest] = []) throws -> RekeyProposal {
        var rows = EntityRows(kind: kind, source: kind.fileName)
        for (i, r) in after.enumerated() { try rows.append(key: r.id, values: r.values.map { Array($0.utf8)[...] }, inactive: false, location: i + 1) }
        let state = InMemoryEntityState(records: before.map { ($0.id, $0.values, true, nil) })
        let entity = try Planner(deactivateAfter: 0, now: Date()).plan(rows: rows, stored: state)
        let plan = Plan(entities: [entity], snapshot: ExportSnapshot(entities: [kind: rows], contentHash: "x"), plannedAt: Date())
        return try RekeyDetector(minShare: minShare, normalizer: EmailNormalizer(aliases: aliases)).propose(
            plan, stored: { _ in state }, schoolShares: { k, leaving in
                var active: [String: Int] = [:], gone: [String: Int] = [:]
                let column = k == .staff ? 4 : 3
                for r in before { active[r.values[column], default: 0] += 1; if leaving.contains(r.id) { gone[r.values[column], default: 0] += 1 } }
                return active.keys.map { SchoolShare(kind: k, school: $0, active: active[$0]!, deactivated: gone[$0] ?? 0) }
            }, requested: requested)
    }

    private func staff(_ id: String, _ first: String, _ last: String, _ email: String, school: String = "101") -> Record {
        (id, [first, last, email, "Teacher", school, ""])
    }

    private func student(_ id: String, _ first: String, _ last: String, _ email: String, school: String = "101", grade: String = "5") -> Record {
        (id, [first, last, email, school, grade, "Enrolled", "2026-2027"])
    }

    private func pairs(_ p: RekeyProposal) -> [String] { p.pairs.map { "\($0.old)>\($0.new)" }.sorted() }

    func testStaffPairOnTheSameEmailKeyAndNameAcrossCaseAccentsSpacesAndAliases() throws {
        let p = try propose(.staff, before: [staff("S1", "José", "Díaz", "jdiaz@staff.district.org"), staff("S2", "Ann", "Lee", "ann@district.org")],
                            after: [staff("N1", "jose", " DIAZ ", "JDiaz@district.org"), staff("N2", "Ann", "Leigh", "ann@district.org")],
                            aliases: ["staff.district.org": "district.org"])
        XCTAssertEqual(pairs(p), ["S1>N1"], "Ann's name changed: an email alone is not evidence for staff")
        XCTAssertEqual(p.pairs.first?.nameOnly, false)
        XCTAssertEqual(p.pairs.first?.fields.map(\.name), ["first_name", "last_name", "email"], "the new row's values are written")
    }

    func testBelowTheShareNothingIsSearched() throws {
        let before = (1...10).map { staff("S\($0)", "F\($0)", "L\($0)", "u\($0)@d.org") }
        var after = Array(before.dropFirst(4))
        after += (1...4).map { staff("N\($0)", "F\($0)", "L\($0)", "u\($0)@d.org") }
        XCTAssertEqual(try propose(.staff, before: before, after: after).pairs.count, 0, "4 of 10 is turnover")
        XCTAssertEqual(try propose(.staff, before: before, after: after, minShare: 40).pairs.count, 4)
    }

    func testOneSchoolRenumberedReachesTheShareOnItsOwn() throws {
        let before = (1...10).map { staff("S\($0)", "F\($0)", "L\($0)", "u\($0)@d.org", school: $0 <= 2 ? "102" : "101") }
        let after = Array(before.dropFirst(2)) + (1...2).map { staff("N\($0)", "F\($0)", "L\($0)", "u\($0)@d.org", school: "102") }
        XCTAssertEqual(pairs(try propose(.staff, before: before, after: after)), ["S1>N1", "S2>N2"], "school 102: 2 of 2")
    }

    func testAPairMustBeUniqueOnBothSides() throws {
        let before = [staff("S1", "Jo", "Park", "jo@d.org"), staff("S2", "Jo", "Park", "jo@d.org")]
        let p = try propose(.staff, before: before, after: [staff("N1", "Jo", "Park", "jo@d.org")])
        XCTAssertEqual(p.pairs.count, 0)
        XCTAssertEqual(p.ambiguous, [AmbiguousRekey(entity: .staff, old: ["S1", "S2"], new: ["N1"], evidence: "same email and name jo@d.org, jo park")])
    }

    func testStudentsPairOnEmailElseOnNameSchoolAndGradeUnique() throws {
        let before = [student("A", "Kim", "Lima", "kim@s.org"), student("B", "Lee", "Ray", ""), student("C", "Sam", "Fox", "sam@s.org"),
                      student("D", "Max", "Roe", ""), student("E", "Max", "Roe", "", school: "102")]
        let after = [student("NA", "Kimberly", "Lima", "kim@s.org"), student("NB", "Lee", "Ray", "lee@s.org"), student("NC", "Sam", "Fox", "sam.fox@s.org"),
                     student("ND", "Max", "Roe", "", grade: "6"), student("NE", "Max", "Roe", "", school: "102")]
        let p = try propose(.students, before: before, after: after)
        XCTAssertEqual(pairs(p), ["A>NA", "B>NB", "E>NE"], "C: two different emails; D: another grade")
        XCTAssertEqual(p.pairs.filter(\.nameOnly).map(\.old).sorted(), ["B", "E"])
    }

    func testTwoNamesakesInOneGradeAreAmbiguous() throws {
        let before = [student("A", "Max", "Roe", ""), student("B", "Max", "Roe", "")]
        let p = try propose(.students, before: before, after: [student("N", "Max", "Roe", "")])
        XCTAssertEqual(p.pairs.count, 0)
        XCTAssertEqual(p.ambiguous.first?.old, ["A", "B"])
    }

    func testAnAdministratorsPairNeedsNoShareAndNoEvidence() throws {
        let before = (1...10).map { staff("S\($0)", "F\($0)", "L\($0)", "u\($0)@d.org") }
        let after = Array(before.dropFirst()) + [staff("N1", "Other", "Name", "other@d.org")]
        let p = try propose(.staff, before: before, after: after, requested: [RekeyRequest(entity: .staff, old: "S1", new: "N1", by: "alice")])
        XCTAssertEqual(pairs(p), ["S1>N1"])
        XCTAssertTrue(p.pairs[0].evidence.contains("paired by alice"))
    }
}
