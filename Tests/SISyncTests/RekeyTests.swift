import XCTest
@testable import SISync
@testable import SISyncControl
@testable import SISyncAPI

/// Issue 33: when the SIS renumbers everyone, the records are carried over to their new ids
/// with everything that points at them, instead of a district leaving and another arriving.
/// Real runs and real `sisyncctl` commands on real stores (both stores).
final class RekeyTests: XCTestCase {
    /// A small district under `id`'s numbering: three teachers, three students (Lee has no
    /// email), two families, their relationships and attributes.
    static func writeDistrict(_ w: Workspace, id: (String) -> String = { $0 }) {
        w.write("staff.csv", staffCSV([(id("S1"), "Ana", "Lima", "ana@district.org"), (id("S2"), "Ben", "Okafor", "ben@district.org"),
                                       (id("S3"), "Cleo", "Park", "cleo@district.org")]))
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            \(id("ST1")),Kim,Lima,kim@students.org,101,5,Enrolled,2026-2027
            \(id("ST2")),Lee,Ray,,101,5,Enrolled,2026-2027
            \(id("ST3")),Max,Roe,max@students.org,101,6,Enrolled,2026-2027
            """)
        w.write("households.csv", "household_id,name\n\(id("H1")),Lima family\n\(id("H2")),Ray family\n")
        w.write("household_relationships.csv", """
            household_id,record_type,record_id,relationship
            \(id("H1")),student,\(id("ST1")),Parent
            \(id("H2")),student,\(id("ST2")),Guardian
            """)
        w.write("attributes.csv", """
            record_type,record_id,attribute,school_year
            student,\(id("ST1")),Honor Roll,2026-2027
            household,\(id("H1")),Volunteer,
            """)
    }

    static let entities = "staff, students, households, household_relationships, attributes"
    /// The SIS's new numbering: `S1` becomes `N-S1`.
    static func renumbered(_ id: String) -> String { "N-" + id }

    /// The district applied, with users hanging on every kind of record: auto links (ana,
    /// cleo), a manual link (intern → S2), a student's account (kim), a household's
    /// (mom), a parent paired through an access code (dad → ST3), a form role (ana).
    private func district(guard lines: String = "") throws -> (Workspace, Configuration) {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.entities, guard: lines)
        Self.writeDistrict(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for command in [["user", "add", "--username", "ana", "--email", "ana@district.org", "--approved"],
                        ["user", "add", "--username", "cleo", "--email", "cleo@district.org"],
                        ["user", "add", "--username", "intern", "--email", "intern@district.org"],
                        ["user", "link", "intern", "S2", "--reason", "records for Mr Okafor"],
                        ["user", "add", "--username", "kim", "--email", "kim@students.org"], ["user", "attach", "kim", "--student", "ST1"],
                        ["user", "add", "--username", "mom", "--email", "mom@home.org"], ["user", "attach", "mom", "--household", "H1"],
                        ["user", "add", "--username", "dad", "--email", "dad@home.org", "--approved"],
                        ["role", "create", "Case Manager"], ["user", "assign", "ana", "Case Manager"]] {
            let r = w.ctl(command)
            XCTAssertEqual(r.code, 0, "\(command): \(r.err)")
        }
        let store = try w.store()
        let code = try store.accessCodes.enableAccess(student: "ST3", actor: "admin", now: Date()).code
        XCTAssertEqual(w.ctl(["access", "pair", "--user", "dad", "--code", code]).code, 0)
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied, "links and roles made")
        return (w, c)
    }

    /// Everything that hangs on a record id, with the ids as `id` maps them.
    private func hangers(_ w: Workspace, id: (String) -> String = { $0 }) throws -> [String] {
        let db = try w.rawDatabase()
        var out: [String] = []
        for (label, sql) in [("link", "SELECT username, staff_id, kind FROM links"),
                             ("attachment", "SELECT username, kind, record_id FROM user_attachments"),
                             ("role", "SELECT username, role, source FROM user_roles"),
                             ("code", "SELECT student_id, code FROM access_codes"),
                             ("pairing", "SELECT username, student_id FROM access_pairings"),
                             ("assignment", "SELECT username, role FROM role_assignments"),
                             ("relationship", "SELECT household_id, record_id, relationship FROM household_relationships WHERE active = TRUE"),
                             ("attribute", "SELECT record_type, record_id, attribute FROM attributes WHERE active = TRUE")] {
            try db.prepare(sql).forEachRow { r in
                out.append(label + " " + (0..<r.columnCount).map { r.text($0) }.joined(separator: " "))
            }
        }
        return out.sorted().map { line in
            line.split(separator: " ").map { ["S1", "S2", "S3", "ST1", "ST2", "ST3", "H1", "H2"].contains(String($0)) ? id(String($0)) : String($0) }.joined(separator: " ")
        }.sorted()
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// The whole district renumbered at once: held (`rekey = hold`, the default), listed
    /// with its evidence, and after approval nothing was deactivated or added, and every
    /// link, role, code, pairing and form assignment hangs on the new ids.
    func testWholeDistrictRenumberedIsHeldThenCarriedOverWithEverything() throws {
        let (w, c) = try district()
        let before = try hangers(w, id: Self.renumbered)
        XCTAssertTrue(before.contains("link ana N-S1 auto") && before.contains("link intern N-S2 manual") && before.contains("pairing dad N-ST3"), "\(before)")
        XCTAssertTrue(before.contains("role dad Parent calculated") && before.contains("role kim Student calculated"), "\(before)")
        Self.writeDistrict(w, id: Self.renumbered)
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked, "rekeys wait for review")
        XCTAssertTrue(held.summary.error?.contains("carry 3 staff, 3 students, 2 households, 2 household relationships, 2 attributes over") == true,
                      held.summary.error ?? "")
        XCTAssertTrue(held.summary.error?.contains("1 of them matched on names without an email") == true, held.summary.error ?? "")
        let id = try XCTUnwrap(held.summary.runID)
        XCTAssertEqual(try w.store().mirror.staffMember(id: "S1")?.active, true, "nothing applied while held")

        let shown = w.ctl(["run", "show", String(id)])
        XCTAssertEqual(shown.code, 0, shown.err)
        for line in ["records the held plan would carry over to new ids (12)", "staff S1 → N-S1 (same email ana@district.org, same name Ana Lima)",
                     "students ST2 → N-ST2 (same name Lee Ray, school 101, grade 5 (no email))", "students ST1 → N-ST1 (same email kim@students.org, same name Kim Lima)",
                     "households H1 → N-H1 (same members student N-ST1, same name Lima family)",
                     "household_relationships H1/student/ST1 → N-H1/student/N-ST1 (follows household H1 → N-H1 and student ST1 → N-ST1)",
                     "other changes the held plan would make (0)"] {
            XCTAssertTrue(shown.out.contains(line), "\(line) in:\n\(shown.out)")
        }
        let shape = try json(w.ctl(["--json", "run", "show", String(id)]).out)
        let rekeys = try XCTUnwrap(shape["rekeys"] as? [[String: Any]])
        XCTAssertEqual(rekeys.count, 12)
        XCTAssertTrue(rekeys.contains { $0["entity"] as? String == "staff" && $0["old"] as? String == "S3" && $0["new"] as? String == "N-S3"
            && ($0["evidence"] as? String)?.contains("same email cleo@district.org") == true })
        XCTAssertEqual((shape["ambiguous_rekeys"] as? [Any])?.count, 0)
        XCTAssertEqual((shape["changes"] as? [Any])?.count, 0, "no deactivation or addition left")

        let approved = w.ctl(["--json", "run", "approve", String(id)])
        XCTAssertEqual(approved.code, 0, approved.err)
        let run = try json(approved.out)
        for (entity, counts) in try XCTUnwrap(run["records"] as? [String: [String: Int]]) {
            XCTAssertEqual(counts["added"], 0, entity)
            XCTAssertEqual(counts["deactivated"], 0, entity)
        }
        XCTAssertEqual(try hangers(w), before, "every link, role, code, pairing and form assignment kept, under the new ids")
        let store = try w.store()
        XCTAssertNil(try store.mirror.staffMember(id: "S1"))
        XCTAssertEqual(try store.mirror.staffMember(id: "N-S1")?.active, true)
        XCTAssertEqual(try store.accessCodes.accessCode(student: "N-ST3").map { !$0.isEmpty }, true)

        // The change log tells of rekeys, and of no revocation or removed link (the feed's
        // `*.rekeyed`: the test below, with the feed on).
        let changes = try store.auditTrail.changes(runID: Int64(try XCTUnwrap(run["run_id"] as? Int))).map(\.change)
        XCTAssertTrue(changes.contains(Change(entity: "staff", id: "N-S1", field: "id", old: "S1", new: "N-S1", kind: .rekeyed)), "\(changes)")
        XCTAssertFalse(changes.contains { $0.kind == .roleRevoked || $0.kind == .roleGranted || $0.kind == .unlinked || $0.kind == .deactivated })
        let text = w.ctl(["run", "show", String(Int64(run["run_id"] as! Int))]).out
        XCTAssertTrue(text.contains("rekeyed staff S1 → N-S1"), text)

        // `staff show` under either id.
        let new = w.ctl(["staff", "show", "N-S1"])
        XCTAssertEqual(new.code, 0, new.err)
        XCTAssertTrue(new.out.contains("formerly S1 (run \(run["run_id"] as! Int))"), new.out)
        XCTAssertTrue(new.out.contains("linked users: ana"), new.out)
        let old = w.ctl(["staff", "show", "S1"])
        XCTAssertEqual(old.code, 0, old.err)
        XCTAssertTrue(old.out.contains("S1 is now N-S1") && old.out.contains("N-S1  Ana Lima"), old.out)
        // And the API (issue 30) the same way: an application holding the old id follows it.
        let token = try store.apiClients.add(name: "app", scopes: [.read], actor: "admin", now: Date()).token
        let answer = APIService(configuration: c, log: MemoryLog()).handle(
            HTTPRequest(method: "GET", path: "/v1/staff/S1", query: [], headers: [("authorization", "Bearer " + token)]))
        XCTAssertEqual(answer.status, 200)
        let staff = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        XCTAssertEqual(staff["staff_id"] as? String, "N-S1")
        XCTAssertEqual((staff["formerly"] as? [[String: Any]])?.first?["staff_id"] as? String, "S1")

        // The next run on the same export changes nothing.
        XCTAssertEqual(w.sync(c, force: true).summary.entities.values.reduce(0) { $0 + $1.total }, 0)
    }

    /// The feed (issue 31) tells of each record carried over as `ENTITY.rekeyed`, and of no
    /// revoked role and no removed link.
    func testEventsShowRekeysAndNoRevocations() throws {
        let (w, _) = try district()
        var text = try String(contentsOfFile: w.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "[guard]\n", with: "") + "\n[guard]\nrekey = apply\n[events]\nenabled = true\n"
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let c = try Configuration.load(path: w.configPath)
        // Every student with an email on both sides: nothing rests on names, so `apply` applies.
        try w.rawDatabase().run("UPDATE students SET email = 'lee@students.org', fingerprint = 0 WHERE student_id = 'ST2'")
        Self.writeDistrict(w, id: Self.renumbered)
        w.write("students.csv", (try String(contentsOfFile: w.exportDir + "/students.csv", encoding: .utf8)).replacingOccurrences(of: "Lee,Ray,,", with: "Lee,Ray,lee@students.org,"))
        let before = try hangers(w, id: Self.renumbered).filter { !$0.hasPrefix("role ") }
        let start = try w.store().events.head()
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        let events = try w.store().events.events(after: start, limit: 10_000).events
        let rekeyed = events.filter { $0.type.hasSuffix(".rekeyed") }
        XCTAssertEqual(Set(rekeyed.map(\.type)), ["staff.rekeyed", "students.rekeyed", "households.rekeyed", "household_relationships.rekeyed", "attributes.rekeyed"])
        XCTAssertTrue(rekeyed.contains { $0.subject == #"{"staff_id":"N-S1"}"# && $0.data.contains(#""old_id":"S1""#) }, "\(rekeyed)")
        XCTAssertFalse(events.contains { ["role.revoked", "link.removed", "staff.deactivated", "students.deactivated", "staff.added"].contains($0.type) },
                       "\(events.map(\.type))")
        XCTAssertEqual(try hangers(w).filter { !$0.hasPrefix("role ") }, before)
    }

    /// The leavers' stored values of a renumbered district are read by one pass over the
    /// table (most of it leaves) rather than a join on their keys: the same values either
    /// way, composite keys (relationships) and keys with no record included.
    func testStoredValuesOfMostOfATableReadInOnePassMatchTheLookUp() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.entities)
        Self.writeDistrict(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let n = StoredEntityTable.scanningFrom + 10
        let db = try w.rawDatabase()
        try db.transaction {
            try db.insertRows(into: "household_relationships", columns: ["household_id", "record_type", "record_id", "relationship", "added_run", "updated_run", "fingerprint"]) { rows in
                for i in 0..<n {
                    try rows.add("HX\(i / 3)"); try rows.add("student"); try rows.add("X\(i)"); try rows.add(i % 2 == 0 ? "Parent" : "Guardian \(i)")
                    try rows.add(Int64(1)); try rows.add(Int64(1)); try rows.add(Int64(i))
                    try rows.endRow()
                }
            }
        }
        let state = try w.store().mirror.state(for: .householdRelationships)
        var all: [String] = []
        try state.forEachRecord { all.append($0.key) }
        XCTAssertGreaterThan(all.count, n)
        let asked = all + [RecordKey.join(["HX1", "student", "nobody"])]
        let scanned = try state.values(forKeys: asked)
        XCTAssertEqual(scanned.count, all.count, "every stored key, not the unknown one")
        // A few keys at a time go through the join: the same values.
        for slice in stride(from: 0, to: all.count, by: 997).map({ Array(all[$0..<min($0 + 3, all.count)]) }) {
            let looked = try state.values(forKeys: slice)
            XCTAssertEqual(looked.count, slice.count)
            for k in slice { XCTAssertEqual(looked[k], scanned[k], k) }
        }
        XCTAssertEqual(scanned[RecordKey.join(["HX2", "student", "X7"])], ["Guardian 7"])
    }

    /// Real leavers, real arrivals and renumbered staff in one run: only the renumbered
    /// are carried over (`rekey = apply`: every pair has an email).
    func testMixOfLeaversArrivalsAndRekeys() throws {
        let w = Workspace()
        let c = w.configure(guard: "rekey = apply\nmax_deactivate_percent = 100")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        // S1–S8 renumbered, S9 left, S10 stays, X1 arrives.
        var rows = manyStaff(8).map { ("N" + $0.0, $0.1, $0.2, $0.3) }
        rows.append(manyStaff(10)[9])
        rows.append(("X1", "New", "Teacher", "new.teacher@district.org"))
        w.write("staff.csv", staffCSV(rows))
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(run.summary.staff, RecordCounts(added: 1, updated: 0, deactivated: 1, reactivated: 0))
        let store = try w.store()
        XCTAssertEqual(try store.mirror.staffMember(id: "NS1")?.active, true)
        XCTAssertNil(try store.mirror.staffMember(id: "S1"))
        XCTAssertEqual(try store.mirror.staffMember(id: "S9")?.active, false, "a real leaver")
        XCTAssertEqual(try store.mirror.staffMember(id: "X1")?.active, true, "a real arrival")
        XCTAssertEqual(try store.rekeys.entries(run: try XCTUnwrap(run.summary.runID)).map(\.old).sorted(), (1...8).map { "S\($0)" }.sorted())
    }

    /// Two leaving records with the same email and name, one arriving: never paired; listed
    /// as ambiguous with all three, and deactivated and added when approved.
    func testAmbiguousPairIsNotRekeyed() throws {
        let w = Workspace()
        let c = w.configure()
        let staff = manyStaff(6) + [("S7", "Jo", "Park", "jo@district.org"), ("S8", "Jo", "Park", "jo@district.org")]
        w.write("staff.csv", staffCSV(staff))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("staff.csv", staffCSV(manyStaff(6).map { ("N" + $0.0, $0.1, $0.2, $0.3) } + [("N7", "Jo", "Park", "jo@district.org")]))
        let log = MemoryLog()
        let held = w.sync(c, log: log)
        let id = try XCTUnwrap(held.summary.runID)
        XCTAssertEqual(held.summary.outcome, .blocked)
        XCTAssertTrue(log.events.contains { $0.type == .rekeyAmbiguous && $0.message.contains("S7, S8 ↔ N7") }, "\(log.events.map(\.message))")
        let shape = try json(w.ctl(["--json", "run", "show", String(id)]).out)
        let ambiguous = try XCTUnwrap(shape["ambiguous_rekeys"] as? [[String: Any]])
        XCTAssertEqual(ambiguous.count, 1)
        XCTAssertEqual(ambiguous.first?["old"] as? [String], ["S7", "S8"])
        XCTAssertEqual(ambiguous.first?["new"] as? [String], ["N7"])
        XCTAssertEqual((shape["rekeys"] as? [Any])?.count, 6)
        let text = w.ctl(["run", "show", String(id)]).out
        XCTAssertTrue(text.contains("not carried over, more than one possible partner (1)") && text.contains("S7, S8 ↔ N7"), text)
        XCTAssertEqual(w.ctl(["run", "approve", String(id)]).code, 0)
        let store = try w.store()
        XCTAssertEqual(try store.mirror.staffMember(id: "S7")?.active, false)
        XCTAssertEqual(try store.mirror.staffMember(id: "S8")?.active, false)
        XCTAssertEqual(try store.mirror.staffMember(id: "N7")?.active, true)
        XCTAssertEqual(try store.mirror.staffMember(id: "NS1")?.active, true)
        XCTAssertNil(try store.mirror.staffMember(id: "S1"))
    }

    /// `rekey = off`: today's behaviour; three staff are below the guard's count, so the
    /// run applies at once: the old records deactivated, the new added, the auto links moved.
    func testRekeyOffDeactivatesAndAdds() throws {
        let (w, _) = try district(guard: "rekey = off")
        let c = try Configuration.load(path: w.configPath)
        Self.writeDistrict(w, id: Self.renumbered)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(run.summary.staff.deactivated, 3)
        XCTAssertEqual(run.summary.staff.added, 3)
        XCTAssertEqual(try w.store().mirror.staffMember(id: "S1")?.active, false)
        XCTAssertEqual(try w.store().rekeys.entries(run: try XCTUnwrap(run.summary.runID)), [])
        XCTAssertEqual(try hangers(w).filter { $0.hasPrefix("link ") }, ["link ana N-S1 auto", "link cleo N-S3 auto", "link intern S2 manual"])
    }

    /// `rekey = apply` carries over at once, unless a pair rests on names alone (Lee has
    /// no email): then the run is held all the same.
    func testRekeyApplyHoldsOnlyForNameOnlyPairs() throws {
        let (w, _) = try district(guard: "rekey = apply\nmax_deactivate_percent = 100")
        let c = try Configuration.load(path: w.configPath)
        Self.writeDistrict(w, id: Self.renumbered)
        let held = w.sync(c, allow: true)
        XCTAssertEqual(held.summary.outcome, .blocked, "--allow-mass-deactivation does not answer for pairs")
        XCTAssertTrue(held.summary.error?.contains("matched on names without an email") == true, held.summary.error ?? "")
        // Lee gets an email in the SIS on both sides: nothing rests on names any more.
        XCTAssertEqual(w.ctl(["run", "discard", String(try XCTUnwrap(held.summary.runID))]).code, 0)
        let db = try w.rawDatabase()
        try db.run("UPDATE students SET email = 'lee@students.org', fingerprint = 0 WHERE student_id = 'ST2'")
        w.write("students.csv", (try String(contentsOfFile: w.exportDir + "/students.csv", encoding: .utf8)).replacingOccurrences(of: "Lee,Ray,,", with: "Lee,Ray,lee@students.org,"))
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try w.store().rekeys.entries(run: try XCTUnwrap(run.summary.runID)).count, 12)
        XCTAssertEqual(try hangers(w).filter { $0.hasPrefix("link ") }, ["link ana N-S1 auto", "link cleo N-S3 auto", "link intern N-S2 manual"])
    }

    /// `run approve ID --without-rekeys`: the old way, the old records deactivated and the
    /// new added; the auto links follow the email to the new records, the manual one stays.
    func testApproveWithoutRekeys() throws {
        let (w, c) = try district()
        Self.writeDistrict(w, id: Self.renumbered)
        let id = try XCTUnwrap(w.sync(c).summary.runID)
        let approved = w.ctl(["--json", "run", "approve", String(id), "--without-rekeys"])
        XCTAssertEqual(approved.code, 0, approved.err)
        let run = try json(approved.out)
        XCTAssertEqual((run["records"] as? [String: [String: Int]])?["staff"]?["deactivated"], 3)
        XCTAssertEqual((run["records"] as? [String: [String: Int]])?["staff"]?["added"], 3)
        let store = try w.store()
        XCTAssertEqual(try store.mirror.staffMember(id: "S1")?.active, false)
        XCTAssertEqual(try store.mirror.staffMember(id: "N-S1")?.active, true)
        XCTAssertEqual(try store.rekeys.entries(run: Int64(run["run_id"] as! Int)), [])
        XCTAssertEqual(try hangers(w).filter { $0.hasPrefix("link ") }, ["link ana N-S1 auto", "link cleo N-S3 auto", "link intern S2 manual"])
        XCTAssertEqual(try store.accessCodes.accessCode(student: "N-ST3"), nil, "the code stays with the old record")
    }

    /// `run revert` of a rekey run puts the old ids back, with everything that hangs on them.
    func testRevertPutsTheOldIdsBack() throws {
        let (w, c) = try district()
        let before = try hangers(w)
        Self.writeDistrict(w, id: Self.renumbered)
        let id = try XCTUnwrap(w.sync(c).summary.runID)
        XCTAssertEqual(w.ctl(["run", "approve", String(id)]).code, 0)
        let applied = try XCTUnwrap(try w.store().auditTrail.lastRun()?.runID)
        let history = try w.store().auditTrail.history(entity: .staff, id: "N-S1").count
        let reverted = w.ctl(["run", "revert", String(applied)])
        XCTAssertEqual(reverted.code, 0, reverted.err)
        XCTAssertEqual(try hangers(w), before)
        let store = try w.store()
        XCTAssertEqual(try store.mirror.staffMember(id: "S1")?.active, true)
        XCTAssertNil(try store.mirror.staffMember(id: "N-S1"))
        XCTAssertGreaterThanOrEqual(try store.auditTrail.history(entity: .staff, id: "S1").count, history - 1, "the history moves back")
        let shown = w.ctl(["staff", "show", "S1"]).out
        XCTAssertFalse(shown.contains("formerly"), shown)
    }

    /// Infinite Campus gives every user a new `sourcedId` when a district moves from
    /// OneRoster 1.1 to 1.2: a bulk bundle where every id changed. Staff pair on email and
    /// name; students without an email on name, school and grade (so the run is held);
    /// families follow their students. After approval nothing was deactivated or added but
    /// the student the SIS is deleting (inactive on both sides, never paired).
    func testOneRosterBulkWithNewSourcedIdsIsCarriedOver() throws {
        let w = Workspace()
        OneRosterTests.writeBundle11(w)
        let c = w.configure(sync: "school_year = 2026-2027", entities: OneRosterTests.people, format: "oneroster-csv", url: w.exportDir + "/bundle")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "pat", "--email", "pat@home.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "attach", "pat", "--household", "p1"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ann", "--email", "ann.lee@district.org"]).code, 0)
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        XCTAssertEqual(try w.store().roles.of("pat").calculated.map(\.role), ["Parent"])
        // Every sourcedId renamed, wherever a file names one.
        let ids = ["t1", "t2", "a1", "s1", "s2", "s3", "p1", "g1", "r1", "x1"]
        for file in ["users.csv", "enrollments.csv"] {
            let path = w.exportDir + "/bundle/" + file
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let renamed = text.components(separatedBy: "\r\n").map { line in
                line.components(separatedBy: ",").map { ids.contains($0) ? "ic-" + $0 : $0 }.joined(separator: ",")
            }.joined(separator: "\r\n")
            try renamed.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked, held.summary.error ?? "")
        let id = try XCTUnwrap(held.summary.runID)
        let shape = try json(w.ctl(["--json", "run", "show", String(id)]).out)
        let pairs = Set((shape["rekeys"] as? [[String: Any]] ?? []).map { "\($0["entity"]!) \($0["old"]!) \($0["new"]!)" })
        for pair in ["staff t1 ic-t1", "staff t2 ic-t2", "staff a1 ic-a1", "students s1 ic-s1", "students s2 ic-s2",
                     "households p1 ic-p1", "households g1 ic-g1", "household_relationships p1/student/s1 ic-p1/student/ic-s1"] {
            XCTAssertTrue(pairs.contains(pair), "\(pair) in \(pairs.sorted())")
        }
        let approved = w.ctl(["--json", "run", "approve", String(id)])
        XCTAssertEqual(approved.code, 0, approved.err)
        let records = try XCTUnwrap(try json(approved.out)["records"] as? [String: [String: Int]])
        XCTAssertEqual(records["staff"]?["added"] ?? 0, 0)
        XCTAssertEqual(records["staff"]?["deactivated"] ?? 0, 0)
        XCTAssertEqual(records["students"]?["deactivated"] ?? 0, 0)
        XCTAssertEqual(records["students"]?["added"], 1, "ic-s3 arrives inactive (tobedeleted): nothing to pair with")
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT username, staff_id FROM links"), ["ann|ic-t1"])
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT username, record_id FROM user_attachments"), ["pat|ic-p1"])
        XCTAssertEqual(try w.store().roles.of("pat").calculated.map(\.role), ["Parent"])
        XCTAssertEqual(try w.store().roles.of("ann").calculated.map(\.role), ["Staff"])
    }

    /// `staff rekey OLD NEW`: the pair the evidence could not make (two leaving records share
    /// the arriving one's email and name) is made by hand, and the next run carries it over.
    /// OLD must be active and NEW unknown: anything else is refused.
    func testManualRekeyCarriesOverWhatTheEvidenceCannot() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(6) + [("S7", "Jo", "Park", "jo@district.org"), ("S8", "Jo", "Park", "jo@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "jo", "--email", "jo.park@district.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "link", "jo", "S7", "--reason", "the right Jo"]).code, 0)
        w.write("staff.csv", staffCSV(manyStaff(6).map { ("N" + $0.0, $0.1, $0.2, $0.3) } + [("N7", "Jo", "Park", "jo@district.org")]))
        let first = try XCTUnwrap(w.sync(c).summary.runID)
        for (args, why) in [(["staff", "rekey", "S7", "S8"], "exists already"), (["staff", "rekey", "X9", "N9"], "there is no staff record X9"),
                            (["staff", "rekey", "S7", "S7"], "nothing to carry over")] {
            let refused = w.ctl(args)
            XCTAssertEqual(refused.code, 1, args.joined(separator: " "))
            XCTAssertTrue(refused.err.contains(why), refused.err)
        }
        let asked = w.ctl(["staff", "rekey", "S7", "N7"], user: "alice")
        XCTAssertEqual(asked.code, 0, asked.err)
        XCTAssertTrue(asked.out.contains("run \(first) is held on a plan without this pair"), asked.out)
        XCTAssertEqual(w.ctl(["staff", "rekey", "S7", "N7"]).code, 1, "asked once")
        XCTAssertEqual(w.ctl(["run", "discard", String(first)]).code, 0)
        let held = w.sync(c)
        let id = try XCTUnwrap(held.summary.runID)
        let text = w.ctl(["run", "show", String(id)]).out
        XCTAssertTrue(text.contains("staff S7 → N7 (paired by alice (`sisyncctl staff rekey`))"), text)
        XCTAssertFalse(text.contains("more than one possible partner"), text)
        XCTAssertEqual(w.ctl(["run", "approve", String(id)]).code, 0)
        let store = try w.store()
        XCTAssertNil(try store.mirror.staffMember(id: "S7"))
        XCTAssertEqual(try store.mirror.staffMember(id: "S8")?.active, false)
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT username, staff_id, kind FROM links WHERE username = 'jo'"), ["jo|N7|manual"])
        XCTAssertEqual(try store.rekeyRequests(), [], "done once carried over")
    }
}
