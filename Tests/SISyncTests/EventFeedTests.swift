import Foundation
import XCTest
@testable import SISync
@testable import SISyncControl

/// The change feed (issue 31, docs/events.md): every change sisync makes, written as an
/// event in the transaction that makes it, read by cursor. On both stores.
final class EventFeedTests: XCTestCase {
    /// A workspace whose configuration has `[events] enabled = true` (and `extra` there).
    private func feedConfiguration(_ w: Workspace, entities: String = RolesTests.allEntities, events extra: String = "",
                                   guard guardLines: String = "", schoolYear: String = "2026-2027") throws -> Configuration {
        w.configure(sync: "school_year = \(schoolYear)", entities: entities, guard: guardLines)
        let text = try String(contentsOfFile: w.configPath, encoding: .utf8) + "\n[events]\nenabled = true\n" + extra
        try text.write(toFile: w.configPath, atomically: true, encoding: .utf8)
        return try Configuration.load(path: w.configPath)
    }

    /// The events `write` puts in one transaction of the administrator's, read back, and the
    /// head before them.
    private func eventsWritten(_ w: Workspace, _ store: RosterStore, _ write: (EventBatch) throws -> Void) throws -> (head: Int64, events: [FeedEvent]) {
        let head = try store.events.head()
        try store.database.transaction {
            let batch = try store.events.batch(runID: nil, actor: "admin", at: "2026-12-01T08:00:00Z")
            try write(batch)
            try batch.finish()
        }
        return (head, try events(w, after: head))
    }

    /// Fails unless the two are the same events, each one's ids counted from its head.
    private func assertSameEvents(_ a: (head: Int64, events: [FeedEvent]), _ b: (head: Int64, events: [FeedEvent]), file: StaticString = #filePath, line: UInt = #line) {
        let shifted = a.events.map { FeedEvent(id: $0.id - a.head + b.head, type: $0.type, at: $0.at, runID: $0.runID, actor: $0.actor, subject: $0.subject, data: $0.data) }
        let differ = zip(shifted, b.events).filter { $0 != $1 }
        XCTAssertTrue(differ.isEmpty && shifted.count == b.events.count,
                      "\(shifted.count) against \(b.events.count) events, \(differ.count) differ, the first: \(differ.first.map { "\($0.0) against \($0.1)" } ?? "")", file: file, line: line)
    }

    /// A store with the feed on, after a run that added one staff member.
    private func feedOfOneStaffMember(_ w: Workspace) throws -> RosterStore {
        let c = try feedConfiguration(w, entities: "staff")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let store = try w.store()
        store.events.settings = c.events
        return store
    }

    private func events(_ w: Workspace, after cursor: Int64 = 0) throws -> [FeedEvent] {
        try w.store().events.events(after: cursor, limit: 10_000_000).events
    }

    private func object(_ json: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
    }

    func testTheFeedIsOffByDefaultAndSwitchingItOnStartsAtTheHead() throws {
        let w = Workspace()
        let c = w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        XCTAssertFalse(c.events.isOn, "off by default: a district that reads no events pays nothing")
        RolesTests.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        XCTAssertEqual(try events(w), [], "nothing is written while the feed is off")
        XCTAssertEqual(try w.store().events.head(), 0)

        let on = try feedConfiguration(w)
        XCTAssertEqual(w.ctl(["user", "approve", "ana"]).code, 0)
        let first = try events(w)
        XCTAssertEqual(first.map(\.type), ["feed.started", "user.approved"], "nothing before the switch is invented")
        XCTAssertEqual(first[1].actor, "admin")
        XCTAssertEqual(try object(first[1].subject)["username"] as? String, "ana")

        // A change made with the feed off again is a gap: the next event says so.
        w.configure(sync: "school_year = 2026-2027", entities: RolesTests.allEntities)
        XCTAssertEqual(w.ctl(["user", "unapprove", "ana"]).code, 0)
        _ = try feedConfiguration(w)
        XCTAssertEqual(w.ctl(["user", "approve", "ana"]).code, 0)
        XCTAssertEqual(try events(w, after: first.last!.id).map(\.type), ["feed.started", "user.approved"])
        _ = on
    }

