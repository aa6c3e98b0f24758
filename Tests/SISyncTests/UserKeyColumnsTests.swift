import XCTest
@testable import SISync

/// Schema 16 (issue 34, the database's size): on SQLite `users.email_key` and `scim_id` are
/// generated from smaller stored columns (`UserKeyColumns`); PostgreSQL keeps its columns.
/// Every way sisync writes a user (`user import`, `user add`, a SCIM provider, a run keying
/// an application's user, an email change) leaves the documented columns reading as
/// docs/schema.md says, on both stores, and each user is found by its SCIM id.
final class UserKeyColumnsTests: XCTestCase {
    func testEveryWriterLeavesTheDocumentedKeyAndSCIMIDReadable() throws {
        let w = Workspace()
        let c = w.configure(linking: "email_domain_aliases = staff.district.org = district.org")
        w.write("staff.csv", staffCSV([("S1", "Ann", "A", "ann@district.org"), ("S2", "Dee", "D", "dee@district.org")]))
        XCTAssertEqual(w.sync(c).summary.outcome, .applied)
        w.write(w.root + "/users.csv", "username,email\nann,Ann@District.org\nbob,bob@staff.district.org\n")
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/users.csv"]).code, 0)
        XCTAssertEqual(w.ctl(["user", "add", "--username", "cy", "--email", "CY@district.org"]).code, 0)
        let store = try w.store()
        let provisioned = try store.accounts.provision(ProvisionedUser.Fields(username: "eve", email: "Eve@District.org", name: "Eve", approved: true),
                                                       passwordHash: nil, client: "idp", actor: "scim:idp", now: Date(),
                                                       normalizer: EmailNormalizer(aliases: c.emailDomainAliases))
        let db = try w.rawDatabase()
        // An application's documented INSERT: no key until the next run keys (and links) it.
        try db.execute(w.isPostgres
            ? "INSERT INTO users (username, email, name, approved, created_at) VALUES ('dee', 'Dee@District.org', 'Dee', true, now())"
            : "INSERT INTO users (username, email, name, approved, created_at) VALUES ('dee', 'Dee@District.org', 'Dee', 1, '2026-12-01T08:15:00Z')")
        XCTAssertEqual(try db.int("SELECT count(*) FROM users WHERE username = 'dee' AND email_key IS NULL"), 1)
        XCTAssertEqual(w.sync(c).summary.linksMade, 2, "ann and dee link to their staff records")

        func keys() throws -> [String] {
            var out: [String] = []
            try db.forEachRow("SELECT username, email_key, scim_id FROM users ORDER BY username") { r in
                out.append("\(r.text(0)) \(r.string(1) ?? "NULL")")
                XCTAssertEqual(r.text(2).utf8.count, 32, r.text(0))
                XCTAssertTrue(r.text(2).utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }, r.text(2))
            }
            return out
        }
        XCTAssertEqual(try keys(), ["ann ann@district.org", "bob bob@district.org", "cy cy@district.org", "dee dee@district.org", "eve eve@district.org"],
                       "R6's keys: lower case, the alias applied")
        // Each user is found by its SCIM id, as a provider holds it.
        var ids: [String: String] = [:]
        try db.forEachRow("SELECT username, scim_id FROM users") { ids[$0.text(0)] = $0.text(1) }
        XCTAssertEqual(Set(ids.values).count, 5, "an id each")
        XCTAssertEqual(ids["eve"], provisioned.id)
        for (username, id) in ids {
            XCTAssertEqual(try store.accounts.provisionedUser(id: id)?.fields.username, username)
            XCTAssertEqual(try store.accounts.username(scimID: id), username)
        }
        // A provider's filter `id eq "…"` too, alone or within `and`/`or`/`not`, and on SQLite
        // through `users_by_scim_id`, not by reading every user's generated id.
        for (username, id) in ids {
            let found = try store.accounts.provisionedUsers(matching: .compare(.id, .eq, id), offset: 0, limit: 10).users.map(\.fields.username)
            XCTAssertEqual(found, [username])
            let either = try store.accounts.provisionedUsers(matching: .or(.compare(.id, .eq, id), .compare(.username, .eq, "cy")), offset: 0, limit: 10)
            XCTAssertEqual(Set(either.users.map(\.fields.username)), Set([username, "cy"]))
            let others = try store.accounts.provisionedUsers(matching: .not(.compare(.id, .eq, id)), offset: 0, limit: 10).users.map(\.fields.username)
            XCTAssertEqual(others.count, 4)
            XCTAssertFalse(others.contains(username))
        }
        XCTAssertEqual(try store.accounts.provisionedUsers(matching: .compare(.id, .eq, "0123456789abcdef0123456789abcdef"), offset: 0, limit: 10).total, 0)
        XCTAssertEqual(try store.accounts.provisionedUsers(matching: .compare(.id, .eq, "not-an-id"), offset: 0, limit: 10).total, 0)
        if !w.isPostgres {
            var plan: [String] = []
            let condition = AccountStore.condition(.compare(.id, .eq, ids["eve"]!), keys: UserKeyColumns(db))
            try db.forEachRow("EXPLAIN QUERY PLAN SELECT u.username FROM users u WHERE \(sql: condition)") { plan.append($0.text(3)) }
            XCTAssertTrue(plan.contains { $0.contains("users_by_scim_id") }, "\(plan)")
        }
        XCTAssertNil(try store.accounts.provisionedUser(id: "0123456789abcdef0123456789abcdef"))
        XCTAssertNil(try store.accounts.provisionedUser(id: "not-an-id"))

        // An email changed by a re-import keys again.
        w.write(w.root + "/users.csv", "username,email\nann,Ann.Other@Staff.District.org\n")
        XCTAssertEqual(w.ctl(["user", "import", w.root + "/users.csv"]).code, 0)
        XCTAssertEqual(try db.int("SELECT count(*) FROM users WHERE username = 'ann' AND email_key = 'ann.other@district.org'"), 1)
        if !w.isPostgres {
            // Stored small: 0 where the key is the email in (ASCII) lower case, else the key.
            var stored: [String] = []
            try db.forEachRow("SELECT username || ' ' || typeof(stored_email_key) FROM users ORDER BY username") { stored.append($0.text(0)) }
            XCTAssertEqual(stored, ["ann text", "bob text", "cy integer", "dee integer", "eve integer"])
        }
    }

    func testTheStoredFormsMatchSQLitesLowerAndPrintf() {
        XCTAssertTrue(UserKeyColumns.isASCIILowercase("ann@d.org", of: "Ann@D.ORG"))
        XCTAssertFalse(UserKeyColumns.isASCIILowercase("dée@d.org", of: "DÉE@d.org"), "SQLite's lower folds ASCII only")
        XCTAssertFalse(UserKeyColumns.isASCIILowercase("ann@d.org", of: "ann@d.org "))
        XCTAssertFalse(UserKeyColumns.isASCIILowercase("ann@d.or", of: "ann@d.org"))
        let bits = UserKeyColumns.bits(ofSCIMID: "fedcba9876543210000000000000000f")
        XCTAssertEqual(bits?.high, Int64(bitPattern: 0xfedc_ba98_7654_3210))
        XCTAssertEqual(bits?.low, 15)
        XCTAssertNil(UserKeyColumns.bits(ofSCIMID: "fedcba9876543210000000000000000"), "31 digits")
        XCTAssertNil(UserKeyColumns.bits(ofSCIMID: "fedcba987654321000000000000000g0"))
    }
}
