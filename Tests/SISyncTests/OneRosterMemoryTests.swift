import Foundation
import XCTest
@testable import SISync

/// Issue 34 for OneRoster: a bundle's enrollments are judged as they are read, not kept, and
/// the translated records are sorted on disk in the run's private directory, as a native
/// export's are, with the same records as before.
final class OneRosterMemoryTests: XCTestCase {
    private let today = OneRosterDay(year: 2026, month: 11, day: 23)

    private func translation(today: OneRosterDay? = nil) -> OneRosterTranslation {
        OneRosterTranslation(schoolYear: "2026-2027", yearStart: (7, 1), today: today ?? self.today,
                             entities: Set(OneRosterTranslation.kinds), limit: .count(100)) { _, _ in nil }
    }

    /// Every case of the enrollment rule, each a student of its own: in this year's session;
    /// only last year's; deleted; ended before today; in a deleted class; in a class whose
    /// term is no session of the (bulk) export; with no term, dated in and out of the year;
    /// with no school (the class's); first with no school at all, then with one; and a
    /// teacher's enrollment, which mentions nobody.
    private static let enrollments = """
        sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
        e1,active,,c27,sch1,s1,student,false,2026-08-20,
        e2,active,,c26,sch1,s2,student,false,,
        e3,tobedeleted,,c27,sch1,s3,student,false,,
        e4,active,,c27,sch1,s4,student,false,2026-08-20,2026-10-01
        e5,active,,cgone,sch1,s5,student,false,,
        e6,active,,cnoterm,sch1,s6,student,false,,
        e7,active,,cdates,sch2,s7,student,false,2026-09-01,2027-06-01
        e8,active,,cdates,sch2,s8,student,false,2025-09-01,2026-06-01
        e9,active,,c27,,s9,student,false,,
        e10,active,,cnone,,s10,,false,,
        e11,active,,c27,sch2,s10,student,false,,
        e12,active,,c27,sch1,t1,teacher,true,,
        e13,active,,c27,sch1,s11,Student,false,,

        """

    private func writeBundle(_ w: Workspace) {
        var users = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        users += "t1,active,,true,sch1,teacher,t1,,Ann,Lee,,,ann@d.org,,,,,\n"
        for i in 1...11 { users += "s\(i),active,,true,sch1,student,s\(i),,Stu,Dent,,,,,,,05,\n" }
        OneRosterTests.writeBundle11(w, users: users, enrollments: Self.enrollments)
        w.write("bundle/classes.csv", """
            sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods
            c27,active,,Math 5,05,crs,M5,scheduled,,sch1,y27,,,
            c26,active,,Math 4,04,crs,M4,scheduled,,sch1,y26,,,
            cgone,tobedeleted,,Gone,05,crs,G,scheduled,,sch1,y27,,,
            cnoterm,active,,Elsewhere,05,crs,E,scheduled,,sch1,y99,,,
            cdates,active,,Dated,05,crs,D,scheduled,,sch2,,,,
            cnone,active,,None,05,crs,N,scheduled,,,y27,,,

            """)
    }

    private func bundle(_ w: Workspace, dir name: String = "bundle", rule: OneRosterEnrollmentRule?, streamsUsers: Bool = false) throws -> OneRosterRoster {
        let dir = w.exportDir + "/" + name
        let manifest = try OneRosterManifest.read(path: dir + "/manifest.csv", name: "manifest.csv")
        var files: [OneRosterFile: (path: String, name: String)] = [:]
        for f in OneRosterFile.allCases where manifest.mode(f) != .absent && FileManager.default.fileExists(atPath: "\(dir)/\(f.rawValue).csv") {
            files[f] = ("\(dir)/\(f.rawValue).csv", "\(f.rawValue).csv")
        }
        var reader = OneRosterCSVBundle(manifest: manifest, files: files, limit: .count(100))
        reader.today = today
        reader.enrollmentRule = rule
        reader.streamsUsers = streamsUsers
        return try reader.read()
    }

