import Foundation
import XCTest
@testable import SISync

/// Issue 34: a OneRoster translation finds its household relationships on disk
/// (`OneRosterRelationships`: sorted runs of users and of the agents they name, read side by
/// side), not through a table of every user. What it finds must be what the table found:
/// the same relationships (each pair once, the first naming giving its line and activity)
/// and the same notices, with the same examples in the same order (R2: skipped users are
/// neither related nor related to).
final class OneRosterRelationshipsTests: XCTestCase {
    /// One user as the translation gives it: its brief, and the agents it names as a student
    /// or as a guardian (nil: it names none as such).
    private struct Given {
        var id: String
        var isStudent: Bool
        var deleted: Bool
        var relationship: String?
        var line: Int
        var studentAgents: [String]?
        var guardianAgents: [String]?
    }

    private struct Found: Equatable {
        var rows: [String]
        var notices: [String]
    }

    /// The table's way, as the translation related before: every brief by id (the last
    /// given), each guardian's agents in the users' order, then each student's, each pair
    /// once.
    private func byTable(_ users: [Given], protected: Set<String>, delta: Bool, stored: [String: Bool]) -> Found {
        var briefs: [[UInt8]: Given] = [:]
        for u in users { briefs[Array(u.id.utf8)] = u }
        func brief(_ id: String) -> Given? { briefs[Array(id.utf8)] }
        let protectedBytes = Set(protected.map { Array($0.utf8) })
        func isProtected(_ id: String) -> Bool { protectedBytes.contains(Array(id.utf8)) }
        var notices = OneRosterNotices()
        var seen: Set<[UInt8]> = []
        var rows: [(key: [UInt8], text: String)] = []
        func relate(parent: String, student: String, relationship: String, inactive: Bool, line: Int) {
            let key = RecordKey.join([parent, "student", student])
            guard seen.insert(Array(key.utf8)).inserted else { return }
            rows.append((Array(key.utf8), "\(key.debugDescription) \(relationship) \(inactive) \(line)"))
        }
        for g in users where !isProtected(g.id) {
            guard let agents = g.guardianAgents, let relationship = g.relationship else { continue }
            for agent in agents {
                if agent.utf8.contains(where: RowRules.isControl) {
                    notices.add("agentSourcedIds holding a control character", g.id)
                } else if let s = brief(agent) {
                    if s.isStudent {
                        if !isProtected(agent) { relate(parent: g.id, student: agent, relationship: relationship, inactive: g.deleted || s.deleted, line: g.line) }
                    } else if s.relationship == nil {
                        notices.add("agentSourcedIds of a parent naming someone who is not a student", "\(g.id) → \(agent)")
                    }
                } else if delta, let active = stored[agent] {
                    relate(parent: g.id, student: agent, relationship: relationship, inactive: g.deleted || !active, line: g.line)
                } else {
                    notices.add("agentSourcedIds naming an unknown user", "\(g.id) → \(agent)")
                }
            }
        }
        for s in users where !isProtected(s.id) {
            guard let agents = s.studentAgents else { continue }
            for agent in agents {
                if let p = brief(agent), let relationship = p.relationship {
                    if !isProtected(agent) { relate(parent: agent, student: s.id, relationship: relationship, inactive: p.deleted || s.deleted, line: p.line) }
                } else if brief(agent) != nil {
                    notices.add("agentSourcedIds of a student naming someone who is not a parent, guardian or relative", "\(s.id) → \(agent)")
                } else if !delta {
                    notices.add("agentSourcedIds naming an unknown user", "\(s.id) → \(agent)")
                }
            }
        }
        rows.sort { a, b in a.key.withUnsafeBufferPointer { x in b.key.withUnsafeBufferPointer { y in KeyOrder.compare(x, y) < 0 } } }
        return Found(rows: rows.map(\.text), notices: notices.lines)
    }

