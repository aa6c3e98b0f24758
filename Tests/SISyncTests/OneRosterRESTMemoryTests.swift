import Foundation
import XCTest
@testable import SISync

/// Issue 34 for OneRoster REST: a roster's users are written to the run's private directory
/// as their pages arrive and read back for the translation, and its enrollments are judged
/// as they arrive, not kept, with the same records, problems and notices as when both were
/// held.
final class OneRosterRESTMemoryTests: XCTestCase {
    private let translation = OneRosterTranslation(schoolYear: "2026-2027", yearStart: (7, 1), today: OneRosterDay(year: 2026, month: 11, day: 23),
                                                   entities: Set(OneRosterTranslation.kinds), limit: .count(100)) { _, _ in nil }

    /// Users of every kind the translation tells apart, over three pages: staff with a
    /// secondary role at another org and a primary org, students with agents (a parent, a
    /// guardian, a teacher, an unknown id, one with a control character), deleted and
    /// disabled users, names outside ASCII, and rows skipped for a bad status, a bad
    /// `enabledUser`, no id, an empty name, a bad email, or for not being an object.
    private static let userPages: [[String]] = [
        [
            #"{"sourcedId":"t1","status":"active","enabledUser":true,"role":"teacher","givenName":"Zoë","familyName":"李","email":"ann@d.org","orgs":[{"sourcedId":"sch1"},{"sourcedId":"sch2"}],"primaryOrg":{"sourcedId":"sch2"},"roles":[{"roleType":"secondary","role":"administrator","org":{"sourcedId":"dist"}}]}"#,
            #"{"sourcedId":"s1","status":"active","enabledUser":"true","role":"student","givenName":"Sam","familyName":"Lee","grades":["05",""],"orgs":[{"sourcedId":"sch1"}],"agents":[{"sourcedId":"p1"},{"sourcedId":"g1"},{"sourcedId":"t1"},{"sourcedId":"zz"},{"sourcedId":"c\u0001"}]}"#,
            #"{"sourcedId":"s2","status":"tobedeleted","enabledUser":"false","role":"student","givenName":"Tia","familyName":"Fox","grades":["06"],"orgs":[{"sourcedId":"sch1"}],"agents":[{"sourcedId":"p1"}]}"#,
        ],
        [
            #"{"sourcedId":"p1","status":"active","enabledUser":"true","role":"parent","givenName":"Pat","familyName":"Lee","email":"pat@home.org","agents":[{"sourcedId":"s1"},{"sourcedId":"s2"},{"sourcedId":"t1"},{"sourcedId":"zz"}]}"#,
            #"{"sourcedId":"g1","status":"active","enabledUser":"true","role":"guardian","givenName":"Gus","familyName":"Fox","email":"not-an-email","agents":[{"sourcedId":"s1"}]}"#,
            #"{"sourcedId":"s3","status":"weird","enabledUser":"true","role":"student","givenName":"Uma","familyName":"Fox"}"#,
            #"{"sourcedId":"s4","status":"active","enabledUser":"maybe","role":"student","givenName":"Vic","familyName":"Fox"}"#,
            "17",
        ],
        [
            #"{"status":"active","enabledUser":"true","role":"student","givenName":"No","familyName":"Id"}"#,
            #"{"sourcedId":"s5","status":"active","enabledUser":"true","role":"student","givenName":"","familyName":"Ray","agents":[{"sourcedId":"r1"}]}"#,
            #"{"sourcedId":"r1","status":"active","enabledUser":"true","role":"relative","givenName":"Rae","familyName":"Lee","agents":[{"sourcedId":"s1"},{"sourcedId":"r1"}]}"#,
            #"{"sourcedId":"x1","status":"active","enabledUser":"true","role":"proctor","givenName":"Xi","familyName":"Po"}"#,
            #"{"sourcedId":"c\u0001","status":"active","enabledUser":"true","role":"student","givenName":"Con","familyName":"Trol","agents":[{"sourcedId":"p1"}]}"#,
            #"{"sourcedId":"s6","status":"active","enabledUser":"true","givenName":"No","familyName":"Role"}"#,
        ],
    ]

