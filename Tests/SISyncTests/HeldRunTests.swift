import XCTest
@testable import SISync
@testable import SISyncControl

/// Issue 17, section 1: a run the guard blocks is held with its plan (R5); an administrator
/// approves exactly that plan or discards it. Real runs on real stores (both stores).
final class HeldRunTests: XCTestCase {
    private static let day: TimeInterval = 86_400
    private var day: TimeInterval { Self.day }

    /// 100 staff applied, then an export without S81–S100 and with S1's title changed:
    /// 20 of 100 is over the default 10% and 5, so the run is held.
    private func heldWorkspace(guard lines: String = "", log: MemoryLog = MemoryLog(), at date: Date = Date()) -> (Workspace, Configuration, SyncRun.Result) {
        let w = Workspace()
        let c = w.configure(guard: lines)
        w.write("staff.csv", staffCSV(manyStaff(100)))
        XCTAssertEqual(w.sync(c, at: date).summary.outcome, .applied)
        w.write("staff.csv", broken)
        let held = w.sync(c, at: date, log: log)
        XCTAssertEqual(held.summary.outcome, .blocked, held.summary.error ?? "")
        return (w, c, held)
    }

    private var broken: String {
        var rows = Array(manyStaff(100).prefix(80))
        rows[0].3 = "s1.new@district.org"
        return staffCSV(rows)
    }

    private func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testR5BlockedRunIsHeldWithItsPlanAndRunShowListsIt() throws {
        let log = MemoryLog()
        let (w, _, held) = heldWorkspace(log: log)
        XCTAssertEqual(held.summary.exitCode, 65)
        let id = try XCTUnwrap(held.summary.runID)
        XCTAssertEqual(held.summary.standingHold, id)
        let critical = try XCTUnwrap(log.events.first { $0.type == .guardBlocked })
        XCTAssertEqual(critical.priority, .critical)
        for part in ["20 of 100 active staff (20%, limits: 10% and 5 records)", "sisyncctl run approve \(id)", "sisyncctl run discard \(id)",
                     "sisyncctl run show \(id)", "sisyncctl sync --allow-mass-deactivation"] {
            XCTAssertTrue(critical.message.contains(part), "\(part) in: \(critical.message)")
        }
        let shown = w.ctl(["--json", "run", "show", String(id)])
        XCTAssertEqual(shown.code, 0, shown.err)
        let run = try json(shown.out)
        XCTAssertEqual(run["outcome"] as? String, "blocked")
        XCTAssertEqual(run["held"] as? Bool, true)
        XCTAssertEqual((run["hold"] as? [String: Any])?["state"] as? String, "held")
        XCTAssertTrue((run["error"] as? String)?.contains("20 of 100 active staff") == true)
        let changes = try XCTUnwrap(run["changes"] as? [[String: Any]])
        let deactivated = changes.filter { $0["kind"] as? String == "deactivated" }.compactMap { $0["id"] as? String }
        XCTAssertEqual(Set(deactivated), Set((81...100).map { "S\($0)" }))
        XCTAssertTrue(changes.contains { $0["kind"] as? String == "updated" && $0["id"] as? String == "S1" && $0["new"] as? String == "s1.new@district.org" })
        XCTAssertEqual(changes.count, 21)
        XCTAssertEqual(try w.store().mirror.state(for: .staff).activeCount(), 100, "nothing applied")
        let text = w.ctl(["run", "show", String(id)]).out
        XCTAssertTrue(text.contains("changes the held plan would make (21)"), text)
        XCTAssertTrue(text.contains("`sisyncctl run approve \(id)` applies exactly this plan"), text)
        let status = w.ctl(["status"]).out
        XCTAssertTrue(status.contains("held run: \(id)"), status)
        XCTAssertEqual(try json(w.ctl(["--json", "status"]).out)["held_run"] as? Int, Int(id))
        XCTAssertEqual(try w.store().metricsTotals().heldRun, id)
    }

