import XCTest
@testable import SISync

/// R6 on plain values: users and staff in, a link plan out.
final class LinkPlannerTests: XCTestCase {
    private let now = Timestamp.parse("2026-09-01T06:00:00Z")!
    private let normalizer = EmailNormalizer(aliases: ["staff.district.org": "district.org"])

    private func directory(_ staff: [(String, String, Bool)]) -> StaffDirectory {
        StaffDirectory(entries: Dictionary(uniqueKeysWithValues: staff.map { ($0.0, StaffDirectory.Entry(emailKey: normalizer.key($0.1), active: $0.2)) }))
    }

    private func user(_ name: String, _ email: String, link: Link? = nil, approved: Bool = true) -> LinkingUser {
        LinkingUser(username: name, emailKey: normalizer.key(email), approved: approved, link: link)
    }

    private func plan(_ users: [LinkingUser], _ staff: StaffDirectory, deactivated: Set<String> = [], unapprove: Bool = false) -> LinkPlan {
        LinkPlanner(now: now, unapproveOnDeactivation: unapprove).plan(users: users, staff: staff, deactivatedNow: deactivated)
    }

    func testR6EmailsCompareTrimmedNFCLowerCaseAndAliased() {
        XCTAssertEqual(normalizer.key("  Jane.Doe@STAFF.District.org "), "jane.doe@district.org")
        XCTAssertEqual(normalizer.key("Zoe\u{0308}@district.org"), normalizer.key("Zoë@district.org"))
        let p = plan([user("jdoe", " JDoe@Staff.District.org")], directory([("1042", "jdoe@district.org", true)]))
        XCTAssertEqual(p.changes, [.link(username: "jdoe", staffID: "1042", previous: nil)])
    }

    func testR6NoMatchMeansNoLinkAndAStaleAutoLinkIsRemoved() {
        let staff = directory([("1042", "jane@district.org", true)])
        XCTAssertEqual(plan([user("bob", "bob@district.org")], staff).changes, [])
        let stale = plan([user("bob", "bob@district.org", link: Link(staffID: "1042", kind: .auto))], staff)
        guard case .unlink("bob", "1042", .auto, _)? = stale.changes.first else { return XCTFail("\(stale)") }
        XCTAssertEqual(stale.removed, 1)
    }

    func testR6TwoActiveStaffWithOneEmailAreAmbiguousAndTheAutoLinkIsLost() {
        let staff = directory([("1042", "jdoe@district.org", true), ("1043", "JDoe@district.org", true)])
        let p = plan([user("jdoe", "jdoe@district.org", link: Link(staffID: "1042", kind: .auto))], staff)
        XCTAssertEqual(p.changes.first, .ambiguous(username: "jdoe", email: "jdoe@district.org", staffIDs: ["1042", "1043"]))
        guard case .unlink("jdoe", "1042", .auto, let why)? = p.changes.last else { return XCTFail("\(p)") }
        XCTAssertTrue(why.contains("two active staff share jdoe@district.org: 1042, 1043"), why)
        XCTAssertEqual(p.ambiguous, 1)
    }

    func testR6ActiveStaffWinOverInactiveWithTheSameEmail() {
        let staff = directory([("900", "ann@district.org", false), ("1042", "ann@district.org", true)])
        XCTAssertEqual(plan([user("ann", "ann@district.org")], staff).changes, [.link(username: "ann", staffID: "1042", previous: nil)])
        // A new active match replaces an auto link to the inactive one.
        let moved = plan([user("ann", "ann@district.org", link: Link(staffID: "900", kind: .auto))], staff)
        XCTAssertEqual(moved.changes, [.link(username: "ann", staffID: "1042", previous: "900")])
    }

    func testR6AutoLinkToStaffWhoBecameInactiveStaysWhileEmailsMatch() {
        let staff = directory([("1042", "ann@district.org", false)])
        XCTAssertEqual(plan([user("ann", "ann@district.org", link: Link(staffID: "1042", kind: .auto))], staff).changes, [])
        // ... but not once the emails differ.
        let differs = plan([user("ann", "ann.new@district.org", link: Link(staffID: "1042", kind: .auto))], staff)
        XCTAssertEqual(differs.removed, 1)
        // An inactive match never creates a new link.
        XCTAssertEqual(plan([user("ann", "ann@district.org")], staff).changes, [])
    }

    func testR6ManualLinksAreNeverChangedBySyncExceptExpiry() {
        // John Doe's account linked on purpose to Jane Smith's record (an intern).
        let staff = directory([("1042", "jane.smith@district.org", true), ("2001", "john.doe@district.org", true)])
        let manual = Link(staffID: "1042", kind: .manual, reason: "intern recording for Ms Smith")
        XCTAssertEqual(plan([user("jdoe", "john.doe@district.org", link: manual)], staff).changes, [])
        var ending = manual
        ending.until = "2026-08-31"
        let expired = plan([user("jdoe", "john.doe@district.org", link: ending)], staff)
        guard case .unlink("jdoe", "1042", .manual, _)? = expired.changes.first else { return XCTFail("\(expired)") }
        XCTAssertEqual(expired.changes.last, .link(username: "jdoe", staffID: "2001", previous: nil), "after expiry, email linking applies")
        ending.until = "2026-09-01"
        XCTAssertEqual(plan([user("jdoe", "john.doe@district.org", link: ending)], staff).changes, [], "the link lasts until that day is over")
    }