    static func records(_ rows: [EntityKind: EntityRows]) -> [String] {
        rows.keys.sorted { $0.rawValue < $1.rawValue }.flatMap { kind in
            let r = rows[kind]!
            return (0..<r.count).map { "\(kind.rawValue) \(r.key($0)) \(r.values($0)) \(r.isInactive($0))" }
        }
    }

    func testEnrollmentsJudgedAsTheyAreReadGiveTheRecordsOfEnrollmentsKept() throws {
        let w = Workspace()
        writeBundle(w)
        let t = translation()
        let judged = try bundle(w, rule: t.enrollmentRule)
        let kept = try bundle(w, rule: nil)
        XCTAssertEqual(judged.enrollments.count, 0, "judged as read, not kept")
        XCTAssertEqual(kept.enrollments.count, 13)
        XCTAssertTrue(judged.judgedEnrollments.mentioned.isEmpty, "who was mentioned matters to a delta only")
        let a = try t.translate(judged), b = try t.translate(kept)
        XCTAssertEqual(Self.records(a.rows), Self.records(b.rows))
        XCTAssertEqual(a.notices.lines, b.notices.lines)
        let statuses = (1...11).map { i in a.rows[.students]!.values(a.rows[.students]!.row(forKey: "s\(i)")!) }.map { "\($0[3]) \($0[5])" }
        XCTAssertEqual(statuses, [
            "sch1 Enrolled", "sch1 Not enrolled", "sch1 Not enrolled", "sch1 Not enrolled", "sch1 Not enrolled",
            "sch1 Not enrolled", "sch2 Enrolled", "sch1 Not enrolled", "sch1 Enrolled", "sch2 Enrolled", "sch1 Enrolled",
        ])
        // A roster judged for another day is not translated on this one's.
        XCTAssertThrowsError(try translation(today: OneRosterDay(year: 2027, month: 9, day: 1)).translate(judged)) { e in
            guard case .wrongDocument? = e as? ExportError else { return XCTFail("\(e)") }
        }
    }

    /// What a translation gave, to compare two: the records, the problems and the notices.
    static func outcome(_ t: OneRosterTranslation, _ roster: OneRosterRoster, spill: RunDirectory? = nil) -> String {
        do {
            let (rows, notices) = try t.translate(roster, spill: spill)
            let problems = rows.values.flatMap { $0.problems }.map { "\($0.file):\($0.location) \($0.column ?? "-") \($0.id ?? "-") \($0.message)" }
            let protected = rows.keys.sorted { $0.rawValue < $1.rawValue }.map { k in "\(k.rawValue) \(rows[k]!.problemCount) \(rows[k]!.protectedKeys.sorted())" }
            return (Self.records(rows) + problems + protected + notices.lines).joined(separator: "\n")
        } catch {
            return "error: \(error)"
        }
    }

