import XCTest
@testable import SISync

/// R7 in whole runs: calculated roles follow the data on every run; manual roles are the
/// administrator's.
final class RolesTests: XCTestCase {
    static let allEntities = "staff, students, households, household_relationships, applicants, donors, attributes"

    /// A small school: two teachers, students in this year and last, families, applicants.
    static func writeSchool(_ w: Workspace, st1Status: String = "Enrolled", extraStudents: String = "", a1Status: String = "Accepted") {
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org"),
                                       ("S3", "Cleo", "Park", "cleo@district.org")]))
        w.write("students.csv", """
            student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year
            ST1,Kim,Lima,kim@students.org,101,5,\(st1Status),2026-2027
            ST2,Lee,Ray,lee@students.org,101,5,Withdrawn,2026-2027
            ST3,Max,Roe,max@students.org,101,6,Enrolled,2025-2026
            \(extraStudents)
            """)
        w.write("households.csv", "household_id,name\nH1,Lima family\nH2,Ray family\nH3,Aunt Rosa\nH4,Applicant family\nH5,Copied family\n")
        w.write("household_relationships.csv", """
            household_id,record_type,record_id,relationship
            H1,student,ST1,Parent
            H2,student,ST2,Guardian
            H3,student,ST1,Aunt
            H4,applicant,A1,Guardian
            H5,applicant,A2,Parent
            """)
        w.write("applicants.csv", """
            applicant_id,first_name,last_name,status,evaluator_staff_ids
            A1,Nia,Vale,\(a1Status),S1;S2
            A2,Oto,Wade,Copied,S3
            """)
        w.write("donors.csv", "donor_id,name,email\nD1,Brennan Trust,trust@example.org\n")
        w.write("attributes.csv", """
            record_type,record_id,attribute,school_year
            student,ST1,Honor Roll,2026-2027
            household,H1,Volunteer,
            donor,D1,Annual Fund,2026-2027
            """)
    }

    static func addUsers(_ w: Workspace) {
        let commands: [[String]] = [
            ["user", "add", "--username", "ana", "--email", "ana@district.org"],
            ["user", "add", "--username", "cleo", "--email", "cleo@district.org"],
            ["user", "add", "--username", "kim", "--email", "kim@students.org"], ["user", "attach", "kim", "--student", "ST1"],
            ["user", "add", "--username", "lee", "--email", "lee@students.org"], ["user", "attach", "lee", "--student", "ST2"],
            ["user", "add", "--username", "max", "--email", "max@students.org"], ["user", "attach", "max", "--student", "ST3"],
            ["user", "add", "--username", "mom", "--email", "mom@home.org"], ["user", "attach", "mom", "--household", "H1"],
            ["user", "add", "--username", "rosa", "--email", "rosa@home.org"], ["user", "attach", "rosa", "--household", "H3"],
            ["user", "add", "--username", "ray", "--email", "ray@home.org"], ["user", "attach", "ray", "--household", "H2"],
            ["user", "add", "--username", "vale", "--email", "vale@home.org"], ["user", "attach", "vale", "--household", "H4"],
            ["user", "add", "--username", "wade", "--email", "wade@home.org"], ["user", "attach", "wade", "--household", "H5"],
            ["user", "add", "--username", "trust", "--email", "trust@example.org"], ["user", "attach", "trust", "--donor", "D1"],
        ]
        for c in commands {
            let r = w.ctl(c)
            XCTAssertEqual(r.code, 0, "\(c): \(r.err)")
        }
    }

    private func calculated(_ w: Workspace, _ user: String) throws -> [String] {
        try w.store().roles.of(user).calculated.map(\.label).sorted()
    }

    func testR7EveryCalculatedRoleFollowsTheData() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        Self.addUsers(w)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .unchanged, "R3: same export; roles are still recomputed")
        XCTAssertEqual(try calculated(w, "ana"), ["Admissions Evaluator", "Staff"])
        XCTAssertEqual(try calculated(w, "cleo"), ["Staff"], "her applicant was copied: no evaluator role")
        XCTAssertEqual(try calculated(w, "kim"), ["Honor Roll (2026-2027)", "Student"])
        XCTAssertEqual(try calculated(w, "lee"), [], "withdrawn")
        XCTAssertEqual(try calculated(w, "max"), [], "enrolled last year only")
        XCTAssertEqual(try calculated(w, "mom"), ["Parent", "Volunteer"])
        XCTAssertEqual(try calculated(w, "rosa"), [], "Aunt is not a parent relationship by default")
        XCTAssertEqual(try calculated(w, "ray"), [], "guardian of a withdrawn student")
        XCTAssertEqual(try calculated(w, "vale"), ["Applicant"])
        XCTAssertEqual(try calculated(w, "wade"), [], "applicant already copied")
        XCTAssertEqual(try calculated(w, "trust"), ["Annual Fund (2026-2027)"])
        XCTAssertEqual(run.summary.rolesGranted, 9)
        XCTAssertEqual(run.summary.rolesRevoked, 0)
        // Every grant is a change of the run.
        let grants = try w.store().auditTrail.changes(runID: run.summary.runID!).map(\.change).filter { $0.kind == .roleGranted }
        XCTAssertEqual(grants.count, 9)
        XCTAssertTrue(grants.contains(Change(entity: "users", id: "kim", field: "role", old: nil, new: "Honor Roll (2026-2027)", kind: .roleGranted)))
        // Only attribute roles carry a school year (R7, docs/rules.md).
        let shown = w.ctl(["--json", "user", "show", "kim"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.out.utf8)) as? [String: Any])
        let roles = try XCTUnwrap(json["roles"] as? [String: Any])
        let calc = try XCTUnwrap(roles["calculated"] as? [[String: Any]])
        XCTAssertEqual(calc.count, 2)
        for r in calc {
            if r["name"] as? String == "Student" { XCTAssertTrue(r["school_year"] is NSNull) } else { XCTAssertEqual(r["school_year"] as? String, "2026-2027") }
        }
        XCTAssertEqual((json["attachments"] as? [String: Any])?["students"] as? [String], ["ST1"])
        // A run with nothing new grants and revokes nothing.
        let again = w.sync(c)
        XCTAssertEqual(again.summary.rolesGranted + again.summary.rolesRevoked, 0)
    }

    func testR7RolesAreRevokedWhenTheDataChanges() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        Self.addUsers(w)
        let granting = w.sync(c)
        // Kim withdraws, the applicant is copied into the SIS: roles go, as changes of the run.
        Self.writeSchool(w, st1Status: "Withdrawn", a1Status: "Copied")
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied)
        XCTAssertEqual(try calculated(w, "kim"), ["Honor Roll (2026-2027)"], "the attribute stays while it is in the export")
        XCTAssertEqual(try calculated(w, "mom"), ["Volunteer"])
        XCTAssertEqual(try calculated(w, "vale"), [])
        XCTAssertEqual(try calculated(w, "ana"), ["Staff"])
        XCTAssertEqual(run.summary.rolesRevoked, 4)
        let revoked = try w.store().auditTrail.changes(runID: run.summary.runID!).map(\.change).filter { $0.kind == .roleRevoked }
        XCTAssertEqual(Set(revoked.map { "\($0.id):\($0.old ?? "")" }),
                       ["kim:Student", "mom:Parent", "vale:Applicant", "ana:Admissions Evaluator"])
        // R8: the grant (recorded by the role while it is held) stays in the history after the revocation.
        let history = try w.store().auditTrail.userHistory("kim").filter { $0.change.field == "role" }
        XCTAssertEqual(history.map(\.change.kind), [.roleGranted, .roleGranted, .roleRevoked])
        XCTAssertEqual(history.last?.runID, run.summary.runID)
        XCTAssertEqual(history.first { $0.change.new == "Student" }?.runID, granting.summary.runID)
        XCTAssertTrue(try w.store().auditTrail.changes(runID: granting.summary.runID!).contains { $0.change == Change(entity: "users", id: "kim", field: "role", old: nil, new: "Student", kind: .roleGranted) })
        // Staff who leave lose Staff but keep the link (R6).
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org"),
                                       ("S3", "Cleo", "Park", "cleo@district.org")], status: ["S1": "inactive"]))
        let left = w.sync(c)
        XCTAssertEqual(left.summary.staff.deactivated, 1)
        XCTAssertEqual(try calculated(w, "ana"), [])
        XCTAssertEqual(try w.store().accounts.user("ana")?.link?.staffID, "S1")
    }

    func testR7ParentRelationshipsComeFromTheConfiguration() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", linking: "parent_relationships = Parent, Guardian, aunt", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        Self.addUsers(w)
        _ = w.sync(c)
        XCTAssertEqual(try calculated(w, "rosa"), ["Parent"], "relationships compare case-insensitively")
    }

    func testR7ManualRolesAreNeverTouchedAndMayNotTakeACalculatedName() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        Self.addUsers(w)
        XCTAssertEqual(w.ctl(["user", "role", "add", "ana", "Finance"], user: "bursar").code, 0)
        let staffByHand = w.ctl(["user", "role", "add", "lee", "staff"])
        XCTAssertEqual(staffByHand.code, 1)
        XCTAssertTrue(staffByHand.err.contains("calculated role"), staffByHand.err)
        let attribute = w.ctl(["user", "role", "add", "lee", "Honor Roll"])
        XCTAssertEqual(attribute.code, 1)
        XCTAssertTrue(attribute.err.contains("attribute role"), attribute.err)
        for _ in 0..<2 { _ = w.sync(c, force: true) }
        Self.writeSchool(w, st1Status: "Withdrawn")
        w.write("staff.csv", staffCSV([("S2", "Ben", "Okafor", "ben@district.org"), ("S3", "Cleo", "Park", "cleo@district.org")]))
        _ = w.sync(c)
        let roles = try w.store().roles.of("ana")
        XCTAssertEqual(roles.manual, ["Finance"], "sync never touches manual roles")
        XCTAssertEqual(roles.calculated, [])
        let history = try w.store().auditTrail.userHistory("ana")
        let byHand = try XCTUnwrap(history.first { $0.change.kind == .roleGranted && $0.change.new == "Finance" })
        XCTAssertEqual(byHand.actor, "bursar")
        XCTAssertNil(byHand.runID)
        XCTAssertEqual(w.ctl(["user", "role", "remove", "ana", "Finance"]).code, 0)
        XCTAssertEqual(try w.store().roles.of("ana").manual, [])
    }

    func testR7AttachAndDetachNeedARecordAndAreAudited() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "kim", "--email", "kim@students.org"]).code, 0)
        let unknown = w.ctl(["user", "attach", "kim", "--student", "ST999"])
        XCTAssertEqual(unknown.code, 1)
        XCTAssertTrue(unknown.err.contains("no student record `ST999`"), unknown.err)
        XCTAssertEqual(w.ctl(["user", "attach", "kim", "--student", "ST1", "--donor", "D1"]).code, 64, "one record at a time")
        XCTAssertEqual(w.ctl(["user", "attach", "kim", "--student", "ST1"], user: "registrar").code, 0)
        XCTAssertEqual(try w.store().accounts.attachments(of: "kim"), [.student: ["ST1"]])
        _ = w.sync(c)
        XCTAssertEqual(try calculated(w, "kim"), ["Honor Roll (2026-2027)", "Student"])
        XCTAssertEqual(w.ctl(["user", "detach", "kim", "--student", "ST1"]).code, 0)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.rolesRevoked, 2)
        XCTAssertEqual(try calculated(w, "kim"), [])
        let history = try w.store().auditTrail.userHistory("kim")
        XCTAssertTrue(history.contains { $0.actor == "registrar" && $0.change.field == "student" && $0.change.new == "ST1" })
    }

    func testR7SchoolYearRollsOverOnSchoolYearStart() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = auto\nschool_year_start = 08-15", entities: Self.allEntities)
        Self.writeSchool(w, extraStudents: "ST9,Ola,Fry,ola@students.org,101,1,Enrolled,2027-2028")
        let before = Timestamp.parse("2027-08-14T12:00:00Z")!
        let after = Timestamp.parse("2027-08-15T00:30:00Z")!
        _ = w.sync(c, at: before)
        Self.addUsers(w)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ola", "--email", "ola@students.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "attach", "ola", "--student", "ST9"]).code, 0)
        _ = w.sync(c, at: before)
        XCTAssertEqual(try calculated(w, "kim"), ["Honor Roll (2026-2027)", "Student"])
        XCTAssertEqual(try calculated(w, "ola"), [], "enrolled for next year only")
        // The export does not change; the school year does.
        let rolled = w.sync(c, at: after)
        XCTAssertEqual(rolled.summary.outcome, .unchanged)
        XCTAssertEqual(try calculated(w, "kim"), ["Honor Roll (2026-2027)"], "attribute roles keep their own year")
        XCTAssertEqual(try calculated(w, "mom"), ["Volunteer"])
        XCTAssertEqual(try calculated(w, "ola"), ["Student"])
        XCTAssertEqual(rolled.summary.rolesRevoked, 2)
        XCTAssertEqual(rolled.summary.rolesGranted, 1)
    }

    func testR7DryRunShowsRolesAndWritesNone() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        Self.addUsers(w)
        let before = try w.dump()
        let dry = w.sync(c, dryRun: true)
        XCTAssertEqual(dry.summary.rolesGranted, 9)
        XCTAssertEqual(try w.dump(), before)
    }

    /// After every run, a full recompute must find nothing to grant or revoke.
    private func assertSameAsFullRecompute(_ w: Workspace, _ c: Configuration, _ step: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = try w.store()
        let settings = RoleSettings(schoolYear: c.currentSchoolYear(on: Date()), parentRelationships: c.parentRelationships)
        let full = try store.roles.planRoles(settings)
        XCTAssertEqual(full, RolePlan(), "R7 incremental differs from a full recompute after \(step)", file: file, line: line)
    }

    /// A first run's `role.granted` events read every calculated role in the key's order
    /// (`RoleStore.calculatedRolesInKeyOrder`): the same rows as asking for the source
    /// outright, and on SQLite along the key, without sorting each user's roles again in a
    /// temporary b-tree (issue 34: that sort was half of the events' cost in a district's
    /// first linking run).
    func testR7CalculatedRolesAreReadInKeyOrderWithoutASort() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        Self.addUsers(w)
        XCTAssertEqual(w.ctl(["user", "role", "add", "kim", "Finance"]).code, 0)
        _ = w.sync(c)
        let db = try w.rawDatabase()
        func rows(_ query: SQLQuery) throws -> [String] {
            var out: [String] = []
            try db.forEachRow(query) { out.append("\($0.text(0)) \($0.text(1)) \($0.text(2))") }
            return out
        }
        let read = try rows(RoleStore.calculatedRolesInKeyOrder)
        XCTAssertEqual(read.count, 9)
        XCTAssertEqual(read, try rows("""
            SELECT x.username, x.role, x.school_year FROM user_roles x WHERE x.source = 'calculated'
            ORDER BY x.username COLLATE NOCASE, x.source, x.role, x.school_year
            """))
        guard !w.isPostgres else { return }
        var plan: [String] = []
        try db.forEachRow("EXPLAIN QUERY PLAN \(sql: RoleStore.calculatedRolesInKeyOrder)") { plan.append($0.text(3)) }
        XCTAssertFalse(plan.isEmpty)
        XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        // SQLite's own form (`+x.source`): the same rows, along the key too.
        XCTAssertEqual(try rows(RoleStore.calculatedRolesInKeyOrderOnSQLite), read)
        var sqlitePlan: [String] = []
        try db.forEachRow("EXPLAIN QUERY PLAN \(sql: RoleStore.calculatedRolesInKeyOrderOnSQLite)") { sqlitePlan.append($0.text(3)) }
        XCTAssertEqual(sqlitePlan, ["SCAN x"], "along the key, without a sort")
    }

    /// A run with no calculated role stored yet (a district's first) writes its grants as the
    /// rules find them, on SQLite without staging them first: the same grants, listed and
    /// counted as the staged plan lists them, recorded as the run's, next to a manual role
    /// of the same user, and nothing left for a full recompute. A later run stages again.
    func testR7FirstGrantsWrittenDirectlyAreThoseTheStagedPlanFinds() throws {
        let w = Workspace()
        // The records' run (no users yet) computed the roles for another school year, so
        // the run with users recomputes everyone, as a district's first linking run does
        // (its user import is more changes than `RoleStore.incrementalLimit`).
        let earlier = w.configure(sync: "school_year = 2025-2026", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(earlier)
        Self.addUsers(w)
        XCTAssertEqual(w.ctl(["user", "role", "add", "kim", "Finance"]).code, 0)
        w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        try (String(contentsOfFile: w.configPath, encoding: .utf8) + "\n[events]\nenabled = true\n").write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let c = try Configuration.load(path: w.configPath)
        let head = try w.store().events.head()
        let first = w.sync(c)
        let plan = try XCTUnwrap(first.plan?.roles)
        let runID = try XCTUnwrap(first.summary.runID)
        XCTAssertTrue(plan.grantsStored, "a first run writes its grants as it finds them (PostgreSQL: each desired role once, in bulk)")
        XCTAssertEqual(first.summary.rolesGranted, 9)
        XCTAssertEqual(plan.grantedCount, 9)

        let store = try w.store()
        // Their events: one `role.granted` a grant, in the order the grants are listed.
        let granted = try store.events.events(after: head, limit: 1000).events.filter { $0.type == "role.granted" }.map { e -> String in
            let data = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(e.data.utf8)) as? [String: String])
            return "\(e.subject) \(data["role"] ?? "?") \(data["school_year"] ?? "?") \(data["source"] ?? "?")"
        }
        let listed = plan.granted.map { #"{"username":"\#($0.username)"} \#($0.role) \#($0.schoolYear) calculated"# }
        XCTAssertEqual(w.isPostgres ? granted.sorted() : granted, w.isPostgres ? listed.sorted() : listed)
        let settings = RoleSettings(schoolYear: "2026-2027", parentRelationships: c.parentRelationships)
        // The staged plan over the same data, without the run's grants (rolled back).
        let staged = try store.database.transaction(commit: false) {
            try store.database.execute("DELETE FROM user_roles WHERE source = 'calculated'")
            return try store.roles.planRoles(settings)
        }
        XCTAssertFalse(staged.grantsStored)
        XCTAssertEqual(plan.granted, staged.granted, "the same grants, in the same order")
        XCTAssertEqual(plan.grantedCount, staged.grantedCount)
        XCTAssertEqual(staged.revokedCount, 0)
        XCTAssertEqual(try store.database.int("SELECT count(*) FROM user_roles WHERE source = 'calculated' AND granted_run = \(runID)"), 9,
                       "each grant is recorded as the run's")
        XCTAssertEqual(try store.roles.of("kim").manual, ["Finance"])
        XCTAssertEqual(try calculated(w, "kim"), ["Honor Roll (2026-2027)", "Student"])
        try assertSameAsFullRecompute(w, c, "the first run's grants")

        // Calculated roles are stored now: the next run's are staged and compared with them.
        Self.writeSchool(w, st1Status: "Withdrawn")
        let next = w.sync(c, allow: true)
        XCTAssertEqual(next.summary.outcome, .applied)
        XCTAssertEqual(next.plan?.roles.grantsStored, false)
        XCTAssertGreaterThan(next.summary.rolesRevoked, 0)
        try assertSameAsFullRecompute(w, c, "a run after the first grants")
    }

    /// Two spellings of one user in the rules' rows (`mom` attached to H1 and `MOM` to H3,
    /// both parents of an enrolled student; `MOM` paired with that student too): a first
    /// run's grants, merged in username order (`RoleRules.firstGrants`), keep the spelling
    /// the rules written one by one keep, the row of the earlier rule and, within a rule,
    /// of the earlier record: every `user_roles` row, byte for byte, as a staged recompute
    /// writes it. (A merge by the usernames' bytes would keep `MOM`, which sorts first.)
    /// A first run's grants are written with SQLite's per-row reference checks set aside
    /// (each username comes from a row that refers to its user), but not when an
    /// application has a trigger on `user_roles`: what the trigger writes is checked, as in
    /// any later run.
    func testR7AnApplicationsTriggerOnUserRolesKeepsTheFirstGrantsChecks() throws {
        let w = Workspace()
        guard !w.isPostgres else { return }
        let db = try Self.usersBeforeTheirFirstRoles(w)
        try db.execute("""
            CREATE TABLE app_role_log (username TEXT NOT NULL REFERENCES users(username), role TEXT NOT NULL);
            CREATE TRIGGER app_role_logged AFTER INSERT ON user_roles BEGIN
              INSERT INTO app_role_log (username, role) VALUES (new.username || '-gone', new.role);
            END;
            """)
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        let refused = w.sync(c)
        XCTAssertEqual(refused.summary.outcome, .failed, "the trigger's rows name no user")
        XCTAssertEqual(try db.int("SELECT count(*) FROM app_role_log"), 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM user_roles WHERE source = 'calculated'"), 0, "rolled back (R1)")
        try db.execute("DROP TRIGGER app_role_logged")
        let first = w.sync(c)
        XCTAssertNil(first.summary.error)
        XCTAssertGreaterThan(first.summary.rolesGranted, 0)
        XCTAssertEqual(first.plan?.roles.grantsStored, true, "the first grants, as the rules find them")
    }

    /// A first run's grants are written `INSERT OR FAIL` (no statement journal), but not
    /// when an application has a trigger on `user_roles`: the outer statement's `OR FAIL`
    /// would override the trigger's own conflict clauses, and an application's `INSERT OR
    /// IGNORE` of a user it has seen (a user with two roles fires it twice) would fail the
    /// run instead of ignoring the second.
    func testR7FirstGrantsLeaveAnApplicationsTriggerItsOwnConflictClauses() throws {
        let w = Workspace()
        guard !w.isPostgres else { return }
        let db = try Self.usersBeforeTheirFirstRoles(w)
        try db.execute("""
            CREATE TABLE app_seen (username TEXT NOT NULL PRIMARY KEY);
            CREATE TRIGGER app_user_seen AFTER INSERT ON user_roles BEGIN
              INSERT OR IGNORE INTO app_seen (username) VALUES (new.username);
            END;
            """)
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        let first = w.sync(c)
        XCTAssertNil(first.summary.error)
        let grants = try XCTUnwrap(db.int("SELECT count(*) FROM user_roles WHERE source = 'calculated'"))
        let users = try XCTUnwrap(db.int("SELECT count(DISTINCT username) FROM user_roles WHERE source = 'calculated'"))
        XCTAssertGreaterThan(grants, users, "some user has two roles: the trigger met a user twice")
        XCTAssertEqual(try db.int("SELECT count(*) FROM app_seen"), users, "the second of each was ignored")
        XCTAssertFalse("\(RoleRules.firstGrants(schoolYear: "2026-2027", parentRelationships: "[]", run: 1))".contains("OR FAIL"))
        XCTAssertTrue("\(RoleRules.firstGrants(schoolYear: "2026-2027", parentRelationships: "[]", run: 1, failingInPlace: true))".contains("INSERT OR FAIL INTO user_roles"))
    }

    /// The school mirrored (school year 2025-2026) and its users added, none granted a
    /// calculated role yet for the year the next run computes; the raw database to add an
    /// application's objects to.
    private static func usersBeforeTheirFirstRoles(_ w: Workspace) throws -> any StoreDatabase {
        let earlier = w.configure(sync: "school_year = 2025-2026", entities: allEntities)
        writeSchool(w)
        _ = w.sync(earlier)
        addUsers(w)
        return try w.rawDatabase()
    }

    /// A first run's calculated grants (`username role school_year granted_run`, in key
    /// order), and the same rows written by the staged path over the same data: the rules
    /// one by one into `temp.desired_roles`, the first of each kept, then granted (rolled
    /// back after).
    private func firstGrantsAndStagedRows(_ w: Workspace, _ c: Configuration, file: StaticString = #filePath, line: UInt = #line) throws -> (written: [String], staged: [String]) {
        let first = w.sync(c)
        XCTAssertEqual(first.plan?.roles.grantsStored, true, "the first grants are written as the rules find them", file: file, line: line)
        let store = try w.store()
        func rows() throws -> [String] {
            var out: [String] = []
            try store.database.forEachRow("""
                SELECT username, role, school_year, granted_run FROM user_roles WHERE source = 'calculated'
                ORDER BY username COLLATE NOCASE, role, school_year
                """) { out.append("\($0.text(0)) \($0.text(1)) \($0.text(2)) \($0.int64(3))") }
            return out
        }
        let written = try rows()
        let runID = try XCTUnwrap(first.summary.runID, file: file, line: line)
        let staged = try store.database.transaction(commit: false) { () -> [String] in
            try store.database.execute("DELETE FROM user_roles WHERE source = 'calculated'")
            let plan = try store.roles.planRoles(RoleSettings(schoolYear: "2026-2027", parentRelationships: c.parentRelationships))
            XCTAssertFalse(plan.grantsStored, file: file, line: line)
            try store.roles.applyRoles(plan, runID: runID, events: store.events.none())
            return try rows()
        }
        return (written, staged)
    }

    func testR7FirstGrantsKeepTheSpellingTheRulesOneByOneKeep() throws {
        let w = Workspace()
        let earlier = w.configure(sync: "school_year = 2025-2026", entities: Self.allEntities)
        Self.writeSchool(w)
        // H3 becomes a second parent household of ST1.
        w.write("household_relationships.csv", """
            household_id,record_type,record_id,relationship
            H1,student,ST1,Parent
            H2,student,ST2,Guardian
            H3,student,ST1,Parent
            H4,applicant,A1,Guardian
            H5,applicant,A2,Parent
            """)
        _ = w.sync(earlier)
        Self.addUsers(w)
        let db = try w.rawDatabase()
        try db.execute("""
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('MOM', 'household', 'H3');
            INSERT INTO access_pairings (username, student_id, paired_at) VALUES ('MOM', 'ST1', '2026-09-01T00:00:00Z');
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('Kim', 'household', 'H1');
            """)
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        let (written, staged) = try firstGrantsAndStagedRows(w, c)
        XCTAssertTrue(written.contains { $0.hasPrefix("mom Parent ") }, "\(written)")
        XCTAssertFalse(written.contains { $0.hasPrefix("MOM ") }, "\(written)")
        XCTAssertTrue(written.contains { $0.hasPrefix("kim Student ") } && written.contains { $0.hasPrefix("Kim Parent ") }, "\(written)")
        XCTAssertEqual(written, staged)

        // On SQLite the rules' rows come in username order, merged without a sort, so each
        // grant is added at the end of `user_roles`' b-tree.
        guard !w.isPostgres else { return }
        try db.execute("CREATE TEMP TABLE IF NOT EXISTS evaluator_staff (staff_id TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID")
        var plan: [String] = []
        try db.forEachRow("EXPLAIN QUERY PLAN \(sql: RoleRules.firstGrants(schoolYear: "2026-2027", parentRelationships: RoleSettings(schoolYear: "2026-2027", parentRelationships: c.parentRelationships).relationshipsKey, run: 1, failingInPlace: true))") {
            plan.append($0.text(3))
        }
        XCTAssertTrue(plan.contains { $0.contains("MERGE (UNION ALL)") }, "\(plan)")
        XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        XCTAssertFalse(plan.contains { $0.contains("user_attachments_by_record") }, "the attachments along their key: \(plan)")
    }

    /// SQLite's first grants compare statuses and relationships with `nocase`, not `lower`,
    /// and look for attribute roles only on the kinds of record that have attributes
    /// (`RoleRules.caseFolded`): the same grants in the same spelling as the staged rules,
    /// which keep `lower`, for statuses and relationships in capitals, with an accented
    /// capital (which neither folds), for a household that is both a
    /// parent's and an applicant's, and for an attribute named as a rule's role (`Parent`,
    /// no school year) on a record attached in another spelling: the rule's row is kept,
    /// as the rules one by one keep it.
    func testR7FirstGrantsFoldCaseAsTheStagedRulesDo() throws {
        let w = Workspace()
        let earlier = w.configure(sync: "school_year = 2025-2026", linking: "parent_relationships = Parent, Guardian", entities: Self.allEntities)
        Self.writeSchool(w, st1Status: "ENROLLED", extraStudents: """
            ST4,Ola,Lima,ola@students.org,101,3,ENROLLÉ,2026-2027
            ST5,Pia,Lima,pia@students.org,101,3,Énrolled,2026-2027
            ST6,Quy,Lima,quy@students.org,101,3,eNrOlLeD,2026-2027
            """, a1Status: "COPIED")
        w.write("household_relationships.csv", """
            household_id,record_type,record_id,relationship
            H1,student,ST1,PARENT
            H1,applicant,A2,gUARDIAN
            H2,student,ST6,Guardian
            H3,student,ST4,Parent
            H4,student,ST5,Parent
            H4,applicant,A1,Guardian
            H5,applicant,A2,PÁRENT
            """)
        w.write("applicants.csv", """
            applicant_id,first_name,last_name,status,evaluator_staff_ids
            A1,Nia,Vale,COPIED,S1;S2
            A2,Oto,Wade,COPIÉD,S3
            """)
        w.write("attributes.csv", """
            record_type,record_id,attribute,school_year
            student,ST1,Honor Roll,2026-2027
            student,ST1,Parent,
            household,H1,Volunteer,
            donor,D1,Annual Fund,2026-2027
            """)
        _ = w.sync(earlier)
        Self.addUsers(w)
        let db = try w.rawDatabase()
        try db.execute("""
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('MOM', 'student', 'ST1');
            INSERT INTO user_attachments (username, kind, record_id) VALUES ('Kim', 'household', 'H2');
            """)
        let c = w.configure(sync: "school_year = 2026-2027", linking: "parent_relationships = Parent, Guardian", entities: Self.allEntities)
        let (written, staged) = try firstGrantsAndStagedRows(w, c)
        XCTAssertTrue(written.contains { $0.hasPrefix("mom Parent  ") }, "the Parent rule's row, not the attribute's: \(written)")
        XCTAssertFalse(written.contains { $0.hasPrefix("MOM Parent") }, "\(written)")
        XCTAssertTrue(written.contains { $0.hasPrefix("MOM Student ") }, "ENROLLED is enrolled: \(written)")
        XCTAssertTrue(written.contains { $0.hasPrefix("ray Parent ") } && written.contains { $0.hasPrefix("Kim Parent ") }, "\(written)")
        XCTAssertTrue(written.contains { $0.hasPrefix("mom Applicant ") }, "COPIÉD is not copied: \(written)")
        XCTAssertFalse(written.contains { $0.hasPrefix("rosa ") || $0.hasPrefix("vale ") || $0.hasPrefix("wade ") }, "\(written)")
        XCTAssertEqual(written, staged)
    }

    /// Only SQLite's first grants fold case with `nocase`, and only relationship names with
    /// no NUL, where SQLite's `nocase` stops comparing (`RoleRules.namesFoldByCollation`).
    func testR7RelationshipNamesWithANulAreMatchedWithLower() {
        let plain = RoleSettings(schoolYear: "2026-2027", parentRelationships: ["Parent", "Guardian"]).relationshipsKey
        let nul = RoleSettings(schoolYear: "2026-2027", parentRelationships: ["Parent", "Pa\u{0}rent"]).relationshipsKey
        XCTAssertTrue(RoleRules.namesFoldByCollation(plain))
        XCTAssertFalse(RoleRules.namesFoldByCollation(nul), nul)
        func text(_ q: SQLQuery) -> String { "\(q)" }
        let first = text(RoleRules.firstGrants(schoolYear: "2026-2027", parentRelationships: plain, run: 1))
        XCTAssertFalse(first.contains("lower("), first)
        XCTAssertTrue(first.contains("r.relationship COLLATE NOCASE IN"), first)
        XCTAssertTrue(text(RoleRules.firstGrants(schoolYear: "2026-2027", parentRelationships: nul, run: 1)).contains("lower(r.relationship) IN"))
        let staged = RoleRules.statements(scoped: false, schoolYear: "2026-2027", parentRelationships: plain).map { text($0.sql) }.joined()
        XCTAssertTrue(staged.contains("lower(st.enrollment_status) = 'enrolled'") && !staged.contains("NOCASE"), staged)
    }

    /// A first run's grants are written without evaluating `user_roles`' `CHECK` per row
    /// (`StoreDatabase.trustingChecks`): on SQLite the checks are off inside, and as they
    /// were after, also when the body throws, and for a statement prepared inside and run
    /// again after (the connection caches its statements).
    func testR7TrustingChecksSetsTheChecksAsideOnlyInside() throws {
        let w = Workspace()
        guard !w.isPostgres else { return }
        _ = w.sync(w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities))
        let store = try w.store()
        let db = store.database
        try db.execute("INSERT INTO users (username, email, name, approved, created_at) VALUES ('ana', 'ana@x.org', 'Ana', TRUE, '2026-01-01T00:00:00Z')")
        let bogus: SQLQuery = "INSERT INTO user_roles (username, role, source) VALUES ('ana', 'X', 'bogus')"
        XCTAssertEqual(try db.trustingChecks { try db.int("PRAGMA ignore_check_constraints") }, 1)
        XCTAssertEqual(try db.int("PRAGMA ignore_check_constraints"), 0)
        struct Stop: Error {}
        XCTAssertThrowsError(try db.trustingChecks { throw Stop() })
        XCTAssertEqual(try db.int("PRAGMA ignore_check_constraints"), 0)
        // Inside, the check is not evaluated: the row goes in (and out again).
        try db.trustingChecks {
            try db.run(bogus)
            try db.execute("DELETE FROM user_roles WHERE source = 'bogus'")
        }
        XCTAssertThrowsError(try db.run(bogus), "the same statement, after: its CHECK on source is evaluated again") { error in
            XCTAssertTrue("\(error)".contains("CHECK"), "\(error)")
        }
        XCTAssertEqual(try db.int("SELECT count(*) FROM user_roles WHERE source = 'bogus'"), 0)
    }

    /// The Admissions Evaluator rule's staff: every value of every `;`-separated list, once,
    /// empty values none, compared by bytes as `temp.evaluator_staff`'s key compares them
    /// (two spellings of `é`, composed and decomposed, are two staff ids there).
    func testR7EvaluatorListsNameEachStaffIdOnceByItsBytes() {
        func named(_ lists: [String]) -> [String] {
            EvaluatorNames.named(in: lists.map { Array($0.utf8) }).map { String(decoding: $0, as: UTF8.self) }
        }
        XCTAssertEqual(named(["S2;S1", ";S1;;S3;", "S 4", ""]), ["S 4", "S1", "S2", "S3"])
        XCTAssertEqual(named([";", ";;"]), [])
        let composed = "S\u{E9}", decomposed = "Se\u{301}"
        XCTAssertEqual(named([composed + ";" + decomposed]).map { Array($0.utf8) }, [Array(decomposed.utf8), Array(composed.utf8)])
    }

    /// A first run splits evaluator lists in Swift (`EvaluatorNames`), a later run's
    /// recompute for changed applicants in SQL (`listItems`): R7 gives the same roles only if
    /// the two agree on every list the import admits (valid UTF-8, no control characters),
    /// on both stores.
    func testR7TheSwiftAndSQLListSplittersNameTheSameStaff() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let db = try w.rawDatabase()
        let lists = ["S2;S1", ";S1;;S3;", "S 4", "", ";", "a;b;a", "S\u{E9};Se\u{301}", "\u{1F600};x;\u{1F600}", "ünï;ÜNÏ", "x" + String(repeating: ";y", count: 200)]
        try db.execute("CREATE TEMP TABLE evaluator_lists (v TEXT NOT NULL)")
        for list in lists { try db.run("INSERT INTO temp.evaluator_lists (v) VALUES (\(list))") }
        var fromSQL = Set<[UInt8]>()
        try db.forEachRow("\(sql: RoleRules.listItems("l.v", rows: "FROM temp.evaluator_lists l")) SELECT value FROM list_items WHERE value <> ''") {
            fromSQL.insert(Array($0.text(0).utf8))
        }
        let fromSwift = EvaluatorNames.named(in: lists.map { Array($0.utf8) })
        XCTAssertEqual(fromSwift.count, Set(fromSwift).count, "each once")
        XCTAssertEqual(Set(fromSwift), fromSQL)
        XCTAssertEqual(fromSQL.count, 13, "composed and decomposed é are two ids, as both keys compare them")
    }

    func testR7IncrementalRecomputeEqualsAFullRecompute() throws {
        let w = Workspace()
        var c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        Self.addUsers(w)
        var grantedTotal = w.sync(c).summary.rolesGranted
        try assertSameAsFullRecompute(w, c, "the first run with users")
        XCTAssertNotNil(try w.store().roles.roleBasis())

        // Students withdraw, evaluators move, a relationship changes, attributes come and go.
        Self.writeSchool(w, st1Status: "Withdrawn")
        w.write("applicants.csv", "applicant_id,first_name,last_name,status,evaluator_staff_ids\nA1,Nia,Vale,Accepted,S3\nA2,Oto,Wade,Accepted,S3\n")
        w.write("household_relationships.csv", """
            household_id,record_type,record_id,relationship
            H1,student,ST1,Parent
            H2,student,ST2,Guardian
            H3,student,ST3,Parent
            H4,applicant,A1,Guardian
            H5,applicant,A2,Parent
            """)
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\nhousehold,H1,Volunteer,\ndonor,D1,Board,\n")
        let day = w.sync(c)
        XCTAssertEqual(day.summary.outcome, .applied)
        try assertSameAsFullRecompute(w, c, "a day of changes")
        XCTAssertEqual(try calculated(w, "cleo"), ["Admissions Evaluator", "Staff"])
        XCTAssertEqual(try calculated(w, "ana"), ["Staff"])
        XCTAssertEqual(try calculated(w, "wade"), ["Applicant"])
        XCTAssertEqual(try calculated(w, "trust"), ["Board"])
        grantedTotal += day.summary.rolesGranted

        // Administrators change attachments and links between runs; the export does not change.
        for args in [["user", "detach", "mom", "--household", "H1"], ["user", "attach", "mom", "--household", "H2"],
                     ["user", "link", "lee", "S3", "--reason", "student teacher"],
                     ["user", "add", "--username", "newkid", "--email", "new@students.org"], ["user", "attach", "newkid", "--student", "ST3"],
                     ["user", "remove", "kim"]] {
            XCTAssertEqual(w.ctl(args).code, 0, "\(args)")
        }
        let unchanged = w.sync(c)
        XCTAssertEqual(unchanged.summary.outcome, .unchanged)
        XCTAssertGreaterThan(unchanged.summary.rolesGranted + unchanged.summary.rolesRevoked, 0)
        try assertSameAsFullRecompute(w, c, "administrator changes")
        XCTAssertEqual(try calculated(w, "lee"), ["Admissions Evaluator", "Staff"])

        // Staff leave; a new student enrolls into an existing family.
        Self.writeSchool(w, st1Status: "Withdrawn", extraStudents: "ST10,Ivy,Ray,ivy@students.org,101,1,Enrolled,2026-2027")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org"),
                                       ("S3", "Cleo", "Park", "cleo@district.org")], status: ["S3": "inactive"]))
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\nH2,student,ST10,Guardian\n")
        _ = w.sync(c)
        try assertSameAsFullRecompute(w, c, "staff leaving and a new student")
        XCTAssertEqual(try calculated(w, "mom"), ["Parent"])
        XCTAssertEqual(try calculated(w, "cleo"), [])

        // A configuration change recomputes everyone, even when the export did not change.
        c = w.configure(sync: "school_year = 2026-2027", linking: "parent_relationships = Parent, Guardian, Aunt", entities: Self.allEntities)
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\nH2,student,ST10,Guardian\nH3,student,ST10,Aunt\n")
        _ = w.sync(c)
        try assertSameAsFullRecompute(w, c, "a configuration change")
        XCTAssertEqual(try calculated(w, "rosa"), ["Parent"])
        XCTAssertGreaterThan(grantedTotal, 0)
    }

    func testR7RoleInputChangesComeFromThePlan() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: Self.allEntities)
        Self.writeSchool(w)
        _ = w.sync(c)
        Self.writeSchool(w, st1Status: "Withdrawn", a1Status: "Copied")
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\nhousehold,H1,Volunteer,\n")
        let run = w.sync(c, dryRun: true)
        let changes = RoleInputChanges(try XCTUnwrap(run.plan))
        XCTAssertEqual(changes.students, ["ST1"])
        XCTAssertEqual(changes.applicants, ["A1"])
        XCTAssertEqual(changes.attributeRecords, [RoleInputChanges.RecordRef(type: "donor", id: "D1")])
        XCTAssertEqual(changes.staff, [])
    }
}

extension EvaluatorNames {
    /// Each id of `lists` once, in byte order, as a run writes them.
    static func named(in lists: [[UInt8]]) -> [[UInt8]] {
        var names = EvaluatorNames()
        for list in lists { list.withUnsafeBufferPointer { names.add(list: $0) } }
        var out: [[UInt8]] = []
        names.forEachOnce { out.append(Array($0)) }
        return out
    }
}