    private func onDisk(_ users: [Given], protected: Set<String>, delta: Bool, stored: [String: Bool],
                        directory: RunDirectory?, budget: Int) throws -> (found: Found, runs: Int) {
        var relationships = OneRosterRelationships(directory: directory, budget: budget)
        for u in users {
            if let agents = u.studentAgents { relationships.addStudent(u.id, deleted: u.deleted, line: u.line, agents: agents) }
            if let agents = u.guardianAgents, let r = u.relationship {
                relationships.addGuardian(u.id, relationship: r, deleted: u.deleted, line: u.line, agents: agents)
            }
            relationships.addUser(u.id, isStudent: u.isStudent, deleted: u.deleted, relationship: u.relationship, line: u.line)
        }
        let runs = relationships.spilledRuns
        var set = OneRosterIDSet()
        for p in protected { set.insert(p) }
        var rows = EntityRows(kind: .householdRelationships, source: "users.csv", spill: directory)
        var notices = OneRosterNotices()
        try relationships.relate(protected: set, delta: delta, storedStudent: { stored[$0] }, into: &rows, notices: &notices)
        let lines = (0..<rows.count).map { i in
            "\(rows.key(i).debugDescription) \(rows.value(i, 0)) \(rows.isInactive(i)) \(rows.withRow(i) { $0.line })"
        }
        return (Found(rows: lines, notices: notices.lines), runs)
    }

    /// A roster drawn at random from a small pool of ids, so that agents name students,
    /// guardians, other users, unknown ids, themselves, one id twice, and both spellings of
    /// an accented id (two users, compared by their bytes).
    private func randomUsers(_ g: inout Mutator, count: Int) -> [Given] {
        let pool = (0..<count + count / 3).map { "u\($0)" } + ["\u{E9}1", "e\u{301}1", "x\u{1}y"]
        var users: [Given] = []
        for (i, id) in pool.shuffled(using: &g).prefix(count).enumerated() {
            func agents() -> [String] { (0..<Int.random(in: 0...3, using: &g)).map { _ in pool.randomElement(using: &g)! } }
            var u = Given(id: id, isStudent: false, deleted: Bool.random(using: &g) && Bool.random(using: &g), relationship: nil, line: i + 2)
            switch Int.random(in: 0..<10, using: &g) {
            case 0..<4:
                u.isStudent = true
                u.studentAgents = agents()
            case 4..<8:
                u.relationship = ["Parent", "Guardian", "Relative"].randomElement(using: &g)!
                u.guardianAgents = agents()
            case 8:
                u.isStudent = true
                u.relationship = "Parent"
                u.studentAgents = agents()
                u.guardianAgents = agents()
            default:
                break  // a teacher, or a user with no role sisync maps
            }
            users.append(u)
        }
        return users
    }