    /// The approval applies the plan that was reviewed, even when the export has changed
    /// since; it is a new run naming the held one, by the approving administrator.
    func testR5ApproveAppliesExactlyTheHeldPlan() throws {
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        // The SIS moves on: a re-plan would now deactivate S71–S100 and add S200.
        w.write("staff.csv", staffCSV(Array(manyStaff(70)) + [("S200", "New", "Person", "s200@district.org")]))
        let approved = w.ctl(["--json", "run", "approve", String(id)], user: "alice")
        XCTAssertEqual(approved.code, 0, approved.err)
        let run = try json(approved.out)
        XCTAssertEqual(run["approves"] as? Int, Int(id))
        XCTAssertEqual(run["outcome"] as? String, "applied")
        XCTAssertEqual(run["actor"] as? String, "alice")
        XCTAssertEqual(run["trigger"] as? String, "approve")
        let store = try w.store()
        let active = try store.mirror.staff(filter: .active, search: nil).map(\.staffID)
        XCTAssertEqual(Set(active), Set((1...80).map { "S\($0)" }), "exactly the held plan")
        XCTAssertEqual(try store.mirror.staffMember(id: "S1")?.email, "s1.new@district.org")
        let approving = try XCTUnwrap(run["run_id"] as? Int)
        XCTAssertEqual(try store.auditTrail.changes(runID: Int64(approving)).filter { $0.change.kind == .deactivated }.count, 20)
        let hold = try XCTUnwrap(store.auditTrail.hold(run: id))
        XCTAssertEqual(hold.ended, .approved)
        XCTAssertEqual(hold.endedBy, "alice")
        XCTAssertEqual(hold.endedRun, Int64(approving))
        XCTAssertNil(try store.auditTrail.standingHold(at: Date()))
        // Approving again is refused: the hold ended.
        let again = w.ctl(["run", "approve", String(id)])
        XCTAssertEqual(again.code, 1)
        XCTAssertTrue(again.err.contains("no longer held") && again.err.contains("sisyncctl sync"), again.err)
        // The held export, seen again, is what the mirror now holds (R3).
        w.write("staff.csv", broken)
        XCTAssertEqual(w.sync(c).summary.outcome, .unchanged)
    }

    /// R9 refined: an approval waits for the run lock, never for the daemon to stop.
    func testR5R9ApproveWhileTheDaemonIsUp() throws {
        let w = Workspace()
        w.configure(sync: "interval = 1h")
        w.write("staff.csv", staffCSV(manyStaff(100)))
        let child = try RunningDaemon(["--config", w.configPath])
        defer { if child.process.isRunning { child.process.terminate() } }
        XCTAssertTrue(child.waitFor("run 1 applied"), child.seen)
        w.write("staff.csv", broken)
        kill(child.pid, SIGUSR1)
        XCTAssertTrue(child.waitFor("sisyncctl run approve 2"), child.seen)
        let approve = try runProcess("sisyncctl", ["--config", w.configPath, "run", "approve", "2"])
        XCTAssertEqual(approve.code, 0, approve.stderr)
        XCTAssertTrue(approve.stdout.contains("approved held run 2: run 3: applied"), approve.stdout)
        kill(child.pid, SIGUSR1)
        XCTAssertTrue(child.waitFor("run 4 unchanged"), child.seen)
        XCTAssertEqual(try w.store().mirror.state(for: .staff).activeCount(), 80)
        kill(child.pid, SIGTERM)
        XCTAssertEqual(child.exited.wait(timeout: .now() + 5), .success)
    }