    func testARunsEventsCommitWithItAndARolledBackRunLeavesNone() throws {
        let w = Workspace()
        let c = try feedConfiguration(w, guard: "max_revoke_count = 1\nmax_revoke_percent = 1")
        RolesTests.writeSchool(w)
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied)
        let written = try events(w)
        XCTAssertEqual(written.first?.type, "feed.started")
        XCTAssertEqual(written.last?.type, "run.applied", "the run's record is its last event")
        XCTAssertEqual(written.filter { $0.type == "staff.added" }.count, 3)
        XCTAssertEqual(written.filter { $0.type.hasSuffix(".added") }.count, 3 + 3 + 5 + 5 + 2 + 1 + 3)
        XCTAssertTrue(written.dropFirst().allSatisfy { $0.runID == first.summary.runID && $0.actor == first.summary.actor && $0.at == first.summary.startedAt })
        // Ids only grow (on SQLite without gaps).
        XCTAssertEqual(written.map(\.id), written.map(\.id).sorted())
        XCTAssertEqual(Set(written.map(\.id)).count, written.count)
        if !w.isPostgres { XCTAssertEqual(written.map(\.id), Array(1...Int64(written.count))) }
        let staff = try XCTUnwrap(written.first { $0.type == "staff.added" && $0.subject == #"{"staff_id":"S1"}"# })
        XCTAssertEqual(try object(staff.data)["email"] as? String, "ana@district.org")
        XCTAssertEqual(try object(staff.data)["active"] as? Bool, true)

        // A dry run rolls its transaction back: no event.
        Self.addUsersOnly(w)
        let head = try w.store().events.head()
        XCTAssertEqual(w.sync(c, dryRun: true).summary.dryRun, true)
        XCTAssertEqual(try events(w, after: head).filter { $0.runID != nil }, [], "a dry run writes no event")
        let granting = w.sync(c)
        XCTAssertEqual(granting.summary.outcome, .unchanged)
        let grants = try events(w, after: head).filter { $0.type == "role.granted" }
        XCTAssertEqual(grants.count, granting.summary.rolesGranted)
        XCTAssertTrue(grants.contains { $0.subject == #"{"username":"kim"}"# && $0.data == #"{"role":"Honor Roll","school_year":"2026-2027","source":"calculated"}"# })

        // The revoke guard holds a run inside its apply transaction: everything it wrote,
        // records and events, rolls back; only the hold is an event.
        let before = try w.store().events.head()
        RolesTests.writeSchool(w, st1Status: "Withdrawn", a1Status: "Copied")
        let held = w.sync(c)
        XCTAssertEqual(held.summary.outcome, .blocked)
        XCTAssertEqual(try events(w, after: before).map(\.type), ["run.held"])
        let heldHead = try w.store().events.head()
        let applied = w.sync(c, allow: true)
        XCTAssertEqual(applied.summary.outcome, .applied)
        let after = try events(w, after: heldHead)
        XCTAssertEqual(after.filter { $0.type == "role.revoked" }.count, applied.summary.rolesRevoked)
        XCTAssertTrue(after.contains { $0.type == "students.updated" && $0.subject == #"{"student_id":"ST1"}"# && (try? object($0.data)["old"] as? [String: String]) == ["enrollment_status": "Enrolled"] })
        XCTAssertEqual(after.filter { $0.type == "hold.superseded" }.count, 1, "the applied run ends the hold")
    }

    /// A run's additions are stored as blocks of ids read back from the records: every id
    /// is there once, in key order, whatever page size reads them, and each shows the record
    /// as the run added it, also after later runs changed or deactivated it.
    func testAdditionsReadBackAsTheRunAddedThemInEveryPaging() throws {
        let w = Workspace()
        let c = try feedConfiguration(w, entities: "staff")
        w.write("staff.csv", largeStaffCSV(2500))
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied)
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM events WHERE type = 'staff.added'"), 3, "2,500 additions in three stored rows")
        let all = try events(w)
        let added = all.filter { $0.type == "staff.added" }
        XCTAssertEqual(added.count, 2500)
        XCTAssertEqual(all.map(\.id), Array(1...Int64(all.count)), "ids without gaps, blocks included")
        let ids = added.map { try! object($0.subject)["staff_id"] as! String }
        XCTAssertEqual(ids, ids.sorted(), "key order")
        XCTAssertEqual(Set(ids).count, 2500)
        // Any page size, any cursor inside a block, gives the same events.
        for size in [1, 7, 1000, 1024, 1500] {
            var cursor: Int64 = 0, paged: [FeedEvent] = []
            while true {
                let page = try w.store().events.events(after: cursor, limit: size)
                paged += page.events
                if page.events.isEmpty || cursor == page.next { break }
                cursor = page.next
                if size == 1 && paged.count > 40 { break }
            }
            XCTAssertEqual(paged, Array(all.prefix(paged.count)), "pages of \(size)")
            if size > 1 { XCTAssertEqual(paged.count, all.count, "pages of \(size)") }
        }
        // S7 changes its email, S8 leaves: their additions still show them as added.
        var text = largeStaffCSV(2500).replacingOccurrences(of: "S7,First7,Lé7,user7@district.org", with: "S7,First7,Lé7,new7@district.org")
        text = text.replacingOccurrences(of: "S8,First8,Lé8,user8@district.org,Teacher,101,active", with: "S8,First8,Lé8,user8@district.org,Teacher,101,inactive")
        w.write("staff.csv", text)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let again = try events(w)
        XCTAssertEqual(Array(again.prefix(all.count)), all, "what was read before reads the same")
        let s7 = try XCTUnwrap(again.first { $0.type == "staff.added" && $0.subject == #"{"staff_id":"S7"}"# })
        XCTAssertEqual(try object(s7.data)["email"] as? String, "user7@district.org")
        let s8 = try XCTUnwrap(again.first { $0.type == "staff.added" && $0.subject == #"{"staff_id":"S8"}"# })
        XCTAssertEqual(try object(s8.data)["active"] as? Bool, true)
        XCTAssertEqual(again.dropFirst(all.count).map(\.type), ["staff.updated", "staff.deactivated", "run.applied"])
        // Pruning keeps a block that straddles the boundary whole; ids below it are gone.
        let store = try w.store()
        store.events.settings.maxEvents = 1400
        XCTAssertEqual(try store.events.prune(now: Date()), 1 + 1024, "feed.started and the first block")
        let head = try store.events.head()
        XCTAssertThrowsError(try store.events.events(after: 100, limit: 5))
        XCTAssertEqual(try store.events.events(after: head - 1400, limit: 1).events.first?.id, head - 1399, "inside the block that stayed")
    }

    /// Events written a block at a time (streamed, as a user import writes them, and
    /// set-based, as a run's roles are) read back one by one, in every paging.
    func testBlocksOfEventsReadBackOneByOneInEveryPaging() throws {
        let w = Workspace()
        let store = try feedOfOneStaffMember(w)
        let before = try store.events.head()
        let rows = try UserImport.parse(Array(("username,email,approved,student_id,household_id,donor_id\n"
            + (1...2500).map { "u\($0),u\($0)@home.org,yes,,," }.joined(separator: "\n") + "\n").utf8), file: "users.csv")
        _ = try store.accounts.importUsers(rows, file: "users.csv", actor: "admin", now: Date())
        try store.database.transaction {
            let batch = try store.events.batch(runID: nil, actor: "admin", at: Timestamp.format(Date()))
            try batch.write("user.changed", selecting: """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
                SELECT row_number() OVER () AS seq, '{"username":"u' || i || '"}' || char(9) || '{"field":"n"}' AS item FROM n
                """)
            try batch.finish()
        }
        let db = try w.rawDatabase()
        XCTAssertEqual(try db.int("SELECT count(*) FROM events WHERE event_id > \(before)"), 3 + 2, "4,000 events in five rows")
        let all = try events(w, after: before)
        XCTAssertEqual(all.count, 4000)
        XCTAssertEqual(all.map(\.id), Array(before + 1...before + 4000))
        XCTAssertEqual(all.prefix(2500).map(\.subject), (1...2500).map { #"{"username":"u\#($0)"}"# }, "the file's order")
        XCTAssertEqual(all[0].data, #"{"email":"u1@home.org","approved":true,"attachments":{}}"#)
        XCTAssertEqual(Set(all.suffix(1500).map(\.subject)), Set((1...1500).map { #"{"username":"u\#($0)"}"# }))
        XCTAssertTrue(all.allSatisfy { $0.actor == "admin" && $0.runID == nil })
        for size in [7, 1000, 1024, 1500] {
            var cursor = before, paged: [FeedEvent] = []
            while true {
                let page = try store.events.events(after: cursor, limit: size)
                paged += page.events
                if page.events.isEmpty { break }
                cursor = page.next
            }
            XCTAssertEqual(paged, all, "pages of \(size)")
        }
        let filtered = try store.events.events(after: before + 1200, limit: 5, filter: EventTypeFilter(parsing: "user.changed"))
        XCTAssertEqual(filtered.events.map(\.id), Array(before + 2501...before + 2505))
    }

    /// An addition is read back through the change log once its record changed: the change
    /// log must be kept at least as long as the feed.
    func testTheFeedMayNotOutliveTheChangeLog() throws {
        let text = "[sync]\ndatabase = /tmp/x.db\nhistory_days = 30\n[source]\nurl = /tmp/\n[events]\nenabled = true\n"
        XCTAssertThrowsError(try Configuration.parse(text: text, path: "/etc/sisync/sisync.conf")) { e in
            XCTAssertTrue("\(e)".contains("at most [sync] history_days (30)"), "\(e)")
        }
        XCTAssertNoThrow(try Configuration.parse(text: text + "keep_days = 30\n", path: "/etc/sisync/sisync.conf"))
        XCTAssertNoThrow(try Configuration.parse(text: text.replacingOccurrences(of: "enabled = true", with: "enabled = false"), path: "/etc/sisync/sisync.conf"))
    }

    /// The users of RolesTests, without the checks of its run.
    private static func addUsersOnly(_ w: Workspace) { RolesTests.addUsers(w) }

    func testAdministratorsChangesAreEventsWithoutSecrets() throws {
        let w = Workspace()
        let c = try feedConfiguration(w)
        RolesTests.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let head = try w.store().events.head()
        let commands: [[String]] = [
            ["user", "add", "--username", "zed", "--email", "zed@home.org"],
            ["user", "approve", "zed"],
            ["user", "link", "zed", "S2", "--reason", "covers for Ben"],
            ["user", "role", "add", "zed", "Finance"],
            ["user", "role", "remove", "zed", "Finance"],
            ["user", "attach", "zed", "--household", "H1"],
            ["access", "enable", "ST1"],
            ["access", "reset", "ST1"],
            ["user", "unlink", "zed"],
            ["user", "remove", "zed"],
        ]
        for command in commands {
            let r = w.ctl(command)
            XCTAssertEqual(r.code, 0, "\(command): \(r.err)")
        }
        XCTAssertEqual(w.ctl(["user", "add", "--username", "pat", "--email", "pat@home.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "passwd", "pat"], input: ["correct horse battery staple"]).code, 0)
        let feed = try events(w, after: head)
        XCTAssertEqual(feed.map(\.type), ["user.added", "user.approved", "link.created", "role.granted", "role.revoked", "user.changed",
                                          "access_code.created", "access_code.reset", "link.removed", "user.removed", "user.added", "user.changed"])
        XCTAssertTrue(feed.allSatisfy { $0.runID == nil && $0.actor == "admin" })
        let link = feed[2]
        XCTAssertEqual(try object(link.subject) as? [String: String], ["username": "zed", "staff_id": "S2"])
        XCTAssertEqual(try object(link.data)["kind"] as? String, "manual")
        XCTAssertFalse(link.data.contains("covers"), "the administrator's note stays out, as in the API's user")
        // Never a password hash, a token hash or an access code.
        let store = try w.store()
        let code = try XCTUnwrap(try store.accessCodes.accessCode(student: "ST1"))
        let hash = try XCTUnwrap(try store.database.query("SELECT password_hash FROM users WHERE username = 'pat'").firstText())
        for e in feed {
            XCTAssertFalse(e.json.contains(code), e.json)
            XCTAssertFalse(e.json.contains(String(hash.suffix(20))), e.json)
        }
        XCTAssertEqual(try object(feed.last!.data) as? [String: String], ["field": "password"])
    }

    /// `user import` writes its users through `administer`'s streaming form: each new user is
    /// one `user.added` with its attachments (also when a bulk import keeps its change-log
    /// entries in the rows it adds); an existing user's changes are as the change log has them.
    func testUserImportWritesAnEventPerNewUserAndTheChangesOfExistingOnes() throws {
        let w = Workspace()
        let c = try feedConfiguration(w)
        RolesTests.writeSchool(w)
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        XCTAssertEqual(w.ctl(["user", "add", "--username", "old", "--email", "old@home.org"]).code, 0)
        let head = try w.store().events.head()
        w.write(w.root + "/users.csv", "username,email,approved,student_id,household_id,donor_id\nkim,kim@students.org,yes,ST1,,\nmom,mom@home.org,no,,H1,\nold,old2@home.org,yes,,H2,\n")
        let r = w.ctl(["user", "import", w.root + "/users.csv"])
        XCTAssertEqual(r.code, 0, r.err)
        let feed = try events(w, after: head)
        XCTAssertEqual(feed.map(\.type), ["user.added", "user.added", "user.changed", "user.approved", "user.changed"], "in the file's order")
        XCTAssertEqual(feed.map(\.subject), [#"{"username":"kim"}"#, #"{"username":"mom"}"#, #"{"username":"old"}"#, #"{"username":"old"}"#, #"{"username":"old"}"#])
        XCTAssertEqual(feed[0].data, #"{"email":"kim@students.org","approved":true,"attachments":{"student":["ST1"]}}"#)
        XCTAssertEqual(try object(feed[2].data) as? [String: String], ["field": "email", "old": "old@home.org", "new": "old2@home.org"])
        XCTAssertEqual(feed[4].data, #"{"field":"household","old":null,"new":"H2"}"#)
        // A bulk import (its change-log entries kept in its rows) writes the same events.
        let bulk = try w.store()
        bulk.events.settings = c.events
        let before = try bulk.events.head()
        let rows = try UserImport.parse(Array("username,email,approved,student_id,household_id,donor_id\nnew1,n1@home.org,yes,,H3,\nnew2,n2@home.org,no,,,\n".utf8), file: "users2.csv")
        _ = try bulk.accounts.importUsers(rows, file: "users2.csv", actor: "admin", now: Date(), bulkAdditions: 1)
        XCTAssertEqual(try events(w, after: before).map(\.subject), [#"{"username":"new1"}"#, #"{"username":"new2"}"#])
    }

    /// A user import's new users are stored as compact lines (`PackedLines.userAdded`, issue
    /// 34: events on cost the import 17%, over issue 31's 15%); the feed reads them exactly
    /// as the events the import wrote one by one before (`EventSink.add`, each subject and
    /// data through `CompactJSON`): the same ids, types, times, actor, subjects and data,
    /// for escapes, every kind of attachment, and blocks broken by an existing user's changes.
    func testAUserImportsCompactLinesReadAsTheEventsItWroteOneByOne() throws {
        let w = Workspace()
        let c = try feedConfiguration(w)
        RolesTests.writeSchool(w)
        let first = w.sync(c)
        XCTAssertEqual(first.summary.outcome, .applied, first.summary.error ?? "")
        XCTAssertEqual(w.ctl(["user", "add", "--username", "old", "--email", "old@home.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "same", "--email", "same@home.org"]).code, 0)
        let store = try w.store()
        store.events.settings = c.events
        func attach(_ pairs: [(AttachmentKind, String)]) -> [UserImportAttachment] { pairs.map { UserImportAttachment(kind: $0.0, id: $0.1) } }
        var rows: [UserImportRow] = [
            UserImportRow(line: 2, username: "q\"uote\\back", email: "zoë@home.org", approved: nil, attachments: attach([(.donor, "D1"), (.household, "H1"), (.household, "H2"), (.student, "ST1")])),
            UserImportRow(line: 3, username: "old", email: "old2@home.org", approved: nil, attachments: attach([(.household, "H3")])),
            UserImportRow(line: 4, username: "ünï", email: "u@home.org", approved: false, attachments: attach([(.student, "ST1"), (.student, "ST2")])),
            UserImportRow(line: 5, username: "same", email: "same@home.org", approved: nil, attachments: []),
        ]
        // Past a block of 1,024 after the existing users, so blocks also break on their size.
        rows += (1...2100).map { UserImportRow(line: 5 + $0, username: "u\($0)", email: "u\($0)@home.org", approved: $0 % 3 == 0 ? nil : $0 % 2 == 0,
                                               attachments: $0 % 5 == 0 ? attach([(.household, "H\($0 % 3 + 1)")]) : []) }
        let head = try store.events.head()
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        _ = try store.accounts.importUsers(rows, file: "users.csv", actor: "admin", now: now)
        let compact = try store.events.events(after: head, limit: 10_000_000).events
        XCTAssertEqual(compact.count, rows.count - 2 + 2, "each new user; the old user's email and attachment; nothing for the unchanged one")
        // Read back one by one in every paging.
        for size in [7, 1024] {
            var cursor = head, paged: [FeedEvent] = []
            while true {
                let page = try store.events.events(after: cursor, limit: size)
                if page.events.isEmpty { break }
                paged += page.events
                cursor = page.next
            }
            XCTAssertTrue(paged == compact, "pages of \(size)")
        }
        // The same events written one by one, as the import wrote them before.
        let reference = try store.events.head()
        try store.database.transaction {
            let batch = try store.events.batch(runID: nil, actor: "admin", at: Timestamp.format(now))
            try batch.write { sink in
                for row in rows where row.username != "same" {
                    if row.username == "old" {
                        try ChangeEvents.write([Change(entity: "users", id: "old", field: "email", old: "old@home.org", new: "old2@home.org", kind: .updated),
                                                Change(entity: "users", id: "old", field: "household", old: nil, new: "H3", kind: .updated)],
                                               origin: .administrator, into: sink)
                        continue
                    }
                    sink.subject.string("username", row.username)
                    sink.data.string("email", row.email)
                    sink.data.bool("approved", row.approved ?? false)
                    sink.data.open("attachments")
                    for (kind, ids) in UserImport.byKind(row.attachments) { sink.data.strings(kind.rawValue, ids) }
                    sink.data.close()
                    try sink.add("user.added")
                }
            }
            try batch.finish()
        }
        let oneByOne = try store.events.events(after: reference, limit: 10_000_000).events
        XCTAssertEqual(oneByOne.count, compact.count)
        let shifted = compact.map { FeedEvent(id: $0.id + reference - head, type: $0.type, at: $0.at, runID: $0.runID, actor: $0.actor, subject: $0.subject, data: $0.data) }
        let differ = zip(shifted, oneByOne).filter { $0 != $1 }
        XCTAssertTrue(differ.isEmpty, "\(differ.count) events differ, the first: \(differ.first.map { "\($0.0) against \($0.1)" } ?? "")")
        XCTAssertEqual(compact[0].subject, #"{"username":"q\"uote\\back"}"#)
        XCTAssertEqual(compact[0].data, #"{"email":"zoë@home.org","approved":false,"attachments":{"donor":["D1"],"household":["H1","H2"],"student":["ST1"]}}"#)
        // Stored in the same rows (blocks broken where they were), in fewer bytes.
        let db = try w.rawDatabase()
        func stored(_ from: Int64, _ to: Int64) throws -> (spans: [Int64], bytes: Int64) {
            var spans: [Int64] = []
            try db.forEachRow("SELECT span FROM events WHERE event_id > \(from) AND event_id <= \(to) ORDER BY event_id") { spans.append($0.int64(0)) }
            return (spans, Int64(try db.int("SELECT sum(length(coalesce(packed, '')) + length(coalesce(data, '')) + length(subject)) FROM events WHERE event_id > \(from) AND event_id <= \(to)") ?? 0))
        }
        let (compactRows, compactBytes) = try stored(head, reference)
        let (referenceRows, referenceBytes) = try stored(reference, reference + Int64(oneByOne.count))
        XCTAssertEqual(compactRows, [1, 2, 1024, 1024, 53], "the first new user, the old user's two changes, then the rest in blocks")
        XCTAssertEqual(referenceRows, compactRows)
        XCTAssertLessThan(compactBytes * 10, referenceBytes * 7, "compact: \(compactBytes) bytes against \(referenceBytes)")
    }

    /// A run's role events are written as `calculated-role` lines (`CalculatedRoleLines`,
    /// issue 34); read back, they are the events the sink writes one by one as JSON: usernames
    /// JSON escapes, non-ASCII ones, empty school years, and blocks of exactly 1,024 and of
    /// 1,025 (a second row of one).
    func testCalculatedRoleLinesReadAsTheEventsWrittenOneByOne() throws {
        let w = Workspace()
        let store = try feedOfOneStaffMember(w)
        let odd = ["q\"uote\\back", "tab\there", "line\nfeed", "ctl\u{1}x", "zoë", "ünï.ãé@例え", "eightch\"", "ninechars\\", ""]
        try store.database.execute("CREATE TABLE role_rows_test (seq integer, username text, role text, school_year text)")
        for count in [EventBatch.blockSize, EventBatch.blockSize + 1] {
            try store.database.execute("DELETE FROM role_rows_test")
            let rows: [(String, String, String)] = (0..<count).map { i in
                (i < odd.count ? odd[i] : "user\(i)", ["Student", "Honor Roll", "Admissions Evaluator"][i % 3], i % 2 == 0 ? "" : "2026-2027")
            }
            try store.database.insertRows(into: "role_rows_test", columns: ["seq", "username", "role", "school_year"]) { sink in
                for (i, row) in rows.enumerated() {
                    try sink.add(Int64(i)); try sink.add(row.0); try sink.add(row.1); try sink.add(row.2)
                    try sink.endRow()
                }
            }
            let written = try eventsWritten(w, store) { try $0.writeCalculatedRoles("role.granted", reading: "SELECT username, role, school_year FROM role_rows_test ORDER BY seq") }
            let oneByOne = try eventsWritten(w, store) { batch in
                try batch.write { sink in
                    for row in rows {
                        sink.subject.string("username", row.0)
                        sink.data.string("role", row.1); sink.data.string("school_year", row.2); sink.data.string("source", "calculated")
                        try sink.add("role.granted")
                    }
                }
            }
            let (head, lines) = written, reference = oneByOne.head
            XCTAssertEqual(lines.count, count)
            XCTAssertEqual(lines.map(\.id), Array(head + 1...head + Int64(count)))
            assertSameEvents(written, oneByOne)
            for (event, row) in zip(lines, rows) {
                XCTAssertEqual(try object(event.subject)["username"] as? String, row.0, event.subject)
            }
            let db = try w.rawDatabase()
            var spans: [Int64] = []
            try db.forEachRow("SELECT span FROM events WHERE event_id > \(head) AND event_id <= \(reference) ORDER BY event_id") { spans.append($0.int64(0)) }
            XCTAssertEqual(spans, count == EventBatch.blockSize ? [1024] : [1024, 1])
        }
    }

    /// A run's new links (`RunEvents.links` writes the subject straight and one data object
    /// for all, issue 34) read back as the events `CompactJSON` made member by member: names
    /// JSON escapes, non-ASCII, links that replace another, unlinks between, and more than a
    /// block of 1,024.
    func testNewLinkEventsAreTheObjectsWrittenMemberByMember() throws {
        let w = Workspace()
        let store = try feedOfOneStaffMember(w)
        var plan = LinkPlan()
        plan.changes = [.link(username: "q\"uo\\te", staffID: "S\t1", previous: nil), .link(username: "zoë", staffID: "S2", previous: "S1"),
                        .unlink(username: "ray", staffID: "S3", kind: .auto, why: "email changed"), .link(username: "ünï", staffID: "例え", previous: nil),
                        .ambiguous(username: "amb", email: "a@x.org", staffIDs: ["S1", "S2"]), .unapprove(username: "kim", staffID: "S4")]
            + (1...1030).map { .link(username: "u\($0)", staffID: "S\($0)", previous: nil) }
        let written = try eventsWritten(w, store) { try RunEvents.links(plan, into: $0) }
        // As `RunEvents.links` wrote every link before (issue 34), the reference.
        let memberByMember = try eventsWritten(w, store) { batch in
            try batch.write { sink in
                for c in plan.changes {
                    switch c {
                    case .link(let user, let staff, let previous):
                        sink.subject.string("username", user); sink.subject.string("staff_id", staff)
                        sink.data.string("kind", LinkKind.auto.rawValue); sink.data.string("reason", "email match")
                        sink.data.string("previous_staff_id", previous)
                        try sink.add("link.created")
                    case .unlink(let user, let staff, let kind, let why):
                        sink.subject.string("username", user); sink.subject.string("staff_id", staff)
                        sink.data.string("kind", kind.rawValue); sink.data.string("reason", c.unlinkReason ?? "")
                        sink.data.string("detail", why)
                        try sink.add("link.removed")
                    case .unapprove(let user, let staff):
                        sink.subject.string("username", user)
                        sink.data.string("reason", "staff deactivated"); sink.data.string("staff_id", staff)
                        try sink.add("user.unapproved")
                    case .ambiguous:
                        break
                    }
                }
            }
        }
        XCTAssertEqual(written.events.count, plan.changes.count - 1)
        assertSameEvents(written, memberByMember)
        XCTAssertEqual(written.events[0].subject, #"{"username":"q\"uo\\te","staff_id":"S\t1"}"#)
        XCTAssertEqual(written.events[0].data, #"{"kind":"auto","reason":"email match","previous_staff_id":null}"#)
    }

    /// A first run's grants (written straight into `user_roles`) are its `role.granted`
    /// events, in the table's key order, also when a manual role was stored before them (then
    /// the events read only the calculated ones: `everyRoleInKeyOrderOnSQLite` is for a
    /// table that was empty).
    func testFirstGrantsAreTheCalculatedRolesInKeyOrderWithOrWithoutAManualRole() throws {
        // `trigger`: an application's trigger on `changes` (SQLite), which the run writes
        // between its grants and their events, adds a manual role in the meantime.
        for (manual, trigger) in [(false, false), (true, false), (false, true)] {
            let w = Workspace()
            if trigger && w.isPostgres { continue }
            // A new school year makes the run calculate every role (the first grants' path).
            let earlier = try feedConfiguration(w, schoolYear: "2025-2026")
            RolesTests.writeSchool(w)
            XCTAssertEqual(w.sync(earlier).summary.outcome, .applied)
            if manual {
                XCTAssertEqual(w.ctl(["user", "add", "--username", "Zed", "--email", "zed@home.org"]).code, 0)
                XCTAssertEqual(w.ctl(["user", "role", "add", "Zed", "Finance"]).code, 0)
            }
            // Imported, as a district's users are: no role is calculated before the run.
            let store = try w.store()
            let users = try UserImport.parse(Array(("username,email,approved,student_id,household_id,donor_id\n"
                + "kim,kim@students.org,yes,ST1,,\nLee,lee@students.org,yes,ST2,,\nmom,mom@home.org,yes,,H1,\nRay,ray@home.org,yes,,H2,\n"
                + "ana,ana@district.org,yes,,,\nzoë,zoe@home.org,yes,ST3,H3,\n").utf8), file: "users.csv")
            _ = try store.accounts.importUsers(users, file: "users.csv", actor: "admin", now: Date())
            XCTAssertEqual(try w.rawDatabase().int("SELECT count(*) FROM user_roles WHERE source = 'calculated'"), 0)
            if trigger {
                try w.rawDatabase().execute("""
                    CREATE TRIGGER app_finance AFTER INSERT ON changes BEGIN
                      INSERT OR IGNORE INTO user_roles (username, role, source) VALUES ('ana', 'Finance', 'manual');
                    END
                    """)
            }
            let head = try w.store().events.head()
            let granting = w.sync(try feedConfiguration(w))
            XCTAssertEqual(granting.summary.outcome, .unchanged, granting.summary.error ?? "")
            XCTAssertEqual(granting.plan?.roles.grantsStored, true, "the first grants are written as the rules find them")
            let grants = try events(w, after: head).filter { $0.type == "role.granted" }
            var expected: [(String, String)] = []
            try w.rawDatabase().forEachRow(RoleStore.calculatedRolesInKeyOrder) { r in
                var subject = CompactJSON(), data = CompactJSON()
                subject.string("username", r.text(0))
                data.string("role", r.text(1)); data.string("school_year", r.text(2)); data.string("source", "calculated")
                expected.append((subject.text, data.text))
            }
            XCTAssertGreaterThan(expected.count, 5, "\(expected)")
            if trigger { XCTAssertEqual(try w.rawDatabase().int("SELECT count(*) FROM user_roles WHERE role = 'Finance'"), 1, "the trigger ran") }
            XCTAssertEqual(grants.map(\.subject), expected.map(\.0), "manual role stored: \(manual), trigger: \(trigger)")
            XCTAssertEqual(grants.map(\.data), expected.map(\.1), "manual role stored: \(manual), trigger: \(trigger)")
            XCTAssertEqual(grants.map(\.id), Array(grants[0].id..<grants[0].id + Int64(grants.count)))
            XCTAssertFalse(grants.contains { $0.data.contains("Finance") })
        }
    }

    func testFoldingEveryEventReproducesActiveStaffLinksAndRoles() throws {
        let w = Workspace()
        var c = try feedConfiguration(w)
        c.guardSettings.revoke.count = 1000
        RolesTests.writeSchool(w)
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        RolesTests.addUsers(w)
        _ = w.sync(c)
        try assertReplayMatches(w, "after linking and granting")
        for command in [["user", "role", "add", "mom", "Finance"], ["user", "link", "rosa", "S2", "--reason", "aide"],
                        ["user", "remove", "kim"], ["user", "add", "--username", "ben", "--email", "BEN@district.org"]] {
            XCTAssertEqual(w.ctl(command).code, 0, "\(command)")
        }
        RolesTests.writeSchool(w, st1Status: "Withdrawn", a1Status: "Copied")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org"),
                                       ("S3", "Cleo", "Park-Ray", "cleo.new@district.org")], status: ["S1": "inactive"]))
        XCTAssertEqual(w.sync(c, allow: true).summary.outcome, .applied)
        try assertReplayMatches(w, "after deactivations, an email change and revocations")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org"),
                                       ("S3", "Cleo", "Park", "cleo@district.org"), ("S4", "Dee", "Nu", "dee@district.org")]))
        let last = w.sync(c, allow: true)
        XCTAssertEqual(last.summary.outcome, .applied)
        try assertReplayMatches(w, "after reactivation")
        XCTAssertEqual(w.ctl(["run", "revert", String(last.summary.runID!)]).code, 0)
        try assertReplayMatches(w, "after a revert")
        XCTAssertEqual(w.ctl(["user", "unlink", "rosa"]).code, 0)
        try assertReplayMatches(w, "after an unlink")
        XCTAssertEqual(w.ctl(["user", "rename", "mom", "Maria"]).code, 0)
        try assertReplayMatches(w, "after a rename (its link and roles under the new name)")
        // Issue 33: S2 renumbered N-S2, carried over with ben's link (asked by hand, applied).
        XCTAssertEqual(w.ctl(["staff", "rekey", "S2", "N-S2"]).code, 0)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("N-S2", "Ben", "Okafor", "ben@district.org"),
                                       ("S3", "Cleo", "Park", "cleo@district.org"), ("S4", "Dee", "Nu", "dee@district.org")]))
        c.guardSettings.rekey = .apply
        let rekeyed = w.sync(c, allow: true)
        XCTAssertEqual(rekeyed.summary.outcome, .applied, rekeyed.summary.error ?? "")
        XCTAssertEqual(try w.store().rekeys.entries(run: try XCTUnwrap(rekeyed.summary.runID)).map(\.new), ["N-S2"])
        try assertReplayMatches(w, "after a rekey (the record and its links under the new id)")
    }

    /// The fold of docs/events.md ("Replaying the feed") against the store's tables.
    private func assertReplayMatches(_ w: Workspace, _ step: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var staff: [String: (values: [String: String], active: Bool)] = [:]
        var links: [String: String] = [:]
        var roles = Set<String>()
        for e in try events(w) {
            let subject = try object(e.subject), data = try object(e.data)
            let user = (subject["username"] as? String)?.lowercased() ?? ""
            switch e.type {
            case "staff.added":
                var values = data.compactMapValues { $0 as? String }
                values["staff_id"] = subject["staff_id"] as? String
                staff[subject["staff_id"] as! String] = (values, data["active"] as? Bool ?? true)
            case "staff.updated", "staff.reactivated":
                let id = subject["staff_id"] as! String
                for (k, v) in (data["record"] as? [String: String]) ?? [:] { staff[id]!.values[k] = v }
                if e.type == "staff.reactivated" { staff[id]!.active = true }
            case "staff.deactivated": staff[subject["staff_id"] as! String]!.active = false
            case "staff.rekeyed":
                let id = subject["staff_id"] as! String, old = data["old_id"] as! String
                if var record = staff.removeValue(forKey: old) {
                    record.values["staff_id"] = id
                    staff[id] = record
                }
                links = links.mapValues { $0 == old ? id : $0 }
            case "link.created": links[user] = subject["staff_id"] as? String
            case "link.removed": links[user] = nil
            case "user.removed":
                links[user] = nil
                roles = roles.filter { !$0.hasPrefix(user + "|") }
            case "user.renamed":
                let old = (data["old_username"] as! String).lowercased()
                links[user] = links.removeValue(forKey: old)
                roles = Set(roles.map { $0.hasPrefix(old + "|") ? user + $0.dropFirst(old.count) : $0 })
            case "role.granted", "role.revoked":
                let key = "\(user)|\(data["role"] as! String)|\(data["school_year"] as! String)|\(data["source"] as! String)"
                if e.type == "role.granted" { roles.insert(key) } else { roles.remove(key) }
            default: break
            }
        }
        let db = try w.store().database
        var storedStaff: [String: [String: String]] = [:]
        try db.forEachRow("SELECT staff_id, first_name, last_name, email, title, school_ids, enabled FROM staff WHERE active = TRUE") { r in
            storedStaff[r.text(0)] = ["staff_id": r.text(0), "first_name": r.text(1), "last_name": r.text(2), "email": r.text(3),
                                      "title": r.text(4), "school_ids": r.text(5), "enabled": r.text(6)]
        }
        XCTAssertEqual(staff.filter(\.value.active).mapValues(\.values), storedStaff, "active staff \(step)", file: file, line: line)
        var storedLinks: [String: String] = [:]
        try db.forEachRow("SELECT username, staff_id FROM links") { storedLinks[$0.text(0).lowercased()] = $0.text(1) }
        XCTAssertEqual(links, storedLinks, "links \(step)", file: file, line: line)
        var storedRoles = Set<String>()
        try db.forEachRow("SELECT username, role, school_year, source FROM user_roles") {
            storedRoles.insert("\($0.text(0).lowercased())|\($0.text(1))|\($0.text(2))|\($0.text(3))")
        }
        XCTAssertEqual(roles, storedRoles, "roles \(step)", file: file, line: line)
    }

    func testACursorOlderThanWhatIsKeptIsAnsweredWithTheHead() throws {
        let w = Workspace()
        let c = try feedConfiguration(w, entities: "staff", events: "keep_days = 10\n")
        let day: TimeInterval = 86_400
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        XCTAssertEqual(w.sync(c, at: start).summary.outcome, .applied)
        let old = try w.store().events.head()
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org"), ("S2", "Ben", "Okafor", "ben@district.org")]))
        XCTAssertEqual(w.sync(c, at: start + 20 * day).summary.outcome, .applied, "prunes the first run's events after it applies")
        let store = try w.store()
        let head = try store.events.head()
        XCTAssertThrowsError(try store.events.events(after: 0, limit: 10)) { error in
            XCTAssertEqual(error as? EventFeedError, .pruned(cursor: 0, prunedThrough: old, head: head))
            XCTAssertTrue("\(error)".contains("re-read the current state, then continue from the head, \(head)"))
        }
        let kept = try store.events.events(after: old, limit: 10)
        XCTAssertEqual(kept.events.map(\.type), ["staff.added", "run.applied"])
        XCTAssertEqual(kept.next, head)
        XCTAssertThrowsError(try store.events.events(after: head + 5, limit: 10)) { XCTAssertEqual($0 as? EventFeedError, .beyondHead(cursor: head + 5, head: head)) }
        // max_events keeps the newest.
        store.events.settings.maxEvents = 1
        XCTAssertEqual(try store.events.prune(now: start + 20 * day), 1)
        XCTAssertEqual(try store.events.events(after: head - 1, limit: 10).events.map(\.type), ["run.applied"])
        XCTAssertEqual(try store.events.head(), head)
        // A filter skips what it does not take, and the next cursor goes past it.
        let filtered = try store.events.events(after: head - 1, limit: 10, filter: EventTypeFilter(parsing: "staff.*"))
        XCTAssertEqual(filtered.events, [])
        XCTAssertEqual(filtered.next, head)
        XCTAssertThrowsError(try EventTypeFilter(parsing: "staff.fired")) { XCTAssertEqual($0 as? EventFeedError, .unknownType("staff.fired")) }
    }

    /// docs/events.md documents every type the code writes, each with an example body that
    /// is one JSON object of the feed's shape.
    func testEveryEventTypeIsDocumentedWithAnExample() throws {
        let doc = try String(contentsOfFile: PackagingTests.root + "/docs/events.md", encoding: .utf8)
        var examples: [String: [String: Any]] = [:]
        for line in doc.split(separator: "\n") where line.hasPrefix("{\"id\"") {
            // An example may continue on the next line: join it with the following line.
            let start = doc.range(of: String(line))!.lowerBound
            let rest = doc[start...].split(separator: "\n").prefix(2)
            let text = rest.count == 2 && rest.last!.hasPrefix(" ") ? rest.joined() : String(line)
            let o = try object(text)
            XCTAssertEqual(Set(o.keys), ["id", "type", "at", "run_id", "actor", "subject", "data"], text)
            examples[o["type"] as! String] = o
        }
        for type in EventTypes.all {
            let generic = type.split(separator: ".").last.map { "`ENTITY.\($0)`" } ?? ""
            XCTAssertTrue(doc.contains("`\(type)`") || (EntityKind.allCases.contains { type.hasPrefix($0.rawValue + ".") } && doc.contains(generic)),
                          "docs/events.md lists \(type)")
            if !EntityKind.allCases.contains(where: { type.hasPrefix($0.rawValue + ".") }) {
                XCTAssertNotNil(examples[type], "docs/events.md has an example of \(type)")
            }
        }
        for kind in EntityKind.allCases { XCTAssertTrue(doc.contains("`\(kind.rawValue)`"), "docs/events.md names the entity \(kind.rawValue)") }
    }

    /// Issue 33: "The event feed gets *.rekeyed" for what a rekey carries over; applicants
    /// and donors never are, so `applicants.rekeyed` is not a type a filter may name.
    func testRekeyedIsATypeOnlyOfTheEntitiesARekeyCarriesOver() throws {
        for kind in [EntityKind.staff, .students, .households, .householdRelationships, .attributes] {
            XCTAssertTrue(EventTypes.all.contains(EventTypes.record(kind, "rekeyed")), kind.rawValue)
        }
        for kind in [EntityKind.applicants, .donors] {
            XCTAssertFalse(EventTypes.all.contains(EventTypes.record(kind, "rekeyed")), kind.rawValue)
            XCTAssertTrue(EventTypes.all.contains(EventTypes.record(kind, "added")), kind.rawValue)
            XCTAssertThrowsError(try EventTypeFilter(parsing: "\(kind.rawValue).rekeyed"), kind.rawValue) { error in
                XCTAssertEqual(error as? EventFeedError, .unknownType("\(kind.rawValue).rekeyed"))
            }
        }
    }

    /// PostgreSQL: a writer of events holds `events` until it commits, so the next writer's ids
    /// are drawn after these and a reader never sees id N+1 before N; each commit announces
    /// its last id on `sisync_events`.
    func testPostgresReadersSeeIdsInOrderAndCommitsAreAnnounced() throws {
        guard TestStore.isPostgres else { throw XCTSkip("PostgreSQL only (SISYNC_TEST_STORE=postgresql)") }
        let w = Workspace()
        let c = try feedConfiguration(w, entities: "staff")
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let listener = try XCTUnwrap(try w.store().database as? PostgresDatabase).connection
        try listener.executeScript("LISTEN sisync_events")
        let first = try RosterStore(configuration: c), second = try RosterStore(configuration: c)
        let firstPID = (first.database as! PostgresDatabase).connection.backendPID
        let secondPID = (second.database as! PostgresDatabase).connection.backendPID
        let release = DispatchSemaphore(value: 0), firstWrote = DispatchSemaphore(value: 0), done = DispatchGroup()
        nonisolated(unsafe) var ids: [String: Int64] = [:]
        let lock = NSLock()
        func write(_ writer: RosterStore, _ name: String, holdUntilReleased: Bool) {
            done.enter()
            nonisolated(unsafe) let store = writer
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    try store.database.transaction {
                        let batch = try store.events.batch(runID: nil, actor: name, at: Timestamp.format(Date()))
                        try batch.write { sink in sink.subject.string("username", name); try sink.add("user.changed") }
                        let id = try batch.finish()
                        lock.withLock { ids[name] = id }
                        if holdUntilReleased { firstWrote.signal(); _ = release.wait(timeout: .now() + 30) }
                    }
                } catch { XCTFail("\(name): \(error)") }
            }
        }
        write(first, "first", holdUntilReleased: true)
        XCTAssertEqual(firstWrote.wait(timeout: .now() + 30), .success)
        write(second, "second", holdUntilReleased: false)
        // The second writer waits for the first one's lock on `events`.
        let watcher = try XCTUnwrap(try w.store().database as? PostgresDatabase).connection
        var waiting = false
        let deadline = Date().addingTimeInterval(30)
        while !waiting && Date() < deadline {
            waiting = try watcher.execute("""
                SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted AND relation = 'events'::regclass
                """, [String(secondPID)]).value(0, 0) == "1"
        }
        XCTAssertTrue(waiting, "the second writer (pid \(secondPID)) waits for the first (pid \(firstPID))")
        XCTAssertNil(lock.withLock { ids["second"] }, "nothing of the second writer before the first commits")
        release.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        let a = try XCTUnwrap(ids["first"]), b = try XCTUnwrap(ids["second"])
        XCTAssertLessThan(a, b)
        XCTAssertEqual(try listener.nextNotification(timeout: 10), String(a))
        XCTAssertEqual(try listener.nextNotification(timeout: 10), String(b))
    }
}

private extension StoreStatement {
    func firstText() throws -> String? {
        defer { reset() }
        return try step() ? string(0) : nil
    }
}

/// `sisyncctl events` as scripts run it: the built binary, a page, the exit 65 of a pruned
/// cursor, and `--follow --json` printing each event as it commits.
final class EventCommandTests: XCTestCase {
    func testEventsPrintsPagesAndFollowsCommitsAndAPrunedCursorIsExit65() throws {
        let w = Workspace()
        w.configure(sync: "school_year = 2026-2027")
        try (try String(contentsOfFile: w.configPath, encoding: .utf8) + "\n[events]\nenabled = true\n").write(toFile: w.configPath, atomically: true, encoding: .utf8)
        let c = try Configuration.load(path: w.configPath)
        w.write("staff.csv", staffCSV([("S1", "Ana", "Lima", "ana@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        let env = ["USER": "admin", "PATH": "/usr/bin:/bin"]
        let page = try runProcess("sisyncctl", ["--config", w.configPath, "events", "--json"], environment: env)
        XCTAssertEqual(page.code, 0, page.stderr)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(page.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((o["events"] as? [[String: Any]])?.compactMap { $0["type"] as? String }, ["feed.started", "staff.added", "run.applied"])
        let head = try XCTUnwrap((o["head"] as? NSNumber)?.int64Value)
        XCTAssertEqual(try runProcess("sisyncctl", ["--config", w.configPath, "events", "--types", "staff.fired"], environment: env).code, 64)

        // --follow --json: one object per line as each commit comes.
        let follower = Process()
        follower.executableURL = productsDirectory.appendingPathComponent("sisyncctl")
        follower.arguments = ["--config", w.configPath, "events", "--after", String(head), "--follow", "--json", "--limit", "2"]
        follower.environment = env
        let out = Pipe()
        follower.standardOutput = out
        try follower.run()
        XCTAssertEqual(w.ctl(["user", "add", "--username", "ana", "--email", "ana@district.org"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "approve", "ana"]).code, 0)
        let finished = DispatchSemaphore(value: 0)
        follower.terminationHandler = { _ in finished.signal() }
        if follower.isRunning { XCTAssertEqual(finished.wait(timeout: .now() + 30), .success, "--follow --limit 2 ends after two events") }
        let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["type"] as? String }, ["user.added", "user.approved"])

        // A pruned cursor: exit 65 and the head.
        let store = try w.store()
        store.events.settings.maxEvents = 1
        try store.events.prune(now: Date())
        let gone = try runProcess("sisyncctl", ["--config", w.configPath, "events", "--after", "0"], environment: env)
        XCTAssertEqual(gone.code, 65, gone.stderr)
        XCTAssertTrue(gone.stderr.contains("re-read the current state, then continue from the head, \(try store.events.head())"), gone.stderr)
    }
}