    func testR6UnapproveOnStaffDeactivationActsOnce() {
        let staff = directory([("1042", "ann@district.org", false)])
        let linked = user("ann", "ann@district.org", link: Link(staffID: "1042", kind: .auto))
        XCTAssertEqual(plan([linked], staff, deactivated: ["1042"], unapprove: true).changes, [.unapprove(username: "ann", staffID: "1042")])
        XCTAssertEqual(plan([linked], staff, deactivated: [], unapprove: true).changes, [], "only in the run that deactivates")
        XCTAssertEqual(plan([linked], staff, deactivated: ["1042"], unapprove: false).changes, [], "keep is the default")
    }

    /// Issue 34: the planner takes users as a stream, a batch at a time, so that a run does
    /// not hold every user; any batching and any order of the same users gives one plan, in
    /// username order, users sharing an email key on both sides of a batch boundary included.
    func testR6UsersPlannedInBatchesInAnyOrderGiveTheSamePlan() {
        let staff = directory([("1", "ann@district.org", true), ("2", "bo@district.org", true), ("3", "BO@district.org", true),
                               ("4", "cy@district.org", false), ("5", "di@district.org", true)])
        let users = [user("ann", "ann@district.org"), user("Ann2", "ANN@staff.district.org"),
                     user("bo", "bo@district.org", link: Link(staffID: "2", kind: .auto)), user("bo2", "bo@district.org"),
                     user("cy", "cy@district.org", link: Link(staffID: "4", kind: .auto)),
                     user("dee", "x@district.org", link: Link(staffID: "5", kind: .auto)),
                     user("ed", "di@district.org", link: Link(staffID: "1", kind: .manual, reason: "covering")),
                     user("gone", "gone@district.org", link: Link(staffID: "9", kind: .auto))]
        let expected: [LinkChange] = [
            .link(username: "ann", staffID: "1", previous: nil),
            .link(username: "Ann2", staffID: "1", previous: nil),
            .ambiguous(username: "bo", email: "bo@district.org", staffIDs: ["2", "3"]),
            .unlink(username: "bo", staffID: "2", kind: .auto, why: "two active staff share bo@district.org: 2, 3"),
            .ambiguous(username: "bo2", email: "bo@district.org", staffIDs: ["2", "3"]),
            .unlink(username: "dee", staffID: "5", kind: .auto, why: "the user's email no longer matches staff 5"),
            .unlink(username: "gone", staffID: "9", kind: .auto, why: "staff 9 no longer exists"),
        ]
        let planner = LinkPlanner(now: now, unapproveOnDeactivation: false, staff: staff, deactivatedNow: [])
        XCTAssertEqual(planner.plan(users: users).changes, expected)
        var order = users
        for size in 1...users.count {
            // A different order each time: reversed, then rotated.
            order = size == 1 ? users.reversed() : Array(order.dropFirst(3) + order.prefix(3))
            var streamed = LinkPlan()
            var start = 0
            while start < order.count {
                planner.add(order[start..<min(start + size, order.count)], to: &streamed)
                start += size
            }
            XCTAssertEqual(streamed.inUserOrder().changes, expected, "batches of \(size)")
            XCTAssertTrue(LinkPlan.eachUsersChangesAreAdjacent(streamed.inUserOrder().changes), "batches of \(size)")
        }
    }

    /// The changes are put in the users' order where they are (issue 34: no second array),
    /// as a stable sort by the folded name gives them, over plans of many shapes: users of
    /// one to three changes, names alike but for case, and in any order.
    func testR6PuttingAPlanInUserOrderInPlaceIsTheStableSortByName() {
        var generator = Mutator(seed: 34)
        for round in 0..<200 {
            var plan = LinkPlan()
            let users = Int.random(in: 0...40, using: &generator)
            for u in 0..<users {
                let name = ["ann", "Bob", "bob2", "Cy", "dee", "e\u{301}", "\u{E9}"][Int.random(in: 0..<7, using: &generator)] + "\(Int.random(in: 0..<6, using: &generator))" + "-\(u)"
                for k in 0..<Int.random(in: 1...3, using: &generator) {
                    plan.changes.append(k == 0 ? .ambiguous(username: name, email: "x", staffIDs: []) : .link(username: name, staffID: "S\(k)", previous: nil))
                }
            }
            let reference = plan.changes.enumerated().sorted { a, b in
                let (x, y) = (a.element.username.lowercased(), b.element.username.lowercased())
                return x != y ? x < y : a.offset < b.offset
            }.map(\.element)
            var sorted = plan
            sorted.putInUserOrder()
            XCTAssertEqual(sorted.changes, reference, "round \(round)")
            XCTAssertEqual(plan.inUserOrder(), sorted, "round \(round)")
            XCTAssertTrue(LinkPlan.eachUsersChangesAreAdjacent(sorted.changes), "round \(round)")
        }
    }