    /// Enrollments the rule tells apart: this year's, in a deleted class, deleted, and a
    /// teacher's.
    private static let enrollments = [
        #"{"sourcedId":"e1","status":"active","role":"student","user":{"sourcedId":"s1"},"class":{"sourcedId":"c27"},"school":{"sourcedId":"sch1"}}"#,
        #"{"sourcedId":"e2","status":"active","role":"student","user":{"sourcedId":"s2"},"class":{"sourcedId":"cgone"},"school":{"sourcedId":"sch1"}}"#,
        #"{"sourcedId":"e3","status":"tobedeleted","role":"student","user":{"sourcedId":"s5"},"class":{"sourcedId":"c27"}}"#,
        #"{"sourcedId":"e4","status":"active","role":"teacher","user":{"sourcedId":"t1"},"class":{"sourcedId":"c27"}}"#,
    ]

    private func page(_ collection: String, _ items: [String]) -> Data {
        Data("{\"\(collection)\": [\(items.joined(separator: ","))]}".utf8)
    }

    /// The roster as the fetcher reads it page by page, users and enrollments held or not.
    private func roster(spill: RunDirectory?, users: [[String]] = userPages) throws -> OneRosterRoster {
        var roster = OneRosterRoster(version: .v1_1, modes: Dictionary(uniqueKeysWithValues: OneRosterAPIPage.collections.map { ($0, .bulk) }))
        if let spill {
            roster.userSpill = OneRosterUserSpill(file: try spill.create("users.spill"))
            roster.enrollmentRule = translation.enrollmentRule
        }
        let url = "http://127.0.0.1/ims/oneroster/v1p1"
        try OneRosterAPIPage.read(page("orgs", [#"{"sourcedId":"dist","type":"district"}"#, #"{"sourcedId":"sch1","type":"school"}"#, #"{"sourcedId":"sch2","type":"school"}"#]),
                                  collection: .orgs, url: url + "/orgs", firstIndex: 0, into: &roster)
        try OneRosterAPIPage.read(page("academicSessions", [#"{"sourcedId":"y27","status":"active","type":"term","schoolYear":2027,"startDate":"2026-08-20","endDate":"2027-01-15"}"#]),
                                  collection: .academicSessions, url: url + "/academicSessions", firstIndex: 0, into: &roster)
        try OneRosterAPIPage.read(page("classes", [#"{"sourcedId":"c27","status":"active","terms":[{"sourcedId":"y27"}],"school":{"sourcedId":"sch1"}}"#,
                                                   #"{"sourcedId":"cgone","status":"tobedeleted","terms":[{"sourcedId":"y27"}],"school":{"sourcedId":"sch1"}}"#]),
                                  collection: .classes, url: url + "/classes", firstIndex: 0, into: &roster)
        var index = 0
        for items in users {
            index += try OneRosterAPIPage.read(page("users", items), collection: .users, url: url + "/users?offset=\(index)", firstIndex: index, into: &roster)
        }
        try roster.refuseDuplicateUsers()
        try OneRosterAPIPage.read(page("enrollments", Self.enrollments), collection: .enrollments, url: url + "/enrollments", firstIndex: 0, into: &roster)
        return roster
    }

    /// Users written to the run's directory and enrollments judged as they arrive give what
    /// users and enrollments held give: records, problems, protected ids and notices.
    func testUsersSpilledAndEnrollmentsJudgedGiveWhatHeldOnesGive() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        let held = try roster(spill: nil)
        let spilled = try roster(spill: directory)
        XCTAssertEqual(held.users.count, 10, "14 items, 4 skipped: a bad status, a bad enabledUser, no id, not an object")
        XCTAssertEqual(spilled.users.count, 0, "not held")
        XCTAssertEqual(spilled.userSpill?.count, 10)
        XCTAssertEqual(spilled.userCount, 10)
        XCTAssertEqual(held.enrollments.count, 4)
        XCTAssertEqual(spilled.enrollments.count, 0, "judged as they arrive, not kept")
        XCTAssertEqual(try spilled.judgedEnrollments.enrolledStudents(), ["s1"])
        XCTAssertEqual(spilled.problems.map(\.location), held.problems.map(\.location))
        let expected = OneRosterMemoryTests.outcome(translation, held)
        XCTAssertFalse(expected.hasPrefix("error"), expected)
        XCTAssertEqual(OneRosterMemoryTests.outcome(translation, spilled), expected)
        for shown in ["students s1", "Enrolled", "household_relationships p1\u{1F}student\u{1F}s1", "p1 → t1", "not-an-email", "users[5]", "weird",
                      "the id holds a control character"] {
            XCTAssertTrue(expected.contains(shown), "\(shown) in\n\(expected)")
        }
        // A student whose id holds a control character (R2) names no one: its relationship's
        // key would be split at the unit separator.
        XCTAssertFalse(expected.contains("student\u{1F}c\u{1}"), expected)
        // A second pass reads the same users again.
        XCTAssertEqual(OneRosterMemoryTests.outcome(translation, spilled), expected)
    }

    /// A user given twice is refused with the place of its first, spilled or held.
    func testAUserGivenTwiceIsRefusedWithItsFirstPlace() throws {
        let w = Workspace()
        let pages = Self.userPages + [[#"{"sourcedId":"p1","status":"active","enabledUser":"true","role":"parent","givenName":"Pat","familyName":"Two"}"#]]
        for directory in [nil, try RunDirectory(in: w.root)] {
            XCTAssertThrowsError(try roster(spill: directory, users: pages)) { e in
                XCTAssertTrue("\(e)".contains("users[3].sourcedId"), "\(e)")
                XCTAssertTrue("\(e)".contains("users[14].sourcedId"), "\(e)")
            }
        }
    }

    /// Whoever reads the users' pages refuses a duplicate with `refuseDuplicateUsers`, once.
    func testThePageReaderLeavesTheDuplicateToRefuseDuplicateUsers() throws {
        var roster = OneRosterRoster(version: .v1_1, modes: [.users: .bulk])
        let page = Data(#"{"users": [{"sourcedId":"x","role":"teacher","givenName":"A","familyName":"B"}, {"sourcedId":"x","role":"teacher","givenName":"C","familyName":"D"}]}"#.utf8)
        XCTAssertEqual(try OneRosterAPIPage.read(page, collection: .users, url: "https://sis.example/users", firstIndex: 0, into: &roster), 2)
        XCTAssertThrowsError(try roster.refuseDuplicateUsers()) { e in
            XCTAssertEqual(e as? ExportError, .duplicateJSONID(file: "https://sis.example/users", path: "users[1].sourcedId", id: "x", firstPath: "users[0].sourcedId", columns: ["sourcedId"]))
        }
        XCTAssertNoThrow(try roster.refuseDuplicateUsers(), "checked once")
    }

    /// Every field of a user comes back as it was written, in order.
    func testSpilledUsersComeBackFieldForField() throws {
        let w = Workspace()
        let spill = OneRosterUserSpill(file: try RunDirectory(in: w.root).create("users.spill"))
        var users: [OneRosterRoster.User] = []
        for i in 0..<3000 {
            var u = OneRosterRoster.User(id: i == 7 ? "" : "u\(i)\u{0}é")
            u.deleted = i % 2 == 0
            u.enabled = i % 3 == 0
            u.line = i == 9 ? Int(Int32.max) + 5 : i
            u.roles = i % 5 == 0 ? [] : [OneRosterRoster.Role(name: "teacher", primary: i % 4 != 0, org: i % 3 == 0 ? nil : "org\(i)"),
                                         OneRosterRoster.Role(name: "", primary: false, org: "")]
            u.orgs = (0..<(i % 4)).map { "o\($0)" }
            u.givenName = String(repeating: "名", count: i % 50)
            u.familyName = i == 11 ? String(repeating: "x", count: 3 << 20) : "F\(i)"
            u.email = i % 6 == 0 ? "" : "u\(i)@d.org"
            u.agents = (0..<(i % 3)).map { "a\($0),\(i)" }
            u.grades = i % 7 == 0 ? [""] : ["0\(i % 9)"]
            users.append(u)
            try spill.append(u)
        }
        for _ in 0..<2 {
            var back: [OneRosterRoster.User] = []
            try spill.forEach { back.append($0) }
            XCTAssertEqual(back.count, users.count)
            XCTAssertTrue(back == users, "every user comes back equal, field for field")
        }
    }

    /// The spill writes these fields of a user and no others: a field added to
    /// `OneRosterRoster.User` fails this test until the spill writes and reads it too (and
    /// the list here names it), so that no field is silently lost on the way.
    func testTheSpillWritesEveryFieldOfAUser() {
        let fields = Mirror(reflecting: OneRosterRoster.User(id: "x")).children.map { $0.label ?? "?" }
        XCTAssertEqual(fields, ["id", "deleted", "enabled", "roles", "orgs", "givenName", "familyName", "email", "agents", "grades", "line"])
        XCTAssertEqual(Mirror(reflecting: OneRosterRoster.Role(name: "x")).children.map { $0.label ?? "?" }, ["name", "primary", "org"])
    }

    /// Passes may run one inside another (none waits for the other), and a user added after
    /// a pass is read by the next.
    func testAPassInsideAPassAndAUserAddedAfterAreRead() throws {
        let w = Workspace()
        let spill = OneRosterUserSpill(file: try RunDirectory(in: w.root).create("users.spill"))
        for i in 0..<3 { try spill.append(OneRosterRoster.User(id: "u\(i)")) }
        let done = DispatchSemaphore(value: 0)
        let pairs = Counter()
        Thread {
            try? spill.forEach { _ in try? spill.forEach { _ in _ = pairs.next("pair") } }
            done.signal()
        }.start()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "a pass inside a pass never finished")
        XCTAssertEqual(pairs.count("pair"), 9)
        try spill.append(OneRosterRoster.User(id: "late"))
        var ids: [String] = []
        try spill.forEach { ids.append($0.id) }
        XCTAssertEqual(ids, ["u0", "u1", "u2", "late"])
        XCTAssertEqual(spill.count, 4)
    }

    /// A spill file cut short or damaged under the run fails the read with the file's name,
    /// never a crash or users made of the wrong bytes.
    func testASpillCutShortOrDamagedFailsTheRead() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        for damage in ["short", "length", "record", "zero"] {
            let file = try directory.create("users.spill")
            let spill = OneRosterUserSpill(file: file)
            for i in 0..<10 {
                var u = OneRosterRoster.User(id: "u\(i)")
                u.givenName = "Given \(i)"
                try spill.append(u)
            }
            var seen = 0
            try spill.forEach { _ in seen += 1 }
            XCTAssertEqual(seen, 10)
            func put(_ n: UInt32, at offset: off_t) {
                var n = n.littleEndian
                XCTAssertEqual(withUnsafeBytes(of: &n) { pwrite(file.descriptor, $0.baseAddress, 4, offset) }, 4)
            }
            switch damage {
            case "short": XCTAssertEqual(ftruncate(file.descriptor, 100), 0)
            // The first user's id (its length at byte 17) claims more than its record.
            case "length": put(1000, at: 17)
            // The first record claims nearly 4 GiB: refused before a buffer that size is made.
            case "record": put(0xFFFF_FFF0, at: 0)
            // A record of no length would never move on.
            default: put(0, at: 0)
            }
            XCTAssertThrowsError(try spill.forEach { _ in }, damage) { e in
                guard case RunDirectoryError.cannotReadFile(let path, let reason)? = e as? RunDirectoryError else { return XCTFail("\(damage): \(e)") }
                XCTAssertEqual(path, file.shownAs)
                if damage == "record" || damage == "zero" { XCTAssertTrue(reason.contains("does not fit in the file"), reason) }
            }
        }
    }

    /// A run's fetcher (`SyncRun.fetcher`), over real HTTP, writes the users to the run's
    /// directory and judges the enrollments; one that is not asked to holds both.
    func testTheFetcherSpillsUsersAndJudgesEnrollmentsOverHTTP() throws {
        let server = try OneRosterRESTTests.server(.totalCount)
        let w = Workspace()
        let configuration = OneRosterRESTTests.configure(w, server)
        for spills in [true, false] {
            let directory = try RunDirectory(in: w.root)
            // A run's fetcher, or one made by hand.
            let fetcher = spills ? SyncRun.fetcher(configuration: configuration, directory: directory, stop: nil, log: nil, oneRoster: translation)
                : ExportFetcher(configuration: configuration, directory: directory)
            if spills { XCTAssertEqual(fetcher.translationBasis, "school_year 2026-2027 day \(translation.today)", "what the translation depends on goes into the digest (R3)") }
            let roster = try XCTUnwrap(try fetcher.fetch().roster)
            XCTAssertNil(roster.userIDs, "the users' ids are let go once their pages are read")
            XCTAssertEqual(roster.userCount, 5)
            XCTAssertEqual(roster.users.count, spills ? 0 : 5)
            XCTAssertEqual(roster.userSpill?.count, spills ? 5 : nil)
            XCTAssertEqual(roster.enrollments.count, spills ? 0 : 1)
            XCTAssertEqual(try roster.judgedEnrollments.enrolledStudents(), spills ? ["s1"] : [])
            XCTAssertEqual(try translation.translate(roster).rows[.students]?.count, 1)
            directory.remove()
        }
    }
}