    /// A bundle's users read again for each pass give what the users held gave, on 1.1 and
    /// 1.2 bundles with bad rows, every kind of agent, roles from roles.csv and a delta.
    func testUsersReadAgainForEachPassGiveWhatUsersHeldGive() throws {
        let w = Workspace()
        OneRosterTests.writeBundle11(w)
        writeBundle(w)
        OneRosterTests.writeBundle11(w, dir: "bad", users: """
            sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
            t1,active,,true,sch1,teacher,ann,,Ann,Lee,,,ann.lee@district.org,,,s1,,
            s1,active,,true,sch1,student,s1,,Sam,Lee,,,,,,"p1,g1,t1,zz,x1",05,
            s2,weird,,true,sch1,student,s2,,Tia,Fox,,,,,,,05,
            s3,active,,maybe,sch1,student,s3,,Uma,Fox,,,,,,,06,
            s4,active,,true,sch1,student,s4,,,Fox,,,,,,p1,06,
            p1,active,,true,sch1,parent,p1,,Pat,Lee,,,pat@home.org,,,"s1,s2,s4,t1,zz",,
            g1,tobedeleted,,true,sch1,guardian,g1,,Gus,Fox,,,not-an-email,,,s1,,
            r1,active,,true,sch1,relative,r1,,Rae,Lee,,,,,,"s1,r1",,
            x1,active,,true,sch1,proctor,x1,,Xi,Po,,,,,,,,
            ,active,,true,sch1,student,,,No,Id,,,,,,,,
            short,active

            """)
        OneRosterTests.writeBundle11(w, dir: "delta", mode: "delta", enrollments: """
            sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
            e9,active,,c27,sch1,s9,student,false,,

            """)
        OneRosterTests.writeBundle12(w)
        let t = translation()
        for dir in ["bundle", "bad", "delta", "b12"] {
            let held = try bundle(w, dir: dir, rule: t.enrollmentRule)
            let streamed = try bundle(w, dir: dir, rule: t.enrollmentRule, streamsUsers: true)
            XCTAssertEqual(streamed.users.count, 0, dir)
            XCTAssertEqual(streamed.userCount, held.users.count, dir)
            XCTAssertGreaterThan(held.users.count, 0, dir)
            let expected = Self.outcome(t, held)
            XCTAssertFalse(expected.hasPrefix("error"), "\(dir): \(expected)")
            XCTAssertEqual(Self.outcome(t, streamed), expected, dir)
        }
        let bad = Self.outcome(t, try bundle(w, dir: "bad", rule: t.enrollmentRule, streamsUsers: true))
        for expected in ["p1 → t1", "not-an-email", "household_relationships p1\u{1F}student\u{1F}s1"] {
            XCTAssertTrue(bad.contains(expected), "\(expected) in\n\(bad)")
        }
    }

