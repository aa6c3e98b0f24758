import XCTest
@testable import SISync

/// Whole runs against a real SQLite file in a temporary folder.
final class SyncRunTests: XCTestCase {
    func testR4R8FirstImportThenChangesAreMirroredAndRecorded() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(30)))
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        XCTAssertEqual(first.summary.staff.added, 30)

        var next = manyStaff(30)
        next[0].1 = "Renamed"
        next.removeLast()                    // S30 leaves
        w.write("staff.csv", staffCSV(next))
        let second = w.sync(c)
        XCTAssertEqual(second.summary.outcome, .applied)
        XCTAssertEqual(second.summary.staff, RecordCounts(added: 0, updated: 1, deactivated: 1, reactivated: 0))

        let store = try w.store()
        let s30 = try XCTUnwrap(store.mirror.staffMember(id: "S30"))
        XCTAssertFalse(s30.active, "R4: absent staff are deactivated, not deleted")
        XCTAssertNotNil(s30.deactivatedAt)
        let history = try store.auditTrail.history(entity: .staff, id: "S1")
        XCTAssertEqual(history.map(\.change.kind), [.added, .updated])
        XCTAssertEqual(history.last?.change.old, "First1")
        XCTAssertEqual(history.last?.change.new, "Renamed")
        XCTAssertEqual(history.last?.runID, second.summary.runID)

        // R4: a returning id is the same record, reactivated, history kept.
        w.write("staff.csv", staffCSV(manyStaff(30)))
        let third = w.sync(c)
        XCTAssertEqual(third.summary.staff.reactivated, 1)
        XCTAssertTrue(try XCTUnwrap(store.mirror.staffMember(id: "S30")).active)
        XCTAssertEqual(try store.auditTrail.history(entity: .staff, id: "S30").map(\.change.kind), [.added, .deactivated, .reactivated])
    }

    /// The planner reads the stored values of changed records in batches of
    /// `Planner.fieldBatch`, after the scan of the stored records: more changed records than
    /// one batch must each get their field changes, and records whose values did not change
    /// none. So many rows are matched on a second thread while the store is read
    /// (`StoredRecordFeed`), on each store.
    func testR4R8ChangedRecordsBeyondOneBatchAreAllCompared() throws {
        let w = Workspace()
        let c = w.configure()
        let n = Planner.fieldBatch + 1_500
        XCTAssertGreaterThanOrEqual(n, Planner(deactivateAfter: 0, now: Date()).matchedAlongsideFrom)
        w.write("staff.csv", largeStaffCSV(n))
        XCTAssertEqual(w.sync(c).summary.staff.added, n)
        // Every second record changes its title; the rest are unchanged.
        var text = "staff_id,first_name,last_name,email,title,school_ids,status\n"
        for i in 1...n { text += "S\(i),First\(i),Lé\(i),user\(i)@district.org,\(i % 2 == 0 ? "Counselor" : "Teacher"),101,active\n" }
        w.write("staff.csv", text)
        let second = w.sync(c)
        XCTAssertEqual(second.summary.outcome, .applied, second.summary.error ?? "")
        XCTAssertEqual(second.summary.staff, RecordCounts(added: 0, updated: n / 2, deactivated: 0, reactivated: 0))
        let store = try w.store()
        for id in ["S2", "S\(n - 1 - (n - 1) % 2)"] {
            XCTAssertEqual(try store.mirror.staffMember(id: id)?.title, "Counselor")
            let last = try store.auditTrail.history(entity: .staff, id: id).last?.change
            XCTAssertEqual(last?.field, "title")
            XCTAssertEqual(last?.old, "Teacher")
            XCTAssertEqual(last?.new, "Counselor")
        }
        XCTAssertEqual(try store.auditTrail.history(entity: .staff, id: "S1").map(\.change.kind), [.added])
        XCTAssertEqual(try store.auditTrail.changes(runID: XCTUnwrap(second.summary.runID)).count, n / 2)
    }

    func testR4StatusInactiveDeactivatesAtOnceEvenWithDeactivateAfter() throws {
        let w = Workspace()
        let c = w.configure(sync: "deactivate_after = 24h")
        w.write("staff.csv", staffCSV(manyStaff(20)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("staff.csv", staffCSV(manyStaff(20), status: ["S2": "inactive"]))
        XCTAssertEqual(w.sync(c).summary.staff.deactivated, 1)
        XCTAssertFalse(try XCTUnwrap(w.store().mirror.staffMember(id: "S2")).active)
    }

    func testR4DeactivateAfterShowsMissingSinceAndActsOnUnchangedRuns() throws {
        let w = Workspace()
        let c = w.configure(sync: "deactivate_after = 24h")
        let t0 = Timestamp.parse("2026-09-01T06:00:00Z")!
        w.write("staff.csv", staffCSV(manyStaff(20)))
        _ = w.sync(c, at: t0)
        w.write("staff.csv", staffCSV(Array(manyStaff(20).dropLast())))
        let missing = w.sync(c, at: t0.addingTimeInterval(3600))
        XCTAssertEqual(missing.summary.staff.deactivated, 0)
        XCTAssertEqual(try XCTUnwrap(w.store().mirror.staffMember(id: "S20")).missingSince, "2026-09-01T07:00:00Z")
        // Same export a day later: R3 says unchanged, yet deactivate_after is evaluated.
        let later = w.sync(c, at: t0.addingTimeInterval(26 * 3600))
        XCTAssertEqual(later.summary.outcome, .unchanged)
        XCTAssertEqual(later.summary.staff.deactivated, 1)
        let s20 = try XCTUnwrap(w.store().mirror.staffMember(id: "S20"))
        XCTAssertFalse(s20.active)
        XCTAssertNil(s20.missingSince)
    }

    /// R3 per file: a file identical to the last applied run's is not parsed again, yet its
    /// records still reach `deactivate_after`, and a revert or `--force` reads everything.
    func testR3UnchangedFilesAreNotParsedAgain() throws {
        let w = Workspace()
        let c = w.configure(sync: "deactivate_after = 24h", entities: "staff, students")
        let t0 = Timestamp.parse("2026-09-01T06:00:00Z")!
        let students = "student_id,first_name,last_name,email,school_id,grade,enrollment_status,school_year\n"
        w.write("staff.csv", staffCSV(manyStaff(20)))
        w.write("students.csv", students + "ST1,Kim,Lee,,101,5,Enrolled,2026-2027\n")
        _ = w.sync(c, at: t0)
        // Staff changes (S20 goes missing), students do not: only staff is parsed.
        w.write("staff.csv", staffCSV(Array(manyStaff(20).dropLast())))
        let first = w.sync(c, at: t0.addingTimeInterval(3600))
        XCTAssertEqual(first.plan?.unchangedFiles, [.students])
        XCTAssertNil(first.plan?.snapshot?.entities[.students])
        XCTAssertNotNil(first.plan?.snapshot?.entities[.staff])
        // A day later only students change: staff is not parsed, and S20 reaches deactivate_after.
        w.write("students.csv", students + "ST1,Kim,Lee,,101,5,Withdrawn,2026-2027\n")
        let later = w.sync(c, at: t0.addingTimeInterval(26 * 3600))
        XCTAssertEqual(later.summary.outcome, .applied)
        XCTAssertEqual(later.plan?.unchangedFiles, [.staff])
        XCTAssertEqual(later.summary.staff.deactivated, 1)
        XCTAssertEqual(later.summary.entities["students"]?.updated, 1)
        XCTAssertFalse(try XCTUnwrap(w.store().mirror.staffMember(id: "S20")).active)
        // --force reads every file.
        XCTAssertEqual(w.sync(c, force: true, at: t0.addingTimeInterval(27 * 3600)).plan?.unchangedFiles, [])
        // After a revert, the mirror no longer matches the stored files: everything is read.
        XCTAssertEqual(w.ctl(["run", "revert", String(try XCTUnwrap(later.summary.runID))]).code, 0)
        let afterRevert = w.sync(c, at: t0.addingTimeInterval(28 * 3600))
        XCTAssertEqual(afterRevert.plan?.unchangedFiles, [])
        XCTAssertEqual(afterRevert.summary.staff.deactivated, 1, "S20 is still absent and long past deactivate_after")
    }

    func testR3UnchangedExportIsNotReplanned() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(10)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let again = w.sync(c)
        XCTAssertEqual(again.summary.outcome, .unchanged)
        XCTAssertNil(again.plan?.snapshot, "R3: the roster is not parsed again")
        XCTAssertEqual(w.sync(c, force: true).summary.outcome, .applied)
        XCTAssertEqual(try w.store().auditTrail.runs(limit: 10).map(\.outcome), [.applied, .unchanged, .applied])
    }

    func testR1FailedRunLeavesDataExactlyAsBeforeAndRecordsWhy() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, students")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        w.write("students.csv", "student_id,first_name,last_name,enrollment_status,school_year\nST1,A,B,Enrolled,2026-2027\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let before = try w.dump().filter { !$0.hasPrefix("runs:") }

        // Staff changes, but students.csv is malformed: nothing at all may be applied.
        w.write("staff.csv", staffCSV(Array(manyStaff(10).dropLast())))
        w.write("students.csv", "student_id,first_name,last_name,enrollment_status,school_year\nST1,\"A,B,Enrolled,2026-2027\n")
        let failed = w.sync(c)
        XCTAssertEqual(failed.summary.outcome, .failed)
        XCTAssertEqual(failed.summary.exitCode, 65)
        XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs:") }, before)
        let record = try XCTUnwrap(w.store().auditTrail.run(id: failed.summary.runID!))
        XCTAssertEqual(record.outcome, .failed)
        XCTAssertTrue(record.error?.contains("students.csv:2") == true, record.error ?? "")
    }

    func testR1ConfiguredEntityThatCannotBeFetchedFailsTheRun() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, donors")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        let r = w.sync(c)
        XCTAssertEqual(r.summary.outcome, .failed)
        XCTAssertEqual(r.summary.exitCode, 69)
        XCTAssertTrue(r.summary.error?.contains("donors.csv") == true)
        XCTAssertTrue(try w.store().mirror.staff(filter: .all, search: nil).isEmpty, "never read as empty, never half applied")
    }

    func testR5GuardBlocksAndTheOverrideWorksOnce() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(100)))
        _ = w.sync(c)
        w.write("staff.csv", staffCSV(Array(manyStaff(100).prefix(80))))
        let log = MemoryLog()
        let blocked = w.sync(c, log: log)
        XCTAssertEqual(blocked.summary.outcome, .blocked)
        XCTAssertEqual(blocked.summary.exitCode, 65)
        XCTAssertEqual(try w.store().mirror.staff(filter: .active, search: nil).count, 100, "nothing applied")
        let critical = log.events.first { $0.type == .guardBlocked }
        XCTAssertEqual(critical?.priority, .critical)
        XCTAssertTrue(critical?.message.contains("--allow-mass-deactivation") == true)
        XCTAssertTrue(critical?.message.contains("20 of 100") == true)

        let allowed = w.sync(c, allow: true)
        XCTAssertEqual(allowed.summary.outcome, .applied)
        XCTAssertEqual(allowed.summary.staff.deactivated, 20)
        // The override was for one run only: another mass removal is blocked again.
        w.write("staff.csv", staffCSV(Array(manyStaff(100).prefix(50))))
        XCTAssertEqual(w.sync(c).summary.outcome, .blocked)
    }

    func testR2BadRowIsReportedAndItsRecordLeftUntouched() throws {
        let w = Workspace()
        let c = w.configure(sync: "max_invalid_rows = 5")
        w.write("staff.csv", staffCSV(manyStaff(10)))
        _ = w.sync(c)
        var text = staffCSV(manyStaff(10))
        text = text.replacingOccurrences(of: "S3,First3,Last3,user3@district.org", with: "S3,First3,Renamed,not an email")
        w.write("staff.csv", text)
        let r = w.sync(c)
        XCTAssertEqual(r.summary.outcome, .applied)
        XCTAssertEqual(r.summary.problems.count, 1)
        XCTAssertTrue(r.summary.problems[0].contains("staff.csv:4"), r.summary.problems[0])
        let s3 = try XCTUnwrap(w.store().mirror.staffMember(id: "S3"))
        XCTAssertTrue(s3.active)
        XCTAssertEqual(s3.lastName, "Last3")
    }

    func testDryRunWritesNothingNotEvenTheDatabaseFile() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(5)))
        let dry = w.sync(c, dryRun: true)
        XCTAssertEqual(dry.summary.outcome, .applied)
        XCTAssertEqual(dry.plan?.changes().count, 5)
        XCTAssertFalse(FileManager.default.fileExists(atPath: w.database))

        _ = w.sync(c)
        let before = try w.dump()
        w.write("staff.csv", staffCSV(Array(manyStaff(5).dropFirst())))
        let dry2 = w.sync(c, dryRun: true)
        XCTAssertEqual(dry2.summary.staff.deactivated, 1)
        XCTAssertEqual(try w.dump(), before)
    }

    func testJSONExportRunsLikeCSV() throws {
        let w = Workspace()
        w.write("export.json", """
            {"format": "sisync-export", "version": 1, "generated_at": "2026-09-01T06:00:00Z",
             "staff": [{"staff_id": "S1", "first_name": "Zoë", "last_name": "O'Brien", "email": "zoe@d.org", "school_ids": ["101"]}],
             "students": [{"student_id": "ST1", "first_name": "A", "last_name": "B", "enrollment_status": "Enrolled", "school_year": "2026-2027"}]}
            """)
        let c = w.configure(entities: "staff, students", format: "json", url: w.exportDir + "/export.json")
        let r = w.sync(c)
        XCTAssertEqual(r.summary.outcome, .applied, r.summary.error ?? "")
        XCTAssertEqual(r.summary.entities["students"]?.added, 1)
        XCTAssertEqual(try w.store().mirror.staffMember(id: "S1")?.firstName, "Zoë")
    }

    func testCompositeKeysMirrorRelationshipsAndAttributes() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, household_relationships, attributes")
        w.write("staff.csv", staffCSV(manyStaff(1)))
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\nH1,student,ST2,Guardian\n")
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\nstudent,ST1,Honor Roll,2025-2026\n")
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Grandparent\n")
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\n")
        let r = w.sync(c)
        XCTAssertEqual(r.summary.entities["household_relationships"], RecordCounts(added: 0, updated: 1, deactivated: 1, reactivated: 0))
        XCTAssertEqual(r.summary.entities["attributes"], RecordCounts(added: 0, updated: 0, deactivated: 1, reactivated: 0))
        let changes = try w.store().auditTrail.changes(runID: r.summary.runID!).map(\.change)
        XCTAssertTrue(changes.contains(Change(entity: "household_relationships", id: "H1/student/ST1", field: "relationship", old: "Parent", new: "Grandparent", kind: .updated)))
        XCTAssertTrue(changes.contains { $0.id == "student/ST1/Honor Roll/2025-2026" && $0.kind == .deactivated })
    }

    /// Issue 34, the database's size: an attribute has no data columns, so its fingerprint
    /// (the digest of no values, the same in every row) is kept as 0, which SQLite stores
    /// in no bytes. The other entities keep their digests; a re-plan of the same export
    /// still finds no attribute to update, and one that left and came back is reactivated.
    func testAttributesKeepAZeroFingerprintAndStillCompareAsBefore() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, attributes")
        w.write("staff.csv", staffCSV(manyStaff(2)))
        let both = "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\nhousehold,H1,Volunteer,\n"
        w.write("attributes.csv", both)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM attributes WHERE fingerprint = 0"), 2)
        XCTAssertEqual(try db.int("SELECT count(*) FROM staff WHERE fingerprint <> 0"), 2)
        let unchanged = RecordCounts(added: 0, updated: 0, deactivated: 0, reactivated: 0)
        let replan = w.sync(c, force: true)
        XCTAssertEqual(replan.summary.outcome, .applied, replan.summary.error ?? "")
        XCTAssertEqual(replan.summary.entities["attributes"] ?? unchanged, unchanged)
        w.write("attributes.csv", "record_type,record_id,attribute,school_year\nstudent,ST1,Honor Roll,2026-2027\n")
        XCTAssertEqual(w.sync(c).summary.entities["attributes"], RecordCounts(added: 0, updated: 0, deactivated: 1, reactivated: 0))
        w.write("attributes.csv", both)
        XCTAssertEqual(w.sync(c).summary.entities["attributes"], RecordCounts(added: 0, updated: 0, deactivated: 0, reactivated: 1))
        XCTAssertEqual(try w.rawDatabase().int("SELECT count(*) FROM attributes WHERE fingerprint = 0 AND active = TRUE"), 2)
    }

    func testR8HistoryOlderThanHistoryDaysIsPruned() throws {
        let w = Workspace()
        let c = w.configure(sync: "history_days = 30")
        let t0 = Timestamp.parse("2026-01-01T06:00:00Z")!
        w.write("staff.csv", staffCSV(manyStaff(3)))
        _ = w.sync(c, at: t0)
        var renamed = manyStaff(3)
        renamed[0].1 = "Renamed"
        w.write("staff.csv", staffCSV(renamed))
        _ = w.sync(c, at: t0.addingTimeInterval(86_400))
        XCTAssertEqual(try w.store().auditTrail.history(entity: .staff, id: "S1").map(\.change.kind), [.added, .updated])
        w.write("staff.csv", staffCSV(renamed + [("S4", "A", "B", "s4@d.org")]))
        _ = w.sync(c, at: t0.addingTimeInterval(20 * 86_400))
        XCTAssertEqual(try w.store().auditTrail.history(entity: .staff, id: "S1").count, 2, "kept for at least history_days")
        w.write("staff.csv", staffCSV(renamed + [("S4", "A", "B", "s4@d.org"), ("S5", "A", "B", "s5@d.org")]))
        _ = w.sync(c, at: t0.addingTimeInterval(32 * 86_400))
        // The update is pruned; the record's addition is part of the record (`added_run`) and stays.
        XCTAssertEqual(try w.store().auditTrail.history(entity: .staff, id: "S1").map(\.change.kind), [.added])
        XCTAssertEqual(try w.store().auditTrail.history(entity: .staff, id: "S5").count, 1)
    }

    func testR8ChangeLogViewShowsAdditionsAndChanges() throws {
        let w = Workspace()
        let c = w.configure(entities: "staff, household_relationships")
        w.write("staff.csv", staffCSV(manyStaff(2)))
        w.write("household_relationships.csv", "household_id,record_type,record_id,relationship\nH1,student,ST1,Parent\n")
        let first = w.sync(c)
        w.write("staff.csv", staffCSV(Array(manyStaff(2).prefix(1))))
        let second = w.sync(c)
        let db = try w.rawDatabase()
        var rows: [String] = []
        try db.prepare("SELECT run_id, entity, record_id, kind FROM change_log ORDER BY run_id, entity, record_id").forEachRow {
            rows.append("\($0.int(0)) \($0.text(1)) \($0.text(2)) \($0.text(3))")
        }
        let r1 = first.summary.runID!, r2 = second.summary.runID!
        XCTAssertEqual(rows, ["\(r1) household_relationships H1/student/ST1 added", "\(r1) staff S1 added", "\(r1) staff S2 added",
                              "\(r2) staff S2 deactivated"])
        XCTAssertEqual(try w.store().auditTrail.changes(runID: r1).count, 3)
    }

    func testSchemaMigratesFromAnEmptyDatabaseAndRefusesANewerOne() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's own migrations (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let raw = try SQLiteDatabase(path: w.database)
        XCTAssertEqual(try raw.userVersion, 0)
        _ = try RosterStore(path: w.database)
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion)
        for table in ["runs", "changes", "staff", "students", "household_relationships", "users", "links"] {
            XCTAssertTrue(try raw.tableExists(table), table)
        }
        try raw.setUserVersion(Schema.currentVersion + 1)
        XCTAssertThrowsError(try RosterStore(path: w.database)) { e in
            guard case .newerSchema? = e as? StoreError else { return XCTFail("\(e)") }
        }
    }

    /// Issue 26 item 16 on SQLite: a database a newer sisync migrated is exit 75 naming both
    /// versions and what to do; a negative user_version is a clear exit 73 (it was a
    /// negative index into the migrations); neither is changed.
    func testANewerSQLiteSchemaIsExit75AndANegativeVersionIsAClearError() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's user_version (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let raw = try SQLiteDatabase(path: w.database)
        try raw.setUserVersion(Schema.currentVersion + 1)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.exitCode, 75)
        let status = w.ctl(["status"])
        XCTAssertEqual(status.code, 75, status.err)
        for message in [run.summary.error ?? "", status.err] {
            XCTAssertTrue(message.contains("version \(Schema.currentVersion + 1), newer than this sisync understands"), message)
            XCTAssertTrue(message.contains("knows versions up to \(Schema.currentVersion)"), message)
            XCTAssertTrue(message.contains("Upgrade sisync on this host"), message)
        }
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion + 1)
        try raw.setUserVersion(-3)
        let negative = w.sync(c)
        XCTAssertEqual(negative.summary.exitCode, 73)
        XCTAssertTrue(negative.summary.error?.contains("version -3, which no sisync wrote") == true, negative.summary.error ?? "")
        XCTAssertEqual(w.ctl(["status"]).code, 73)
        XCTAssertEqual(try raw.userVersion, -3)
    }

    /// Version 1 to 2: the change log keeps its entries; user tables appear.
    func testR8MigrationFromVersion1KeepsTheChangeLog() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's own migrations (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let raw = try SQLiteDatabase(path: w.database)
        try Migrator().migrate(raw, to: 1)
        try raw.execute("""
            INSERT INTO runs (run_id, started_at, outcome, actor) VALUES (7, '2026-01-01T00:00:00Z', 'applied', 'sync');
            INSERT INTO changes (run_id, entity, record_id, field, old_value, new_value, kind) VALUES (7, 'staff', 'S1', 'title', 'Aide', 'Teacher', 'updated');
            """)
        let store = try RosterStore(path: w.database)
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion)
        XCTAssertEqual(try store.auditTrail.history(entity: .staff, id: "S1").map(\.change.new), ["Teacher"])
        for table in ["user_attachments", "user_roles", "user_schools", "user_ledgers", "role_basis"] { XCTAssertTrue(try raw.tableExists(table), table) }
    }

    /// Version 5 to 6: staff gain `enabled`, and their fingerprints are extended so that the
    /// same export changes nothing after the upgrade (R4: only what changed is written).
    func testR4MigrationToVersion6KeepsStaffUnchanged() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's own migrations (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        let c = w.configure()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let raw = try SQLiteDatabase(path: w.database)
        try Migrator().migrate(raw, to: 5)
        // What sisync stored at version 5: the values' 64-bit digest (48 bits since version 17).
        let old = EntityRows.digest(values: ["Ann", "Lee", "ann@district.org", "Teacher", "101"])
        try raw.execute("INSERT INTO runs (run_id, started_at, finished_at, outcome, actor) VALUES (1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 'applied', 'sync')")
        try raw.execute("INSERT INTO staff (staff_id, first_name, last_name, email, title, school_ids, added_run, updated_run, fingerprint) VALUES ('S1', 'Ann', 'Lee', 'ann@district.org', 'Teacher', '101', 1, 1, \(Int64(bitPattern: old)))")
        w.write("staff.csv", "staff_id,first_name,last_name,email,title,school_ids\nS1,Ann,Lee,ann@district.org,Teacher,101\n")
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion)
        XCTAssertEqual(run.plan?.plan(for: .staff)?.updates.count, 0)
        let stored = try raw.prepare("SELECT fingerprint FROM staff WHERE staff_id = 'S1'")
        XCTAssertTrue(try stored.step())
        XCTAssertEqual(StoredFingerprint(.staff).fingerprint(stored.int64(0)), EntityRows.fingerprint(values: ["Ann", "Lee", "ann@district.org", "Teacher", "101", ""]),
                       "the upgrade must not make every staff record look changed")
        XCTAssertEqual(try w.store().mirror.staffMember(id: "S1")?.enabled, true)
    }

    /// Version 6 to 7 (issue 16): users and attachments gain `added_by`; users added before
    /// keep their history (in `changes`), and nothing of theirs shows twice.
    func testR8MigrationToVersion7KeepsUsersAndTheirHistory() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's own migrations (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        _ = w.configure()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let raw = try SQLiteDatabase(path: w.database)
        try Migrator().migrate(raw, to: 6)
        try raw.execute("""
            INSERT INTO users (username, email, approved, created_at) VALUES ('u1', 'user1@district.org', 1, '2026-01-01T00:00:00Z');
            INSERT INTO changes (entity, record_id, new_value, kind, actor, at) VALUES ('users', 'u1', 'user1@district.org', 'added', 'admin', '2026-01-01T00:00:00Z');
            """)
        let history = try w.store().auditTrail.userHistory("u1")
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion)
        XCTAssertEqual(history.map(\.change.kind), [.added])
        XCTAssertEqual(history.first?.actor, "admin")
        let log = try raw.prepare("SELECT count(*) FROM change_log WHERE entity = 'users'")
        XCTAssertTrue(try log.step())
        XCTAssertEqual(log.int(0), 1)
    }

    /// Version 7 to 8 (held runs): the runs stay, a run blocked before the upgrade has no
    /// hold to approve, and the next blocked run is held.
    func testR5MigrationToVersion8KeepsRunsAndHoldsTheNextBlockedRun() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's own migrations (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        let c = w.configure()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let raw = try SQLiteDatabase(path: w.database)
        try Migrator().migrate(raw, to: 7)
        try raw.execute("INSERT INTO runs (started_at, outcome, actor, error) VALUES ('2026-01-01T00:00:00Z', 'blocked', 'sync', 'blocked by the guard (R5): old')")
        let old = try XCTUnwrap(w.store().auditTrail.run(id: 1))
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion)
        XCTAssertEqual(old.outcome, .blocked)
        XCTAssertNil(old.hold)
        XCTAssertTrue(w.ctl(["run", "approve", "1"]).err.contains("run 1 was not held"))
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write("staff.csv", staffCSV(Array(manyStaff(50))))
        let held = w.sync(c)
        XCTAssertNotNil(try w.store().auditTrail.hold(run: held.summary.runID!))
    }

    /// Version 2 to 3: users and their roles stay; the role basis starts empty, so the first
    /// run after the upgrade recomputes every user (R7).
    func testR7MigrationFromVersion2RecomputesEveryoneOnce() throws {
        try XCTSkipIf(TestStore.isPostgres, "SQLite's own migrations (the PostgreSQL schema's are in PostgresSchemaTests)")
        let w = Workspace()
        let c = w.configure()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let raw = try SQLiteDatabase(path: w.database)
        try Migrator().migrate(raw, to: 2)
        try raw.execute("""
            INSERT INTO users (username, email, approved, created_at) VALUES ('u1', 'user1@district.org', 1, '2026-01-01T00:00:00Z');
            INSERT INTO user_roles (username, role, source, school_year) VALUES ('u1', 'Library', 'manual', '');
            """)
        w.write("staff.csv", staffCSV(manyStaff(3)))
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try raw.userVersion, Schema.currentVersion)
        XCTAssertEqual(try w.store().roles.of("u1").manual, ["Library"])
        XCTAssertEqual(try w.store().roles.of("u1").calculated.map(\.role), ["Staff"])
        XCTAssertNotNil(try w.store().roles.roleBasis())
    }

    func testR9SecondWriterIsRefusedNamingThePid() throws {
        let w = Workspace()
        try FileManager.default.createDirectory(atPath: w.root + "/db", withIntermediateDirectories: true)
        let held = try DaemonLock(location: w.location)
        XCTAssertThrowsError(try DaemonLock(location: w.location)) { e in
            // PostgreSQL names the holder's host and sisync process id, not the server's
            // backend pid (from the holder's application_name).
            let holder = TestStore.isPostgres ? "\(ProcessInfo.processInfo.processName.hasPrefix("sisync") ? ProcessInfo.processInfo.processName : "sisync") on \(ProcessInfo.processInfo.hostName) pid \(getpid())" : "pid \(getpid())"
            XCTAssertEqual(e as? StoreError, .locked(path: w.location.display, holder: holder))
        }
        _ = held
        if TestStore.isPostgres {
            // Another schema is another lock.
            let other = Workspace()
            XCTAssertNoThrow(try DaemonLock(location: other.location))
        }
    }
}