    /// A plan made against a mirror that has changed since is refused, naming what changed.
    func testR5ApproveIsRefusedWhenTheStoreChangedSince() throws {
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        // An administrator's change to the users: the plan's links were made without it.
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u1", "--email", "user1@district.org"], user: "bob").code, 0)
        let refused = w.ctl(["run", "approve", String(id)])
        XCTAssertEqual(refused.code, 1)
        XCTAssertTrue(refused.err.contains("the store changed since run \(id) was held (bob changed user u1"), refused.err)
        XCTAssertTrue(refused.err.contains("sisyncctl sync"), refused.err)
        XCTAssertEqual(try w.store().mirror.state(for: .staff).activeCount(), 100, "nothing applied")
        // Another run applies: the hold ends, and approving it is refused.
        XCTAssertEqual(w.sync(c, allow: true).summary.outcome, .applied)
        let hold = try XCTUnwrap(w.store().auditTrail.hold(run: id))
        XCTAssertEqual(hold.ended, .superseded)
        let late = w.ctl(["run", "approve", String(id)])
        XCTAssertEqual(late.code, 1)
        XCTAssertTrue(late.err.contains("run \(id) is no longer held") && late.err.contains("sisyncctl sync"), late.err)
        XCTAssertEqual(w.ctl(["run", "approve", "1"]).err.contains("run 1 was not held"), true)
        XCTAssertEqual(w.ctl(["run", "approve", "99"]).code, 1)
        XCTAssertEqual(w.ctl(["run", "approve", "x"]).code, 64)
    }

    /// A login lockout or a parent's pairing does not make the plan stale; a user removed
    /// does, and then the same export is planned again instead of "still held".
    func testR5OnlyChangesThePlanDependsOnRefuseTheApproval() throws {
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u1", "--email", "someone@home.org"]).code, 0)
        XCTAssertEqual(w.ctl(["run", "approve", String(id)]).code, 1, "a user added since")
        let again = w.sync(c)
        XCTAssertEqual(again.summary.outcome, .blocked)
        let newID = try XCTUnwrap(again.summary.runID)
        XCTAssertEqual(again.summary.standingHold, newID, "planned again: a new hold, not 'still held'")
        // A password set and failed logins (a lockout) are no reason to refuse.
        XCTAssertEqual(w.ctl(["user", "passwd", "u1"], input: ["a long enough passphrase"]).code, 0)
        for _ in 0..<5 { _ = w.ctl(["user", "login", "u1"], input: ["wrong"]) }
        XCTAssertTrue(try w.store().accounts.user("u1")?.locked == true)
        let approved = w.ctl(["--json", "run", "approve", String(newID)])
        XCTAssertEqual(approved.code, 0, approved.err)
        XCTAssertEqual(try w.store().mirror.state(for: .staff).activeCount(), 80)
    }

    /// `sisyncctl sync --json` of a held run says so, as `run show` does.
    func testR5SyncJSONOfAHeldRunSaysHeld() throws {
        let (w, _, _) = heldWorkspace()
        w.write("staff.csv", staffCSV(Array(manyStaff(60))))
        let sync = w.ctl(["--json", "sync"])
        XCTAssertEqual(sync.code, 65)
        let run = try json(sync.out)
        XCTAssertEqual(run["held"] as? Bool, true)
        XCTAssertEqual((run["hold"] as? [String: Any])?["state"] as? String, "held")
    }

    func testR5DiscardDropsTheHoldAndRecordsWho() throws {
        let log = MemoryLog()
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        let console = CapturedConsole()
        let code = ControlCommand(console: console, environment: ["USER": "carol"], log: log).run(["--config", w.configPath, "run", "discard", String(id)])
        XCTAssertEqual(code, 0, console.stderr)
        let hold = try XCTUnwrap(w.store().auditTrail.hold(run: id))
        XCTAssertEqual(hold.ended, .discarded)
        XCTAssertEqual(hold.endedBy, "carol")
        XCTAssertEqual(log.events.first { $0.type == .holdEnded }?.message, "held run \(id) discarded by carol; nothing of it was applied")
        XCTAssertEqual(try w.store().mirror.state(for: .staff).activeCount(), 100)
        let shown = try json(w.ctl(["--json", "run", "show", String(id)]).out)
        XCTAssertEqual((shown["hold"] as? [String: Any])?["state"] as? String, "discarded")
        XCTAssertEqual((shown["changes"] as? [Any])?.count, 21, "what was discarded stays readable")
        XCTAssertEqual(w.ctl(["run", "discard", String(id)]).code, 1)
        XCTAssertEqual(w.ctl(["run", "approve", String(id)]).code, 1)
        // With no hold standing, the same export is judged, and held, again.
        let again = w.sync(c)
        XCTAssertEqual(again.summary.outcome, .blocked)
        XCTAssertEqual(again.summary.standingHold, again.summary.runID)
    }