    func testRelationshipsFoundOnDiskAreTheTablesR2() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        var g = Mutator(seed: 34)
        var spilled = 0
        for round in 0..<150 {
            let users = randomUsers(&g, count: round % 10 == 0 ? 400 : 30)
            let protected = Set(users.filter { _ in Int.random(in: 0..<12, using: &g) == 0 }.map(\.id))
            let delta = round % 3 == 0
            var stored: [String: Bool] = [:]
            for i in 0..<20 where Bool.random(using: &g) { stored["u\(i + 30)"] = Bool.random(using: &g) }
            let expected = byTable(users, protected: protected, delta: delta, stored: stored)
            let inMemory = try onDisk(users, protected: protected, delta: delta, stored: stored, directory: nil, budget: RowSorter.defaultBudget)
            XCTAssertEqual(inMemory.found, expected, "round \(round), in memory")
            let small = try onDisk(users, protected: protected, delta: delta, stored: stored, directory: directory, budget: 512)
            XCTAssertEqual(small.found, expected, "round \(round), through sorted runs")
            spilled += small.runs
        }
        XCTAssertGreaterThan(spilled, 150, "the small buffers sorted through runs in the run's directory")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "nothing is left behind")
    }

    /// Relating reads the sorted runs through once and gives their files back: none of them
    /// is open once `relate` returns, though the relationships value still exists (a copy
    /// related while the original lived kept all of its runs open and on disk).
    func testRelatingGivesTheRunsBack() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        var relationships = OneRosterRelationships(directory: directory, budget: 4096)
        for i in 0..<3000 {
            relationships.addStudent("s\(i)", deleted: false, line: i, agents: ["g\(i % 97)"])
            relationships.addUser("s\(i)", isStudent: true, deleted: false, relationship: nil, line: i)
        }
        XCTAssertGreaterThan(relationships.spilledRuns, 10)
        let labels = ["oneroster-users", "oneroster-agents", "oneroster-relationships"]
        XCTAssertGreaterThan(OneRosterMemoryTests.openFiles(in: directory, named: labels).count, 10)
        var rows = EntityRows(kind: .householdRelationships, source: "users.csv", spill: directory)
        var notices = OneRosterNotices()
        try relationships.relate(protected: OneRosterIDSet(), delta: false, storedStudent: { _ in nil }, into: &rows, notices: &notices)
        XCTAssertEqual(OneRosterMemoryTests.openFiles(in: directory, named: labels), [])
        XCTAssertEqual(notices.lines, ["3000 × agentSourcedIds naming an unknown user (e.g. s0 → g0, s1 → g1, s2 → g2)"])
    }

    /// A row too large for a sorted record (its length is 32 bits: a OneRoster file of
    /// gigabytes whose bytes are not UTF-8 can make one) is refused with the file's name
    /// once the rows are read, never cut short or stopping the process.
    func testARowTooLargeToSortIsRefused() throws {
        var students = OneRosterStudents(directory: nil, valueCount: 2, source: "users.csv")
        students.limitRecords(to: 200)
        var u = OneRosterRoster.User(id: "s1")
        students.add(u, values: ["Ann", "Lee"])
        u.id = "s2"
        students.add(u, values: [String(repeating: "x", count: 300), "Lee"])
        XCTAssertThrowsError(try students.forEach(beside: SortedRows.empty(valueCount: 1)) { _, _, _, _, _ in }) { e in
            XCTAssertEqual(e as? ExportError, .tooLargeToHold(file: "users.csv", what: "bytes in one row", limit: 200))
        }
    }

    /// A pair named from both sides is one relationship, with the line and activity of the
    /// guardian's naming (the first, in the table's order), even when the student's naming
    /// is read first.
    func testAPairNamedFromBothSidesIsOneRelationship() throws {
        let users = [
            Given(id: "s1", isStudent: true, deleted: true, relationship: nil, line: 2, studentAgents: ["g1"], guardianAgents: nil),
            Given(id: "g1", isStudent: false, deleted: false, relationship: "Guardian", line: 3, studentAgents: nil, guardianAgents: ["s1", "s1"]),
        ]
        let found = try onDisk(users, protected: [], delta: false, stored: [:], directory: nil, budget: 512).found
        XCTAssertEqual(found.rows, ["\"g1\\u{1F}student\\u{1F}s1\" Guardian true 3"])
        XCTAssertEqual(found.notices, [])
    }

    /// The notices keep the table's order: a guardian's unknown agent before a student's,
    /// though the sorted agents meet the student's first, and the first three examples.
    func testNoticesKeepTheOrderTheTableGaveThem() throws {
        let users = [
            Given(id: "s1", isStudent: true, deleted: false, relationship: nil, line: 2, studentAgents: ["a0", "t1"], guardianAgents: nil),
            Given(id: "g1", isStudent: false, deleted: false, relationship: "Parent", line: 3, studentAgents: nil, guardianAgents: ["z9", "z8", "z7", "z6"]),
            Given(id: "t1", isStudent: false, deleted: false, relationship: nil, line: 4, studentAgents: nil, guardianAgents: nil),
        ]
        let found = try onDisk(users, protected: [], delta: false, stored: [:], directory: nil, budget: 512).found
        XCTAssertEqual(found.notices, [
            "5 × agentSourcedIds naming an unknown user (e.g. g1 → z9, g1 → z8, g1 → z7)",
            "1 × agentSourcedIds of a student naming someone who is not a parent, guardian or relative (s1 → t1)",
        ])
    }
}