    /// users.csv rewritten in place between the check and a pass fails the run: the passes
    /// must see the users the check saw.
    func testUsersChangedBetweenTheReadsAreRefused() throws {
        let w = Workspace()
        OneRosterTests.writeBundle11(w)
        let t = translation()
        let path = w.exportDir + "/bundle/users.csv"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        for changed in [original.replacingOccurrences(of: "Ann,Lee", with: "Ann,Lea"), original.replacingOccurrences(of: "x1,active", with: "x1,tobedeleted"),
                        original + "z9,active,,true,sch1,student,z9,,Zed,Zee,,,,,,,05,\r\n",
                        original.replacingOccurrences(of: ",Role,", with: ",Rolx,"), original.replacingOccurrences(of: "Ann,Lee", with: "An,nLee"),
                        original + "\r\n\r\nshort,active\r\n"] {
            try Data(original.utf8).write(to: URL(fileURLWithPath: path))
            let roster = try bundle(w, rule: t.enrollmentRule, streamsUsers: true)
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: 0)
            try handle.write(contentsOf: Data(changed.utf8))
            try handle.close()
            XCTAssertThrowsError(try t.translate(roster)) { e in
                guard case .changedWhileRead(let file, _, _)? = e as? ExportError else { return XCTFail("\(e)") }
                XCTAssertEqual(file, "users.csv")
            }
        }
    }

    /// A list cell is split and trimmed as Foundation's `.whitespaces` trims, without it.
    func testListsAreTrimmedAsFoundationTrimsThem() {
        let cells = ["", ",", " a , b ", "a,,b", "\ta\t,\u{00A0}b\u{3000}", "\na\n, b\r", " \u{301}a ,x\u{2009}", "é , \u{1F600} ,\u{200B}z", " , \t ", "a,\u{301}b", "\u{FEFF}q"]
        for cell in cells {
            let foundation = cell.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            XCTAssertEqual(OneRosterRoster.list(cell), foundation, cell.debugDescription)
        }
        // Dates are trimmed the same way.
        for (text, expected) in [("\u{3000}2026-09-01\t", 20260901), (" 9/1/2026\u{200B}", 20260901), ("\n2026-09-01", nil), ("\u{A0}", nil)] as [(String, Int?)] {
            XCTAssertEqual(OneRosterDay.parse(text)?.value, expected, text.debugDescription)
            let foundation = text.trimmingCharacters(in: .whitespaces)
            XCTAssertEqual(String(OneRosterRoster.trimmingSpaces(text[...])), foundation, text.debugDescription)
        }
        // Every scalar of the Basic Multilingual Plane is trimmed, or not, as Foundation trims it.
        for v in UInt32(0)...0xFFFF {
            guard let scalar = Unicode.Scalar(v), v != 0x2C else { continue }
            let cell = "\(Character(scalar))a\(Character(scalar))"
            let foundation = cell.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if OneRosterRoster.list(cell) != foundation { XCTFail("U+\(String(v, radix: 16)): \(OneRosterRoster.list(cell)) against \(foundation)") }
        }
    }

    /// A users.csv that cannot be read again (a pipe) keeps its users, and gives the records
    /// a file gives.
    func testUsersFromAPipeAreHeld() throws {
        let w = Workspace()
        OneRosterTests.writeBundle11(w)
        let t = translation()
        let fromFile = Self.outcome(t, try bundle(w, rule: t.enrollmentRule, streamsUsers: true))
        let path = w.exportDir + "/bundle/users.csv"
        let text = try Data(contentsOf: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: path)
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        let writer = Thread {
            if let h = FileHandle(forWritingAtPath: path) { h.write(text); try? h.close() }
        }
        writer.start()
        let roster = try bundle(w, rule: t.enrollmentRule, streamsUsers: true)
        XCTAssertNil(roster.userStream)
        XCTAssertEqual(roster.users.count, 10)
        XCTAssertEqual(Self.outcome(t, roster), fromFile)
    }

    /// The translated records go to the run's private directory past the sorter's buffer,
    /// as a native export's do, and leave nothing there.
    func testTranslatedRecordsAreSortedOnDisk() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        var roster = OneRosterRoster(version: .v1_1, modes: [.users: .bulk, .enrollments: .bulk])
        let t = translation()
        roster.enrollmentRule = t.enrollmentRule
        let padding = String(repeating: "x", count: 120)
        for i in 0..<70_000 {
            var u = OneRosterRoster.User(id: "s\(i)")
            u.roles = [OneRosterRoster.Role(name: "student")]
            u.givenName = "Given \(padding)"
            u.familyName = "Family \(i)"
            u.line = i + 2
            roster.users.append(u)
            var e = OneRosterRoster.Enrollment(id: "e\(i)")
            e.userID = u.id
            e.schoolID = "sch1"
            e.role = "student"
            roster.add(e)
        }
        let rows = try t.translate(roster, spill: directory).rows
        let students = try XCTUnwrap(rows[.students])
        XCTAssertEqual(students.count, 70_000)
        XCTAssertTrue(students.isOnDisk, "70,000 students of some 150 bytes each pass the 8 MiB buffer")
        XCTAssertEqual(students.values(students.row(forKey: "s69999")!)[5], OneRosterTranslation.enrolled)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    /// The students wait for their enrollments and the relationships are found through
    /// sorted runs in the run's directory (issue 34): through many small runs, a district's
    /// records, problems and notices are what the same translation gives in memory. Students
    /// come in no order, with several enrollments each (the first that names a school gives
    /// it), deleted ones, a bulk and a delta roster, guardians naming them and unknown ids.
    func testStudentsAndRelationshipsThroughSortedRunsGiveWhatMemoryGives() throws {
        let w = Workspace()
        var g = Mutator(seed: 3400)
        for delta in [false, true] {
            let directory = try RunDirectory(in: w.root)
            var roster = OneRosterRoster(version: .v1_1, modes: [.users: delta ? .delta : .bulk, .enrollments: delta ? .delta : .bulk])
            let ids = (0..<3000).map { String(format: "%08x-stu", $0 &* 2_654_435_761 % 1_000_003) }
            for (i, id) in ids.enumerated() {
                var u = OneRosterRoster.User(id: id)
                u.roles = [OneRosterRoster.Role(name: "student")]
                u.givenName = "Given"
                u.familyName = "Family \(i)"
                u.deleted = Int.random(in: 0..<9, using: &g) == 0
                u.orgs = ["sch\(i % 3)"]
                u.line = i + 2
                roster.users.append(u)
                for k in 0..<Int.random(in: 0...3, using: &g) {
                    var e = OneRosterRoster.Enrollment(id: "e\(i)-\(k)")
                    e.userID = Bool.random(using: &g) ? id : "gone-\(i)"
                    e.schoolID = Bool.random(using: &g) ? "" : "sch\(Int.random(in: 0..<5, using: &g))"
                    e.role = "student"
                    roster.enrollments.append(e)
                }
                if i % 4 == 0 {
                    var p = OneRosterRoster.User(id: "p\(i)")
                    p.roles = [OneRosterRoster.Role(name: "parent")]
                    p.givenName = "Pat"
                    p.familyName = "Rent"
                    p.agents = [id, ids[Int.random(in: 0..<ids.count, using: &g)], "nobody\(i)"]
                    p.line = 5000 + i
                    roster.users.append(p)
                }
            }
            var t = translation()
            let inMemory = Self.outcome(t, roster)
            t.runBudget = 1024
            XCTAssertEqual(Self.outcome(t, roster, spill: directory), inMemory, delta ? "delta" : "bulk")
            XCTAssertTrue(inMemory.contains("Enrolled") && inMemory.contains("household_relationships"), inMemory.prefix(300).description)
            XCTAssertGreaterThan(try t.currentEnrollments(roster, spill: directory).spilledRuns, 2, "the verdicts went through runs")
            XCTAssertEqual(Self.openFiles(in: directory, named: ["oneroster-students", "oneroster-users", "oneroster-agents", "oneroster-relationships"]), [],
                           "the translation's own sorted runs are closed (their space given back) once it returns")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
            directory.remove()
        }
    }

    /// The files of `directory` this process holds open (unlinked: their names end in
    /// `(deleted)`) whose names hold one of `labels`.
    static func openFiles(in directory: RunDirectory, named labels: [String]) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { fd in try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) }
            .filter { $0.hasPrefix(directory.path) && labels.contains(where: $0.contains) }
    }

    /// A delta's enrollments that mention a student whose user row it does not list: one
    /// that ends the enrollment is a notice (applied with the next bulk export), one that
    /// enrols it is not; a listed student is neither.
    func testADeltaEndingAnUnlistedStudentsEnrollmentIsANotice() throws {
        let t = translation()
        var roster = OneRosterRoster(version: .v1_1, modes: [.users: .delta, .enrollments: .delta])
        var u = OneRosterRoster.User(id: "s1")
        u.roles = [OneRosterRoster.Role(name: "student")]
        u.givenName = "S"
        u.familyName = "T"
        roster.users = [u]
        for (id, student, deleted) in [("e1", "s1", true), ("e2", "s2", true), ("e3", "s3", false), ("e4", "s4", true)] {
            var e = OneRosterRoster.Enrollment(id: id)
            e.userID = student
            e.role = "student"
            e.deleted = deleted
            roster.enrollments.append(e)
        }
        let notices = try t.translate(roster).notices.lines
        XCTAssertEqual(notices, ["2 × delta enrollments that end a student's enrollment (applied with the next bulk export) (s2, s4)"])
    }

    /// Each id gets one number, in the order first given, and comes back as it was: past the
    /// table's first growth, for UUIDs, an empty id, one with a NUL, one outside ASCII and
    /// one with a control character.
    func testIDsAreNumberedOnceAndComeBack() {
        var ids = OneRosterIDs()
        let odd = ["", "a\u{0}b", "zoë-李", "c\u{1}d", "x"]
        let all = (0..<5000).map { UUID(uuidString: String(format: "00000000-0000-0000-0000-%012d", $0))!.uuidString.lowercased() } + odd
        for (i, id) in all.enumerated() { XCTAssertEqual(ids.number(id), Int32(i)) }
        for (i, id) in all.enumerated().reversed() {
            XCTAssertEqual(ids.number(id), Int32(i), "given again, the same number")
            XCTAssertEqual(ids.find(id), Int32(i))
            XCTAssertEqual(ids.id(Int32(i)), id)
        }
        XCTAssertEqual(ids.count, all.count)
        XCTAssertNil(ids.find("y"))
        XCTAssertNil(ids.find("a\u{0}c"), "compared by every byte, past a NUL")
    }

    /// A user given twice fails the read with the lines of both, held or streamed, past the
    /// id table's first growth.
    func testAUserGivenTwiceFailsWithTheLinesOfBoth() throws {
        let w = Workspace()
        var users = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        for i in 0..<3000 { users += "s\(i),active,,true,sch1,student,s\(i),,Stu,Dent,,,,,,,05,\n" }
        users += "s7,active,,true,sch1,student,s7,,Stu,Dent,,,,,,,05,\n"
        OneRosterTests.writeBundle11(w, users: users)
        for streams in [false, true] {
            XCTAssertThrowsError(try bundle(w, rule: nil, streamsUsers: streams)) { e in
                XCTAssertEqual(e as? ExportError, .duplicateID(file: "users.csv", line: 3002, id: "s7", firstLine: 9, columns: ["sourcedId"]))
            }
        }
    }

    /// Through sorted runs, the duplicate reported is the one a check in reading order stops
    /// at (R2): of three ids given twice or more, the one whose second giving comes first,
    /// with the place of its first; both spellings of `é` are two ids; none is reported
    /// when each id comes once.
    func testTheDuplicateReportedIsTheFirstInReadingOrder() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        for dir in [nil, directory] {
            var ids = OneRosterDuplicateIDs(directory: dir, budget: 256)
            for i in 0..<5000 { ids.add("u\((i &* 7919) % 5000)", place: i + 2) }
            ids.add("\u{E9}1", place: 6000)
            ids.add("e\u{301}1", place: 6001)
            ids.add("u4242", place: 6500, detail: "second of u4242")
            ids.add("u4242", place: 6400, detail: "third of u4242")
            ids.add("u17", place: 6000, detail: "second of u17")
            ids.add("u12", place: 6600)
            ids.add("u12", place: 6700)
            XCTAssertTrue(dir == nil || ids.spilledRuns > 10, "through runs")
            let d = try XCTUnwrap(try ids.first())
            XCTAssertEqual(d.id, "u4242")
            XCTAssertEqual(d.place, 6500)
            XCTAssertEqual(d.detail, "second of u4242")
            XCTAssertEqual(d.firstPlace, (0..<5000).first { ($0 &* 7919) % 5000 == 4242 }! + 2)
            var once = OneRosterDuplicateIDs(directory: dir, budget: 256)
            for i in 0..<3000 { once.add("u\(i)", place: i) }
            once.add("\u{E9}1", place: 1)
            once.add("e\u{301}1", place: 2)
            XCTAssertNil(try once.first())
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    /// A user given twice, then a row the CSV reader cannot read: the duplicate is reported
    /// (what a check in reading order stopped at), not the broken row after it.
    func testADuplicateBeforeABrokenRowIsTheError() throws {
        let w = Workspace()
        var users = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        users += "s1,active,,true,sch1,student,s1,,Stu,Dent,,,,,,,05,\n"
        users += "s2,active,,true,sch1,student,s2,,Stu,Dent,,,,,,,05,\n"
        users += "s1,active,,true,sch1,student,s1,,Stu,Dent,,,,,,,05,\n"
        users += "s3,active,,true,sch1,student,s3,,\"Stu,Dent,,,,,,,05,\n"
        OneRosterTests.writeBundle11(w, users: users)
        for streams in [false, true] {
            XCTAssertThrowsError(try bundle(w, rule: nil, streamsUsers: streams)) { e in
                XCTAssertEqual(e as? ExportError, .duplicateID(file: "users.csv", line: 4, id: "s1", firstLine: 2, columns: ["sourcedId"]), "\(e)")
            }
        }
    }

    /// The verdicts are a value: a copy of a roster given another enrollment leaves the
    /// original as it was; a roster is translated twice alike; verdicts are added after a
    /// look-up, the earlier naming a school still giving it.
    func testVerdictsAreAValueAndGrowAfterALookUp() throws {
        let t = translation()
        var roster = OneRosterRoster(version: .v1_1, modes: [.users: .bulk, .enrollments: .bulk])
        var u = OneRosterRoster.User(id: "s1")
        u.roles = [OneRosterRoster.Role(name: "student")]
        u.givenName = "S"
        u.familyName = "T"
        roster.users = [u]
        roster.enrollmentRule = t.enrollmentRule
        func enrollment(_ id: String, _ student: String, _ school: String) -> OneRosterRoster.Enrollment {
            var e = OneRosterRoster.Enrollment(id: id)
            e.userID = student
            e.schoolID = school
            e.role = "student"
            return e
        }
        roster.add(enrollment("e1", "s1", "sch1"))
        var copy = roster
        copy.add(enrollment("e9", "s9", "sch9"))
        XCTAssertNil(try roster.judgedEnrollments.school(of: "s9"), "the original is unchanged")
        XCTAssertEqual(try copy.judgedEnrollments.school(of: "s9"), "sch9")
        XCTAssertEqual(try copy.judgedEnrollments.school(of: "s1"), "sch1")
        roster.enrollments.append(enrollment("e2", "s1", "sch2"))
        let once = Self.outcome(t, roster), twice = Self.outcome(t, roster)
        XCTAssertEqual(once, twice)
        XCTAssertTrue(once.contains("[\"S\", \"T\", \"\", \"sch1\""), once)
        roster.add(enrollment("e3", "s2", ""))
        roster.add(enrollment("e4", "s2", "sch4"))
        roster.add(enrollment("e5", "s1", "sch5"))
        XCTAssertEqual(try roster.judgedEnrollments.enrolledStudents(), ["s1", "s2"])
        XCTAssertEqual(try roster.judgedEnrollments.school(of: "s1"), "sch1", "the first that named a school, before the look-up")
        XCTAssertEqual(try roster.judgedEnrollments.school(of: "s2"), "sch4")
    }

    /// Ids are compared by their bytes, as the database compares keys: `é` written as one
    /// character and as `e` with a combining accent are two users, two students and two
    /// relationships, not a duplicate; an agent names the spelling it gives.
    func testIDsAreComparedByTheirBytes() throws {
        let w = Workspace()
        let composed = "\u{E9}1", decomposed = "e\u{301}1"
        XCTAssertEqual(composed, decomposed, "equal as Swift strings")
        var users = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        users += "\(composed),active,,true,sch1,student,a,,Stu,Dent,,,,,,,05,\n"
        users += "\(decomposed),active,,true,sch1,student,b,,Stu,Dent,,,,,,,05,\n"
        users += "g1,active,,true,sch1,guardian,g,,Gus,Fox,,,,,,\"\(decomposed)\",,\n"
        OneRosterTests.writeBundle11(w, users: users)
        let t = translation()
        for streams in [false, true] {
            let rows = try t.translate(try bundle(w, rule: t.enrollmentRule, streamsUsers: streams)).rows
            let students = try XCTUnwrap(rows[.students]), relationships = try XCTUnwrap(rows[.householdRelationships])
            XCTAssertEqual((0..<students.count).map { Array(students.key($0).utf8) }.sorted { $0.lexicographicallyPrecedes($1) },
                           [Array(decomposed.utf8), Array(composed.utf8)])
            XCTAssertEqual((0..<relationships.count).map { Array(relationships.key($0).utf8) }, [Array("g1\u{1F}student\u{1F}\(decomposed)".utf8)])
        }
    }

    /// roles.csv's rows, kept as numbers, come back to each user in the file's order, with
    /// their orgs, whatever order the users' rows came in.
    func testRolesComeBackToEachUserInTheFilesOrder() {
        var table = OneRosterUserRoles()
        var expected: [String: [OneRosterRoster.Role]] = [:]
        for i in 0..<6000 {
            let user = "u\(i * 7919 % 2000)", org = i % 3 == 0 ? nil : "o\(i % 5)"
            let name = ["teacher", "Student", "siteAdministrator"][i % 3]
            table.add(user: user, name: name, primary: i % 4 != 0, org: org)
            expected[user, default: []].append(OneRosterRoster.Role(name: name, primary: i % 4 != 0, org: org))
        }
        table.seal()
        XCTAssertEqual(expected.count, 2000)
        for (user, roles) in expected { XCTAssertEqual(table.roles(of: user), roles, user) }
        XCTAssertNil(table.roles(of: "nobody"))
        XCTAssertEqual(table.roles(of: "u0")?.first?.name, "teacher")
        var none = OneRosterUserRoles()
        none.seal()
        XCTAssertNil(none.roles(of: "u0"))
    }

    /// The first enrollment that names a school gives it (an earlier one without a school
    /// gives way); each student keeps its own spelling of the school's id; who was mentioned
    /// is kept by bytes.
    func testTheFirstNamedSchoolGivesItInItsOwnSpelling() throws {
        var current = OneRosterCurrentEnrollments()
        current.enrol("s1", at: "sch1")
        current.enrol("s1", at: "sch2")
        current.enrol("s2", at: "")
        current.enrol("s2", at: "sch2")
        current.enrol("s2", at: "sch3")
        current.enrol("s3", at: "")
        current.enrol("a", at: "\u{E9}cole")
        current.enrol("b", at: "e\u{301}cole")
        XCTAssertEqual(try current.school(of: "s1"), "sch1")
        XCTAssertEqual(try current.school(of: "s2"), "sch2")
        XCTAssertEqual(try current.school(of: "s3"), "")
        XCTAssertNil(try current.school(of: "s4"))
        XCTAssertEqual(try current.school(of: "a").map { Array($0.utf8) }, Array("\u{E9}cole".utf8))
        XCTAssertEqual(try current.school(of: "b").map { Array($0.utf8) }, Array("e\u{301}cole".utf8))
        XCTAssertEqual(try current.enrolledStudents(), ["a", "b", "s1", "s2", "s3"], "each once, in key order")
        current.mentioned.insert("\u{E9}1")
        XCTAssertTrue(current.mentioned.contains("\u{E9}1"))
        XCTAssertFalse(current.mentioned.contains("e\u{301}1"), "by bytes")
    }

    /// Two users whose ids spell `é` in two ways, both skipped (R2): both are protected, held
    /// or streamed, whether the reader or the translation skips them.
    func testBothSpellingsOfASkippedIdAreProtected() throws {
        let w = Workspace()
        let composed = "\u{E9}1", decomposed = "e\u{301}1"
        let header = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        OneRosterTests.writeBundle11(w, dir: "status", users: header
            + "\(composed),weird,,true,sch1,student,a,,Stu,Dent,,,,,,,05,\n\(decomposed),weird,,true,sch1,student,b,,Stu,Dent,,,,,,,05,\n")
        OneRosterTests.writeBundle11(w, dir: "name", users: header
            + "\(composed),active,,true,sch1,student,a,,,Dent,,,,,,,05,\n\(decomposed),active,,true,sch1,student,b,,,Dent,,,,,,,05,\n")
        let t = translation()
        for dir in ["status", "name"] {
            for streams in [false, true] {
                let rows = try t.translate(try bundle(w, dir: dir, rule: t.enrollmentRule, streamsUsers: streams)).rows
                let students = try XCTUnwrap(rows[.students])
                for id in [composed, decomposed] {
                    var key = id
                    XCTAssertTrue(key.withUTF8 { students.isProtected(keyBytes: $0) }, "\(dir), streamed \(streams): \(Array(id.utf8))")
                }
            }
        }
    }
}