    /// Applying a plan finds each user's last link or unlink among the user's adjacent
    /// changes when the check says they are (`LinkPlan.changes`): in the users' order, and
    /// among names alike once lowercased each user's together, a user told by the name's
    /// bytes as the database's key tells names outside ASCII. Out of order is answered no.
    func testR6APlansChangesOfOneUserAreAdjacentOrTheCheckSaysSo() {
        let a = LinkChange.link(username: "amy", staffID: "1", previous: nil)
        let b = LinkChange.link(username: "bob", staffID: "2", previous: nil)
        let a2 = LinkChange.unlink(username: "amy", staffID: "1", kind: .auto, why: "x")
        XCTAssertTrue(LinkPlan.eachUsersChangesAreAdjacent([]))
        XCTAssertTrue(LinkPlan.eachUsersChangesAreAdjacent([a, a2, b]))
        XCTAssertFalse(LinkPlan.eachUsersChangesAreAdjacent([a, b, a2]))
        XCTAssertFalse(LinkPlan.eachUsersChangesAreAdjacent([b, a, a2]), "adjacent, but not in the users' order")
        let composed = LinkChange.link(username: "jos\u{E9}", staffID: "1", previous: nil)
        let decomposed = LinkChange.link(username: "jose\u{301}", staffID: "1", previous: nil)
        XCTAssertTrue(LinkPlan.eachUsersChangesAreAdjacent([a, composed, composed, decomposed]), "two users whose names are alike")
        XCTAssertFalse(LinkPlan.eachUsersChangesAreAdjacent([composed, decomposed, composed]),
                       "two users (a name's two spellings), the first's changes apart")
    }

    /// The directory is held as sorted arrays (issue 34): the run's staff plan laid over the
    /// stored staff as the dictionary did it: a carried-over record under its new id over
    /// whatever had it, the run's additions over both, its updates changing what they name.
    func testStaffDirectoryLaysTheRunOverTheStoredStaff() {
        var b = StaffDirectory.Builder()
        b.set("S2", emailKey: "b@x.org", active: true)
        b.set("S9", emailKey: "c@x.org", active: true)
        b.set("S3", emailKey: "", active: true)
        b.set("S9", emailKey: "a@x.org", active: true, stage: 1)  // S1, carried over to S9
        b.set("S4", emailKey: "d@x.org", active: false, stage: 2)
        b.set("S6", emailKey: "g@x.org", active: true, stage: 2)
        b.set("S7", emailKey: "g@x.org", active: true, stage: 2)
        b.set("S10", emailKey: "g@x.org", active: true, stage: 2)
        b.change("S2", emailKey: "e@x.org", active: nil)
        b.change("S4", emailKey: nil, active: true)
        b.change("S5", emailKey: "f@x.org", active: nil)
        b.change("S10", emailKey: nil, active: false)
        let d = b.directory()
        XCTAssertEqual(d.entry("S9"), StaffDirectory.Entry(emailKey: "a@x.org", active: true))
        XCTAssertEqual(d.entry("S2"), StaffDirectory.Entry(emailKey: "e@x.org", active: true))
        XCTAssertEqual(d.entry("S4"), StaffDirectory.Entry(emailKey: "d@x.org", active: true))
        XCTAssertEqual(d.entry("S5"), StaffDirectory.Entry(emailKey: "f@x.org", active: true), "an update of one not seen starts active")
        XCTAssertEqual(d.entry("S10"), StaffDirectory.Entry(emailKey: "g@x.org", active: false))
        XCTAssertEqual(d.entry("S3"), StaffDirectory.Entry(emailKey: "", active: true))
        XCTAssertNil(d.entry("S8"))
        XCTAssertNil(d.entry("S1"))
        XCTAssertEqual(d.activeStaff(withEmailKey: "a@x.org"), ["S9"])
        XCTAssertEqual(d.activeStaff(withEmailKey: "b@x.org"), [], "S2's old key")
        XCTAssertEqual(d.activeStaff(withEmailKey: "c@x.org"), [], "S9's key before the carry-over")
        XCTAssertEqual(d.activeStaff(withEmailKey: "g@x.org"), ["S6", "S7"], "sorted by id, the inactive one left out")
        XCTAssertEqual(d.activeStaff(withEmailKey: ""), [])
        XCTAssertEqual(d.activeStaff(withEmailKey: "zz@x.org"), [])
        XCTAssertEqual(d.activeEmailKeyCount, 5)
        XCTAssertEqual(d.activeEmailKeys(0..<5), ["a@x.org", "d@x.org", "e@x.org", "f@x.org", "g@x.org"])
        XCTAssertEqual(d.activeEmailKeys(1..<3), ["d@x.org", "e@x.org"])
        // The dictionary form gives the same directory.
        let same = StaffDirectory(entries: ["S1": .init(emailKey: "a@x.org", active: true), "S2": .init(emailKey: "a@x.org", active: true)])
        XCTAssertEqual(same.activeStaff(withEmailKey: "a@x.org"), ["S1", "S2"])
    }
}