    /// Issue 28: a cycle on the same export while a run is held says "still held"; once the
    /// hold is discarded, `status` no longer says it is.
    func testStatusAfterDiscardNoLongerSaysStillHeld() throws {
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        let again = w.sync(c)
        XCTAssertTrue(again.summary.error?.hasPrefix("still held: run \(id)") ?? false, again.summary.error ?? "")
        XCTAssertTrue(w.ctl(["status"]).out.contains("still held"), "the hold stands: said")
        XCTAssertEqual(w.ctl(["run", "discard", String(id)]).code, 0)
        let status = w.ctl(["status"])
        XCTAssertEqual(status.code, 0, status.err)
        XCTAssertFalse(status.out.contains("still held"), status.out)
        XCTAssertTrue(status.out.contains("run \(id) was held for review; that hold has ended"), status.out)
        XCTAssertFalse(w.ctl(["--json", "status"]).out.contains("still held"))
    }

    func testR5HoldExpiresAfterHeldPlanDays() throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let (w, c, held) = heldWorkspace(guard: "held_plan_days = 2", at: start)
        XCTAssertEqual(c.guardSettings.heldPlanDays, 2)
        let id = try XCTUnwrap(held.summary.runID)
        let store = try w.store()
        XCTAssertEqual(try store.auditTrail.standingHold(at: start.addingTimeInterval(day))?.runID, id)
        XCTAssertNil(try store.auditTrail.standingHold(at: start.addingTimeInterval(3 * day)))
        var options = SyncRun.Options()
        options.actor = "alice"
        let late = SyncRun(configuration: c, options: options, log: MemoryLog(), clock: { start.addingTimeInterval(3 * Self.day) })
        XCTAssertThrowsError(try late.approve(run: id, store: store)) { e in
            XCTAssertEqual(e as? HoldError, .expired(id, at: Timestamp.format(start.addingTimeInterval(2 * day))))
            XCTAssertTrue("\(e)".contains("[guard] held_plan_days") && "\(e)".contains("sisyncctl sync"), "\(e)")
        }
        XCTAssertEqual(try store.mirror.state(for: .staff).activeCount(), 100)
        // After the expiry the same export is judged again: a new hold.
        let next = w.sync(c, at: start.addingTimeInterval(3 * day))
        XCTAssertEqual(next.summary.outcome, .blocked)
        XCTAssertEqual(next.summary.standingHold, next.summary.runID)
        XCTAssertNotEqual(next.summary.runID, id)
        XCTAssertEqual(try store.auditTrail.hold(run: id)?.state(at: start.addingTimeInterval(3 * day)), "expired", "not superseded by the new hold")
        // Within the hold, an approval at the clock's time applies.
        let approved = try SyncRun(configuration: c, options: options, log: MemoryLog(), clock: { start.addingTimeInterval(4 * Self.day) })
            .approve(run: next.summary.runID!, store: store)
        XCTAssertEqual(approved.summary.outcome, .applied)
        XCTAssertEqual(try store.mirror.state(for: .staff).activeCount(), 80)
        // A bad value is refused like every key.
        XCTAssertThrowsError(try Configuration.parse(text: "[guard]\nheld_plan_days = 0\n", path: "/etc/sisync/sisync.conf")) { e in
            XCTAssertTrue("\(e)".contains("sisync.conf:2: [guard] held_plan_days"), "\(e)")
        }
    }

    /// While a hold stands, the same export neither holds again nor raises a second alarm;
    /// a changed export is planned again and its hold replaces the first.
    func testR5NoSecondHoldOnTheSameExport() throws {
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        let log = MemoryLog()
        let again = w.sync(c, log: log)
        XCTAssertEqual(again.summary.outcome, .blocked)
        XCTAssertEqual(again.summary.exitCode, 65)
        XCTAssertEqual(again.summary.standingHold, id)
        XCTAssertNil(try w.store().auditTrail.hold(run: again.summary.runID!), "no second held run")
        XCTAssertTrue(again.summary.error?.hasPrefix("still held: run \(id) (approve or discard it") == true, again.summary.error ?? "")
        let notices = log.events.filter { $0.type == .guardBlocked }
        XCTAssertEqual(notices.map(\.priority), [.notice])
        XCTAssertEqual(notices.first?.message, "still held: run \(id) (approve or discard it)")
        XCTAssertEqual(Scheduler.statusLine(held.summary, next: Date(), timeZone: TimeZone(identifier: "UTC")!).contains("last run \(id) held"), true)
        // A changed export is planned again: a new hold, and the first one ends.
        w.write("staff.csv", staffCSV(Array(manyStaff(70))))
        let changed = w.sync(c)
        XCTAssertEqual(changed.summary.outcome, .blocked)
        let newID = try XCTUnwrap(changed.summary.runID)
        XCTAssertEqual(changed.summary.standingHold, newID)
        XCTAssertEqual(try w.store().auditTrail.hold(run: id)?.ended, .superseded)
        XCTAssertEqual(w.ctl(["run", "approve", String(id)]).code, 1)
        // The same export under other settings (a raised threshold) is planned again.
        let raised = w.configure(guard: "max_deactivate_percent = 50")
        let passed = w.sync(raised)
        XCTAssertEqual(passed.summary.outcome, .applied, passed.summary.error ?? "")
        XCTAssertEqual(passed.summary.staff.deactivated, 30)
        XCTAssertEqual(try w.store().auditTrail.hold(run: newID)?.ended, .superseded)
        _ = c
    }

    /// A later run that applies ends the hold; the next bad export is held anew.
    func testR5NewHoldAfterAnAppliedRun() throws {
        let (w, c, held) = heldWorkspace()
        let id = try XCTUnwrap(held.summary.runID)
        // The SIS is fixed: a small everyday change applies.
        w.write("staff.csv", staffCSV(Array(manyStaff(99))))
        let fixed = w.sync(c)
        XCTAssertEqual(fixed.summary.outcome, .applied)
        XCTAssertNil(fixed.summary.standingHold)
        XCTAssertEqual(try w.store().auditTrail.hold(run: id)?.ended, .superseded)
        XCTAssertEqual(try w.store().auditTrail.hold(run: id)?.endedRun, fixed.summary.runID)
        XCTAssertEqual(try w.store().metricsTotals().heldRun, 0)
        w.write("staff.csv", broken)
        let again = w.sync(c)
        XCTAssertEqual(again.summary.outcome, .blocked)
        XCTAssertEqual(again.summary.standingHold, again.summary.runID, "a new hold")
        XCTAssertEqual(again.summary.error?.contains("sisyncctl run approve \(again.summary.runID!)"), true)
    }

    /// A held plan with links and roles survives the store: what it keeps reads back whole.
    func testHeldPlanRoundTrips() throws {
        var rows = EntityRows(kind: .staff, source: "staff.csv")
        try rows.append(key: "S9", values: ["Ana", "Núñez", "ana@district.org", "Teacher", "101;102", "true"].map { Array($0.utf8)[...] }, inactive: false, location: 2)
        try rows.append(key: "S1", values: ["Bo", "Lee", "bo@district.org", "", "101", "true"].map { Array($0.utf8)[...] }, inactive: false, location: 3)
        var p = EntityPlan(kind: .staff, activeBefore: 10, exportEmpty: false)
        p.additions = [0]
        var u = RecordUpdate(key: "S1", row: 1)
        u.fields = [FieldChange(column: 2, name: "email", old: "old@district.org", new: "bo@district.org")]
        var gone = RecordUpdate(key: "S2", row: nil)
        gone.deactivate = .absent
        gone.missingSince = Date(timeIntervalSince1970: 1_700_000_000)
        p.updates = [u, gone]
        var plan = Plan(entities: [p], snapshot: ExportSnapshot(entities: [.staff: rows], contentHash: "abc"), plannedAt: Date(timeIntervalSince1970: 1_800_000_000))
        plan.links.changes = [.link(username: "bo", staffID: "S1", previous: nil), .unlink(username: "cy", staffID: "S2", kind: .auto, why: "gone"),
                              .ambiguous(username: "di", email: "x@d.org", staffIDs: ["S3", "S4"]), .unapprove(username: "ed", staffID: "S2")]
        plan.links.emailKeys = ["bo": "bo@district.org"]
        plan.roles = RolePlan(granted: [CalculatedRole(username: "bo", role: "Staff")], revoked: [CalculatedRole(username: "cy", role: "Staff")])
        plan.fileHashes = [.staff: "f00"]
        plan.sourceValidators = [SourceStateKey.of("staff.csv"): SourceValidator(etag: "\"e\"", lastModified: nil, sha256: "f00")]
        let kept = HeldPlan(plan)
        let back = try HeldPlan.decode(try kept.encoded()).plan()
        XCTAssertEqual(back.changes(), plan.changes())
        XCTAssertEqual(back.links, plan.links)
        XCTAssertEqual(back.roles, plan.roles)
        XCTAssertEqual(back.fileHashes, plan.fileHashes)
        XCTAssertEqual(back.sourceValidators, plan.sourceValidators)
        let r = try XCTUnwrap(back.snapshot?.entities[.staff])
        XCTAssertEqual(r.values(Int(back.entities[0].additions[0])), rows.values(0))
        XCTAssertEqual(r.fingerprint(Int(back.entities[0].additions[0])), rows.fingerprint(0), "the fingerprint the store keeps")
        XCTAssertThrowsError(try HeldPlan.decode("{}")) { XCTAssertTrue("\($0)".contains("sisyncctl run discard")) }
    }

    /// A held plan is kept in the database, so a token in a source URL's query stays out of
    /// it: the file is named as messages name it (redacted), and the validators are under
    /// the URL's digest (R3). A plan an earlier version held, with its validators under the
    /// URL itself, reads back with them under the digest, where the next run looks.
    func testAHeldPlanKeepsNoTokenOfItsSourceURLAndReadsAnEarlierVersionsValidators() throws {
        let url = "https://sis.example/staff.csv?token=s3cret"
        var rows = EntityRows(kind: .staff, source: url)
        try rows.append(key: "S1", values: ["Bo", "Lee", "bo@district.org", "", "101", "true"].map { Array($0.utf8)[...] }, inactive: false, location: 2)
        var p = EntityPlan(kind: .staff, activeBefore: 0, exportEmpty: false)
        p.additions = [0]
        var plan = Plan(entities: [p], snapshot: ExportSnapshot(entities: [.staff: rows], contentHash: "abc"), plannedAt: Date(timeIntervalSince1970: 1_800_000_000))
        let validator = SourceValidator(etag: "\"e\"", lastModified: nil, sha256: "f00")
        plan.sourceValidators = [SourceStateKey.of(url): validator]
        let kept = try HeldPlan(plan).encoded()
        XCTAssertFalse(kept.contains("s3cret"), kept)
        XCTAssertEqual(try HeldPlan.decode(kept).plan().snapshot?.entities[.staff]?.source, DisplayedURL(url).description)

        let earlier = kept.replacingOccurrences(of: SourceStateKey.of(url), with: url.replacingOccurrences(of: "/", with: "\\/"))
        XCTAssertNotEqual(earlier, kept)
        XCTAssertEqual(try HeldPlan.decode(earlier).plan().sourceValidators, [SourceStateKey.of(url): validator])
    }
}