/// R6 in whole runs, with users created through sisyncctl.
final class LinkingRunTests: XCTestCase {
    func testR6NewTeacherIsLinkedOnTheNextRunEvenWhenTheExportIsUnchanged() throws {
        let w = Workspace()
        let c = w.configure(source: "", entities: "staff")
        w.write("staff.csv", staffCSV(manyStaff(20)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u3", "--email", "User3@District.org", "--approved"]).code, 0)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .unchanged, "R3: the export did not change \(run.summary.error ?? "")")
        XCTAssertEqual(run.summary.linksMade, 1)
        XCTAssertEqual(try w.store().accounts.user("u3")?.link, Link(staffID: "S3", kind: .auto))
        XCTAssertEqual(try w.store().accounts.linkedUsers(staffID: "S3"), ["u3"])
        let changes = try w.store().auditTrail.changes(runID: run.summary.runID!).map(\.change)
        XCTAssertEqual(changes, [Change(entity: "users", id: "u3", field: "link", old: nil, new: "S3", kind: .linked),
                                 Change(entity: "users", id: "u3", field: "role", old: nil, new: "Staff", kind: .roleGranted)])
        XCTAssertEqual(run.summary.rolesGranted, 1)
    }

    /// An email in another Unicode normal form than its key (NFD `é` against the key's NFC)
    /// equals the key under PostgreSQL's `nocase` but is not its `lower`: the linking read's
    /// two halves both found such a user, and the run linked them twice (two `linked`
    /// entries, links made 2). Once on both stores.
    func testR6AUserWhoseEmailIsTheKeyInAnotherNormalFormIsLinkedOnce() throws {
        let w = Workspace()
        let c = w.configure(source: "", entities: "staff")
        var staff = manyStaff(20)
        staff[2].3 = "jos\u{E9}@district.org"
        w.write("staff.csv", staffCSV(staff))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u3", "--email", "jose\u{301}@district.org", "--approved"]).code, 0)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.linksMade, 1, run.summary.error ?? "")
        XCTAssertEqual(try w.store().accounts.user("u3")?.link, Link(staffID: "S3", kind: .auto))
        let changes = try w.store().auditTrail.changes(runID: run.summary.runID!).map(\.change)
        XCTAssertEqual(changes.filter { $0.kind == .linked }, [Change(entity: "users", id: "u3", field: "link", old: nil, new: "S3", kind: .linked)])
    }

    func testR6RehiredTeacherKeepsHerLinkAndEmailCaseChangesDoNotMatter() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(20)))
        _ = w.sync(c)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "u5", "--email", "user5@district.org"]).code, 0)
        XCTAssertEqual(w.sync(c).summary.linksMade, 1)
        // She leaves (status inactive): the link stays, her past data stays attributed.
        w.write("staff.csv", staffCSV(manyStaff(20), status: ["S5": "inactive"]))
        let left = w.sync(c)
        XCTAssertEqual(left.summary.staff.deactivated, 1)
        XCTAssertEqual(left.summary.linksRemoved, 0)
        XCTAssertEqual(try w.store().accounts.user("u5")?.link?.staffID, "S5")
        XCTAssertEqual(try w.store().roles.of("u5").calculated, [], "R7: linked to inactive staff loses Staff")
        // She is rehired and the SIS now writes her email in capitals: same record, same link.
        var back = manyStaff(20)
        back[4].3 = "USER5@District.ORG"
        w.write("staff.csv", staffCSV(back))
        let rehired = w.sync(c)
        XCTAssertEqual(rehired.summary.staff.reactivated, 1)
        XCTAssertEqual(rehired.summary.linksMade + rehired.summary.linksRemoved, 0)
        XCTAssertEqual(try w.store().accounts.user("u5")?.link?.staffID, "S5")
        XCTAssertEqual(try w.store().roles.of("u5").calculated.map(\.role), ["Staff"], "R7: her role comes back with her record")
        XCTAssertEqual(rehired.summary.rolesGranted, 1)
    }

    func testR6ManualCrossLinkIsKeptAndAudited() throws {
        // The seed story: John Doe's account linked to Jane Smith's staff record.
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV([("1042", "Jane", "Smith", "jane.smith@district.org"), ("2001", "John", "Doe", "john.doe@district.org")]))
        _ = w.sync(c)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "jdoe", "--email", "john.doe@district.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "link", "jdoe", "1042"]).code, 64, "a manual link needs a reason")
        let linked = w.ctl(["user", "link", "jdoe", "1042", "--reason", "intern recording for Ms Smith"], user: "principal")
        XCTAssertEqual(linked.code, 0, linked.err)
        for _ in 0..<2 {
            let r = w.sync(c, force: true)
            XCTAssertEqual(r.summary.linksMade + r.summary.linksRemoved, 0, "sync never repairs a manual link")
        }
        let u = try XCTUnwrap(w.store().accounts.user("jdoe"))
        XCTAssertEqual(u.link, Link(staffID: "1042", kind: .manual, reason: "intern recording for Ms Smith"))
        let history = try w.store().auditTrail.userHistory("jdoe")
        let manual = history.last { $0.change.kind == .linked }
        XCTAssertEqual(manual?.actor, "principal")
        XCTAssertEqual(manual?.change.new, "1042 (manual: intern recording for Ms Smith)")
        XCTAssertNil(manual?.runID, "made by hand, outside any run")
        XCTAssertEqual(try w.store().roles.of("jdoe").calculated.map(\.role), ["Staff"], "R7: linked to active staff")
        XCTAssertEqual(w.ctl(["user", "link", "jdoe", "1042", "--reason", "x", "--until", "2001-01-01"]).code, 64, "a past date is refused")
        XCTAssertEqual(w.ctl(["user", "link", "jdoe", "9999", "--reason", "x"]).code, 1, "unknown staff")
    }

    /// A user has one link: of one user's changes in a plan, the last link or unlink decides
    /// it (the changes are adjacent: `LinkPlan.changes`), and the one before it is not
    /// written at all (the key would refuse a second link). Its new links go into `links`
    /// as they were staged, which SQLite reads without sorting them again (issue 34: the
    /// sort held every new link of a large district in the run's memory).
    func testR6AUsersLastLinkChangeInAPlanDecidesItsLink() throws {
        let w = Workspace()
        let c = w.configure(source: "", entities: "staff")
        w.write("staff.csv", staffCSV(manyStaff(3)))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for u in ["amy", "bob", "cy", "dan"] {
            XCTAssertEqual(w.ctl(["user", "add", "--username", u, "--email", "\(u)@elsewhere.org"]).code, 0)
        }
        let store = try w.store()
        var plan = LinkPlan()
        plan.changes = [.link(username: "amy", staffID: "S1", previous: nil), .ambiguous(username: "amy", email: "x@y.org", staffIDs: ["S1", "S2"]),
                        .link(username: "amy", staffID: "S2", previous: "S1"),
                        .link(username: "bob", staffID: "S1", previous: nil), .unlink(username: "bob", staffID: "S1", kind: .auto, why: "a test"),
                        .unlink(username: "cy", staffID: "S1", kind: .manual, why: "the manual link ended on 2026-08-31"),
                        .link(username: "cy", staffID: "S3", previous: nil),
                        .link(username: "dan", staffID: "S3", previous: nil)]
        try store.database.transaction { try store.accounts.applyLinks(plan, stamp: "2026-12-07T00:00:00Z", actor: "test") }
        XCTAssertEqual(try store.accounts.user("amy")?.link?.staffID, "S2")
        XCTAssertNil(try store.accounts.user("bob")?.link)
        XCTAssertEqual(try store.accounts.user("cy")?.link?.staffID, "S3")
        XCTAssertEqual(try store.accounts.linkedUsers(staffID: "S3"), ["cy", "dan"])
        // A plan built otherwise (one user's changes apart) is applied as it lists them too.
        var apart = LinkPlan()
        apart.changes = [.link(username: "bob", staffID: "S2", previous: nil), .link(username: "amy", staffID: "S3", previous: "S2"),
                         .unlink(username: "bob", staffID: "S2", kind: .auto, why: "a test")]
        try store.database.transaction { try store.accounts.applyLinks(apart, stamp: "2026-12-07T00:00:01Z", actor: "test") }
        XCTAssertNil(try store.accounts.user("bob")?.link, "bob's last change, an unlink, decides")
        XCTAssertEqual(try store.accounts.user("amy")?.link?.staffID, "S3")
        guard !w.isPostgres else { return }
        var explained: [String] = []
        try store.database.forEachRow("EXPLAIN QUERY PLAN \(sql: AccountStore.insertingStagedLinks(stamp: "s", actor: "a", postgres: false))") { explained.append($0.text(3)) }
        XCTAssertFalse(explained.isEmpty)
        XCTAssertFalse(explained.contains { $0.contains("TEMP B-TREE") }, "read as staged, not sorted again: \(explained)")
    }

    func testR6AmbiguousEmailIsCountedAndNotLinked() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV([("1042", "J", "Doe", "jdoe@district.org"), ("1043", "J", "Doe", "JDOE@district.org")]))
        _ = w.sync(c)
        _ = w.ctl(["user", "add", "--username", "jdoe", "--email", "jdoe@district.org"])
        let log = MemoryLog()
        let r = w.sync(c, log: log)
        XCTAssertEqual(r.summary.linksAmbiguous, 1)
        XCTAssertNil(try w.store().accounts.user("jdoe")?.link)
        XCTAssertTrue(log.events.contains { $0.type == .linkAmbiguous && $0.message.contains("1042, 1043") })
    }

    func testR6UnapprovePolicyUnapprovesUsersOfDeactivatedStaff() throws {
        let w = Workspace()
        let c = w.configure(sync: "on_staff_deactivated = unapprove")
        w.write("staff.csv", staffCSV(manyStaff(20)))
        _ = w.sync(c)
        _ = w.ctl(["user", "add", "--username", "u7", "--email", "user7@district.org", "--approved"])
        _ = w.sync(c)
        w.write("staff.csv", staffCSV(manyStaff(20), status: ["S7": "inactive"]))
        _ = w.sync(c)
        let u = try XCTUnwrap(w.store().accounts.user("u7"))
        XCTAssertFalse(u.approved)
        XCTAssertEqual(u.link?.staffID, "S7", "the link stays")
        // An administrator may approve again; later runs do not unapprove again.
        XCTAssertEqual(w.ctl(["user", "approve", "u7"]).code, 0)
        _ = w.sync(c, force: true)
        XCTAssertTrue(try XCTUnwrap(w.store().accounts.user("u7")).approved)
    }

    func testUsernamesAndEmailsAreUniqueRegardlessOfCase() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV(manyStaff(3)))
        _ = w.sync(c)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "Ann", "--email", "ann@district.org"]).code, 0)
        let sameName = w.ctl(["user", "add", "--username", "ANN", "--email", "other@district.org"])
        XCTAssertEqual(sameName.code, 1)
        XCTAssertTrue(sameName.err.contains("already exists"), sameName.err)
        let sameEmail = w.ctl(["user", "add", "--username", "ann2", "--email", "ANN@district.org"])
        XCTAssertEqual(sameEmail.code, 1)
        XCTAssertTrue(sameEmail.err.contains("already the email of user `Ann`"), sameEmail.err)
        let shown = w.ctl(["--json", "user", "show", "ann"])
        XCTAssertEqual(shown.code, 0)
        XCTAssertTrue(shown.out.contains("\"username\": \"Ann\""), shown.out)
        XCTAssertEqual(w.ctl(["user", "remove", "ann"]).code, 0)
        XCTAssertNil(try w.store().accounts.user("Ann"))
    }

    /// Issue 34: a run reads the users linking looks at a batch at a time and plans each
    /// batch as it comes; the store never hands over more than a batch, every user comes
    /// once, and the plan is the plan of all of them at once: users sharing an email key
    /// (through an alias) in different batches, an ambiguous email, a manual link, a link
    /// to staff that left and a user whose key was not stored yet included.
    func testR6UsersStreamThroughLinkingInBoundedBatches() throws {
        let w = Workspace()
        let c = w.configure(linking: "email_domain_aliases = staff.district.org = district.org")
        var staff = manyStaff(20)
        staff += [("S30", "T", "Win", "twin@district.org"), ("S31", "T", "Win", "Twin@district.org")]
        w.write("staff.csv", staffCSV(staff))
        _ = w.sync(c)
        for (name, email) in [("a1", "user1@district.org"), ("a2", "user1@staff.district.org"), ("b2", "user2@district.org"),
                              ("c3", "user3@staff.district.org"), ("twin", "twin@district.org"), ("m", "user5@district.org"),
                              ("x", "nobody@elsewhere.org"), ("z6", "user6@district.org")] {
            XCTAssertEqual(w.ctl(["user", "add", "--username", name, "--email", email]).code, 0, name)
        }
        XCTAssertEqual(w.ctl(["user", "link", "m", "S4", "--reason", "covering"]).code, 0)
        XCTAssertEqual(w.sync(c).summary.linksMade, 5)
        // S6 leaves the export; b2's email changes, written without a key (as by a
        // `user import` made with other aliases than the stored keys').
        w.write("staff.csv", staffCSV(staff.filter { $0.0 != "S6" }))
        // (Schema 16: SQLite's `email_key` is generated from `stored_email_key`.)
        let raw = try w.rawDatabase()
        try raw.execute("UPDATE users SET email = 'user7@district.org', \(UserKeyColumns(raw).emailKey) = NULL WHERE username = 'b2'")

        let store = try w.store()
        let normalizer = EmailNormalizer(aliases: c.emailDomainAliases)
        let directory = try StaffDirectory.after(nil, rows: nil, normalizer: normalizer) { add in
            try store.accounts.forEachStaffEmail(normalizer: normalizer) { add($0, $1, $2) }
        }
        func read(batchSize: Int, keyBatchSize: Int) throws -> (batches: [[LinkingUser]], keys: LinkingKeys) {
            var batches: [[LinkingUser]] = []
            let keys = try store.accounts.forEachLinkingUserBatch(normalizer: normalizer, staff: directory, batchSize: batchSize,
                                                                  keyBatchSize: keyBatchSize) { batches.append($0) }
            return (batches, keys)
        }
        let small = try read(batchSize: 2, keyBatchSize: 1)
        let whole = try read(batchSize: 10_000, keyBatchSize: 10_000)
        XCTAssertEqual(whole.batches.count, 3, "one batch of each query")
        XCTAssertTrue(small.batches.allSatisfy { $0.count <= 2 }, "\(small.batches.map(\.count))")
        let users = small.batches.flatMap { $0 }
        XCTAssertEqual(users.map(\.username).sorted(), ["a1", "a2", "b2", "c3", "m", "twin", "z6"], "each once; x cannot link")
        XCTAssertEqual(users.map(\.username).sorted(), whole.batches.flatMap { $0 }.map(\.username).sorted())
        XCTAssertEqual(small.keys, whole.keys)
        XCTAssertEqual(small.keys.keys, ["b2": "user7@district.org"])
        let planner = LinkPlanner(now: Date(), unapproveOnDeactivation: false, staff: directory, deactivatedNow: [])
        var streamed = LinkPlan()
        for batch in small.batches { planner.add(batch, to: &streamed) }
        XCTAssertEqual(streamed.inUserOrder(), planner.plan(users: whole.batches.flatMap { $0 }))

        // The run itself: the same links.
        let run = w.sync(c)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        let accounts = try w.store().accounts
        XCTAssertEqual(try accounts.user("a1")?.link?.staffID, "S1")
        XCTAssertEqual(try accounts.user("a2")?.link?.staffID, "S1")
        XCTAssertEqual(try accounts.user("b2")?.link?.staffID, "S7")
        XCTAssertEqual(try accounts.user("c3")?.link?.staffID, "S3")
        XCTAssertNil(try accounts.user("twin")?.link)
        XCTAssertEqual(try accounts.user("m")?.link, Link(staffID: "S4", kind: .manual, reason: "covering"))
        XCTAssertEqual(try accounts.user("z6")?.link?.staffID, "S6", "S6 left; the emails still match")
        XCTAssertNil(try accounts.user("x")?.link)
    }

    /// Issue 34 (the unchanged re-run): an active staff member's key that a linked user
    /// holds as their own ASCII email in lower case is not looked up again among the
    /// unlinked users (the only user with that email is the linked one); any other key is:
    /// a key a linked user holds through an alias, a non-ASCII key, a key nobody holds.
    func testR6KeysLinkedUsersHoldAsTheirOwnEmailAreNotProbedAgain() throws {
        let w = Workspace()
        let c = w.configure(linking: "email_domain_aliases = staff.district.org = district.org")
        var staff = manyStaff(6)
        staff += [("S7", "No", "Body", "Nobody@district.org"), ("S8", "Jos\u{E9}", "J", "jos\u{E9}@district.org")]
        w.write("staff.csv", staffCSV(staff))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        for (name, email) in [("u1", "user1@district.org"), ("u2", "user2@district.org"), ("u3", "user3@district.org"),
                              ("m", "user4@district.org"), ("up", "USER5@District.org"), ("al", "user6@staff.district.org"),
                              ("jo", "JOS\u{C9}@district.org")] {
            XCTAssertEqual(w.ctl(["user", "add", "--username", name, "--email", email]).code, 0, name)
        }
        XCTAssertEqual(w.ctl(["user", "link", "m", "S2", "--reason", "covering"]).code, 0)
        XCTAssertEqual(w.sync(c).summary.linksMade, 6, "u1-u3, up, al, jo")
        // al holds user6's key through an alias: the key is still looked up, and finds al2.
        XCTAssertEqual(w.ctl(["user", "add", "--username", "al2", "--email", "user6@district.org"]).code, 0)
        let run = w.sync(c)
        XCTAssertEqual(run.summary.linksMade, 1, run.summary.error ?? "")
        let accounts = try w.store().accounts
        XCTAssertEqual(try accounts.user("al2")?.link?.staffID, "S6")
        XCTAssertEqual(try accounts.user("al")?.link?.staffID, "S6")
        XCTAssertEqual(try accounts.user("up")?.link?.staffID, "S5")
        XCTAssertEqual(try accounts.user("jo")?.link?.staffID, "S8")
        XCTAssertEqual(try accounts.user("m")?.link, Link(staffID: "S2", kind: .manual, reason: "covering"))

        let normalizer = EmailNormalizer(aliases: c.emailDomainAliases)
        let directory = StaffDirectory(entries: try accounts.staffDirectoryEntries(normalizer: normalizer))
        var read: [String] = []
        let keys = try accounts.forEachLinkingUserBatch(normalizer: normalizer, staff: directory) { read += $0.map(\.username) }
        XCTAssertEqual(read.sorted(), ["al", "al2", "jo", "m", "u1", "u2", "u3", "up"], "every linked user, once")
        XCTAssertEqual(keys.probedKeys, 2, "S7's key (nobody's) and S8's (not ASCII); the other six are linked users' own")
        XCTAssertEqual(w.sync(c).summary.linksMade, 0)
    }

    func testR6AnOwnKeyIsTheASCIIEmailInLowerCase() {
        XCTAssertTrue(AccountStore.isOwnKey("user5@district.org", ofASCIIEmail: "USER5@District.org"))
        XCTAssertTrue(AccountStore.isOwnKey("a@b", ofASCIIEmail: "a@b"))
        XCTAssertFalse(AccountStore.isOwnKey("jos\u{E9}@district.org", ofASCIIEmail: "JOS\u{C9}@district.org"), "not ASCII")
        XCTAssertFalse(AccountStore.isOwnKey("jos\u{E9}@district.org", ofASCIIEmail: "jos\u{E9}@district.org"), "not ASCII")
        XCTAssertFalse(AccountStore.isOwnKey("user6@district.org", ofASCIIEmail: "user6@staff.district.org"), "an alias")
        XCTAssertFalse(AccountStore.isOwnKey("a@b", ofASCIIEmail: "a@bc"))
        XCTAssertFalse(AccountStore.isOwnKey("a@bc", ofASCIIEmail: "a@b"))
        XCTAssertFalse(AccountStore.isOwnKey("a@b", ofASCIIEmail: " a@b"), "trimmed keys are not own")
    }

    func testR6StoredEmailKeysFollowAliasChangesAndEmailChanges() throws {
        let w = Workspace()
        var c = w.configure()
        w.write("staff.csv", staffCSV([("S1", "Ann", "Lee", "ann@staff.district.org"), ("S2", "Bo", "Ray", "bo@district.org")]))
        _ = w.sync(c)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ann", "--email", "Ann@District.org"]).code, 0)
        XCTAssertEqual(w.sync(c).summary.linksMade, 0, "no alias yet: the domains differ")
        // The aliases change: every stored key is remade, and the next run (same export) links her.
        c = w.configure(linking: "email_domain_aliases = staff.district.org = district.org")
        let aliased = w.sync(c)
        XCTAssertEqual(aliased.summary.outcome, .unchanged)
        XCTAssertEqual(aliased.summary.linksMade, 1)
        XCTAssertEqual(try w.store().accounts.user("ann")?.link?.staffID, "S1")
        // Her email changes through an import: the stored key is cleared and remade by the run.
        w.write(w.root + "/users.csv", "username,email\nann,bo@district.org\n")
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/users.csv"]).code, 0)
        let moved = w.sync(c)
        XCTAssertEqual(moved.summary.linksMade, 1)
        XCTAssertEqual(moved.summary.linksRemoved, 1)
        XCTAssertEqual(try w.store().accounts.user("ann")?.link?.staffID, "S2")
        // Without the alias, an auto link whose emails no longer match is removed.
        w.write(w.root + "/users.csv", "username,email\nann,ann@district.org\n")
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/users.csv"]).code, 0)
        c = w.configure()
        XCTAssertEqual(w.sync(c).summary.linksRemoved, 1)
        XCTAssertNil(try w.store().accounts.user("ann")?.link)
        let db = try w.rawDatabase()
        let key = try db.prepare("SELECT email_key FROM users WHERE username = 'ann'")
        XCTAssertTrue(try key.step())
        XCTAssertEqual(key.text(0), "ann@district.org")
    }
    /// docs/schema.md, "Creating users from an application": the documented `INSERT` keeps
    /// working on the users' table as schema 13 made it (made again on SQLite, no email key
    /// index), a duplicate email in another case is still refused, the documented
    /// columns read back, the row gets its SCIM id (the trigger SQLite's rebuilt table must
    /// keep), and the next run keys and links the user (R6).
    func testR6AnApplicationsDocumentedInsertIsReadAndLinkedOnSchema13() throws {
        let w = Workspace()
        let c = w.configure()
        w.write("staff.csv", staffCSV([("S1", "Jane", "Smith", "Jane.Smith@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let db = try w.rawDatabase()
        let insert = w.isPostgres
            ? "INSERT INTO users (username, email, name, approved, created_at) VALUES ('jsmith', 'jane.smith@district.org', 'Jane Smith', true, now())"
            : "INSERT INTO users (username, email, name, approved, created_at) VALUES ('jsmith', 'jane.smith@district.org', 'Jane Smith', 1, '2026-12-01T08:15:00Z')"
        try db.execute(insert)
        XCTAssertThrowsError(try db.execute(insert.replacingOccurrences(of: "'jsmith', 'jane.smith", with: "'other', 'JANE.SMITH")),
                             "emails are unique regardless of case")
        let read = try db.prepare("SELECT username, email, name, approved, locked, failed_logins, password_hash, created_at, email_key, added_by FROM users")
        XCTAssertTrue(try read.step())
        XCTAssertEqual([read.text(0), read.text(1), read.text(2)], ["jsmith", "jane.smith@district.org", "Jane Smith"])
        XCTAssertEqual([read.bool(3), read.bool(4)], [true, false])
        XCTAssertEqual(read.int(5), 0)
        XCTAssertTrue(read.isNull(6) && read.isNull(8) && read.isNull(9), "no password, no key until a run, not bulk-imported")
        XCTAssertFalse(try read.step())
        read.reset()
        XCTAssertEqual(try db.int("SELECT count(*) FROM users WHERE length(scim_id) = 32 AND external_id IS NULL AND NOT active_removed"), 1,
                       "a SCIM id given, SCIM's columns there")
        let run = w.sync(c)
        XCTAssertEqual(run.summary.linksMade, 1, run.summary.error ?? "")
        XCTAssertEqual(try w.store().accounts.user("JSMITH")?.link?.staffID, "S1")
        XCTAssertEqual(try w.store().roles.of("jsmith").calculated.map(\.role), ["Staff"])
    }
}
