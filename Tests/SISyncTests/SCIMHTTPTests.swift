import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI
#if canImport(Glibc)
import Glibc
#endif

/// SCIM 2.0 over real HTTP (issue 32): the `sisync-api` executable on 127.0.0.1 over a real
/// store (both stores: POSTGRES_TESTS), asked as Microsoft Entra ID and Okta ask it, with
/// the request sequences and body shapes their documentation shows; filters and paging;
/// each error type; tenants; and a provisioned user linked by the next run.
final class SCIMHTTPTests: XCTestCase {
    private let servers = APIServerProcesses()

    override func tearDown() { servers.stopAll() }

    /// The school of the API's tests (staff S1 ann) with staff S2 (bea) and S3 (cy), a
    /// client `entra` with only the scope `scim`, `[events]` on and `on_staff_deactivated =
    /// unapprove`; the configuration file `sisync-api` reads.
    private func school() throws -> (s: APISchool, token: String, config: String) {
        let s = try APISchool.make()
        s.w.write("staff.csv", staffCSV([("S1", "Ann", "Lee", "ann@district.org"), ("S2", "Bea", "Moe", "bea@district.org"),
                                         ("S3", "Cy", "Park", "cy@district.org")]))
        let text = try String(contentsOfFile: s.w.configPath, encoding: .utf8)
            .replacingOccurrences(of: "[sync]\n", with: "[sync]\non_staff_deactivated = unapprove\n") + "\n[events]\nenabled = true\n[api]\naccess_log = all\n"
        let path = s.w.root + "/api.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let token = try s.w.store().apiClients.add(name: "entra", scopes: [.scim], actor: "admin", now: Date()).token
        return (s, token, path)
    }

    private func start(_ arguments: [String]) throws -> Int { try servers.start(arguments).port }

    /// A user's SCIM id: sisync's (`users.scim_id`), never its username.
    private func id(_ s: APISchool, _ username: String) throws -> String {
        try XCTUnwrap(try s.w.store().accounts.provisionedUser(username), username).id
    }

    typealias Answer = HTTPAnswer

    private func call(_ port: Int, _ method: String, _ target: String, token: String?, json: String? = nil, type: String = "application/scim+json") throws -> Answer {
        try APIServerProcesses.call(port, method, target, token: token, json: json, type: type, host: "127.0.0.1:\(port)")
    }

    /// A filter as a query string value.
    private func q(_ filter: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return filter.addingPercentEncoding(withAllowedCharacters: allowed)!
    }

    private func changes(_ s: APISchool, actor: String) throws -> [String] {
        var out: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT record_id, coalesce(field, ''), kind FROM changes WHERE actor = \(actor) ORDER BY change_id") {
            out.append("\($0.text(0)) \($0.text(1)) \($0.text(2))")
        }
        return out
    }

    /// Entra's create body as Microsoft documents it ("Tutorial: develop a sample SCIM
    /// endpoint", "Create User"): the enterprise extension, `roles: []`, `meta` — none of
    /// which sisync keeps, all accepted and ignored.
    static func entraCreate(_ userName: String, externalId: String, email: String) -> String {
        """
        {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
         "externalId":"\(externalId)","userName":"\(userName)","active":true,
         "emails":[{"primary":true,"type":"work","value":"\(email)"}],
         "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"Moe","givenName":"Bea"},
         "roles":[],"displayName":"Bea Moe","title":"Teacher",
         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Science","manager":{"value":"x"}}}
        """
    }

    // MARK: Entra ID

    /// Microsoft Entra ID's provisioning sequence: query by userName (none), create, get by
    /// filter on userName and on externalId, PATCH replace (display name, work email,
    /// `active` "False" as a string), disable, enable, delete; each change in the change
    /// log as `scim:entra` and in the event feed.
    func testEntraProvisioningSequence() throws {
        let (s, token, config) = try school()
        let port = try start(["--config", config])

        let none = try call(port, "GET", "/scim/v2/Users?filter=" + q(#"userName eq "bea@district.org""#), token: token)
        XCTAssertEqual(none.status, 200, none.body)
        XCTAssertEqual(none.header("Content-Type"), "application/scim+json")
        XCTAssertEqual(none.total, 0)
        XCTAssertEqual(none.json["schemas"] as? [String], ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])

        let created = try call(port, "POST", "/scim/v2/Users", token: token, json: Self.entraCreate("bea@district.org", externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", email: "bea@district.org"))
        XCTAssertEqual(created.status, 201, created.body)
        let beaID = try XCTUnwrap(created.json["id"] as? String)
        XCTAssertEqual(beaID, try id(s, "bea@district.org"), "the id is sisync's (RFC 7643 §3.1), not the userName")
        XCTAssertNotEqual(beaID, "bea@district.org")
        XCTAssertEqual(created.json["externalId"] as? String, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        XCTAssertEqual(created.json["displayName"] as? String, "Bea Moe")
        XCTAssertEqual((created.json["name"] as? [String: Any])?["givenName"] as? String, "Bea")
        XCTAssertEqual(created.active, true)
        let meta = created.json["meta"] as? [String: Any] ?? [:]
        XCTAssertEqual(meta["resourceType"] as? String, "User")
        XCTAssertEqual(meta["location"] as? String, "http://127.0.0.1:\(port)/scim/v2/Users/\(beaID)")
        XCTAssertEqual(created.header("Location"), meta["location"] as? String)
        XCTAssertNotNil(meta["created"] as? String)
        XCTAssertNil(created.json["roles"], "not kept, not returned")
        XCTAssertNil(created.json["title"])
        XCTAssertEqual(try s.w.store().accounts.user("bea@district.org")?.approved, true)

        for filter in [#"userName eq "bea@district.org""#, #"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#] {
            let found = try call(port, "GET", "/scim/v2/Users?filter=" + q(filter), token: token)
            XCTAssertEqual(found.status, 200, found.body)
            XCTAssertEqual(found.total, 1, filter)
            XCTAssertEqual(found.resources.first?["userName"] as? String, "bea@district.org", filter)
        }

        let patched = try call(port, "PATCH", "/scim/v2/Users/\(beaID)", token: token, json: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
             {"op":"Replace","path":"displayName","value":"Bea Moe-Park"},
             {"op":"Replace","path":"emails[type eq \\"work\\"].value","value":"bea.moe@district.org"},
             {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Math"},
             {"op":"Replace","path":"active","value":"False"}]}
            """)
        XCTAssertEqual(patched.status, 200, patched.body)
        XCTAssertEqual(patched.json["displayName"] as? String, "Bea Moe-Park")
        XCTAssertEqual(patched.email, "bea.moe@district.org")
        XCTAssertEqual(patched.active, false)
        let user = try s.w.store().accounts.user("bea@district.org")
        XCTAssertEqual([user?.email, user?.name], ["bea.moe@district.org", "Bea Moe-Park"])
        XCTAssertEqual(user?.approved, false)

        // A disabled user is still returned, by GET and by filters.
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users/\(beaID)", token: token).active, false)
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"userName eq "bea@district.org" and active eq false"#), token: token).total, 1)

        // Entra's enable: a replace without a path, with an object value.
        let enabled = try call(port, "PATCH", "/scim/v2/Users/\(beaID)", token: token, json: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}
            """)
        XCTAssertEqual(enabled.active, true, enabled.body)

        let deleted = try call(port, "DELETE", "/scim/v2/Users/\(beaID)", token: token)
        XCTAssertEqual(deleted.status, 204, deleted.body)
        let gone = try call(port, "GET", "/scim/v2/Users/\(beaID)", token: token)
        XCTAssertEqual(gone.status, 404)
        XCTAssertEqual(gone.json["schemas"] as? [String], ["urn:ietf:params:scim:api:messages:2.0:Error"])
        XCTAssertEqual(gone.json["status"] as? String, "404")
        XCTAssertNil(try s.w.store().accounts.user("bea@district.org"))

        XCTAssertEqual(try changes(s, actor: "scim:entra"), [
            "bea@district.org  added", "bea@district.org approved updated", "bea@district.org external_id updated",
            "bea@district.org email updated", "bea@district.org name updated", "bea@district.org approved updated",
            "bea@district.org approved updated", "bea@district.org  deactivated",
        ])
        var events: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT type FROM events WHERE actor = 'scim:entra' ORDER BY event_id") { events.append($0.text(0)) }
        XCTAssertEqual(events.filter { $0 != "feed.started" }.first, "user.added", "\(events)")
        XCTAssertTrue(events.contains("user.unapproved") && events.contains("user.removed"), "\(events)")
    }

    // MARK: Okta

    /// Okta's sequence ("SCIM 2.0 protocol reference"): find by userName with paging
    /// parameters, create with a password, read by id, update with PUT, deactivate with a
    /// pathless replace, reactivate. The password is hashed as `user passwd` hashes it and
    /// never returned.
    func testOktaProvisioningSequence() throws {
        let (s, token, config) = try school()
        let port = try start(["--config", config])
        let find = try call(port, "GET", "/scim/v2/Users?filter=" + q(#"userName eq "cy@district.org""#) + "&startIndex=1&count=100", token: token)
        XCTAssertEqual([find.status, find.total], [200, 0], find.body)

        let create = """
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"cy@district.org",
             "name":{"givenName":"Cy","familyName":"Park"},"emails":[{"primary":true,"value":"cy@district.org","type":"work"}],
             "displayName":"Cy Park","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],
             "password":"1mz050nq-long-enough","active":true}
            """
        let created = try call(port, "POST", "/scim/v2/Users", token: token, json: create, type: "application/json")
        XCTAssertEqual(created.status, 201, created.body)
        let cyID = try XCTUnwrap(created.json["id"] as? String)
        XCTAssertNil(created.json["password"], "write-only")
        XCTAssertFalse(created.body.contains("1mz050nq"))
        var hash: String?
        try s.w.rawDatabase().forEachRow("SELECT password_hash FROM users WHERE username = 'cy@district.org'") { hash = $0.string(0) }
        XCTAssertTrue(hash?.hasPrefix(PasswordHash.prefix) == true, "a yescrypt hash, as `user passwd` makes")
        XCTAssertEqual(try s.w.store().accounts.login("cy@district.org", password: "1mz050nq-long-enough", actor: "test", now: Date()), .accepted)

        let got = try call(port, "GET", "/scim/v2/Users/\(cyID)", token: token)
        XCTAssertEqual(got.status, 200, got.body)
        XCTAssertEqual(got.json["externalId"] as? String, "00ujl29u0le5T6Aj10h7")

        let put = try call(port, "PUT", "/scim/v2/Users/\(cyID)", token: token, json: create
            .replacingOccurrences(of: #""givenName":"Cy""#, with: #""givenName":"Cyrus""#)
            .replacingOccurrences(of: #""displayName":"Cy Park","#, with: "")
            .replacingOccurrences(of: #""password":"1mz050nq-long-enough","#, with: "")
            .replacingOccurrences(of: #""id""#, with: #""ignored""#))
        XCTAssertEqual(put.status, 200, put.body)
        XCTAssertEqual((put.json["name"] as? [String: Any])?["givenName"] as? String, "Cyrus")
        XCTAssertEqual(put.json["displayName"] as? String, "Cyrus Park", "the display name from the given and family names when none is sent")

        let off = try call(port, "PATCH", "/scim/v2/Users/\(cyID)", token: token, json: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}
            """)
        XCTAssertEqual(off.active, false, off.body)
        XCTAssertEqual(try s.w.store().accounts.user("cy@district.org")?.approved, false)
        let on = try call(port, "PATCH", "/scim/v2/Users/\(cyID)", token: token, json: """
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true,"password":"another-long-one"}}]}
            """)
        XCTAssertEqual(on.active, true, on.body)
        XCTAssertEqual(try s.w.store().accounts.login("cy@district.org", password: "another-long-one", actor: "test", now: Date()), .accepted)
    }

    // MARK: discovery

    func testDiscoveryIsAccurate() throws {
        let (s, token, config) = try school()
        defer { withExtendedLifetime(s) {} }
        let port = try start(["--config", config])
        let spc = try call(port, "GET", "/scim/v2/ServiceProviderConfig", token: token)
        XCTAssertEqual(spc.status, 200, spc.body)
        func supported(_ key: String) -> Bool? { (spc.json[key] as? [String: Any])?["supported"] as? Bool }
        XCTAssertEqual([supported("patch"), supported("filter"), supported("bulk"), supported("sort"), supported("etag"), supported("changePassword")],
                       [true, true, false, false, false, false])
        XCTAssertEqual((spc.json["filter"] as? [String: Any])?["maxResults"] as? Int, SCIMUserQuery.maxCount)
        let types = try call(port, "GET", "/scim/v2/ResourceTypes", token: token)
        XCTAssertEqual(types.resources.map { $0["id"] as? String }, ["User", "Group"])
        XCTAssertEqual(try call(port, "GET", "/scim/v2/ResourceTypes/User", token: token).json["endpoint"] as? String, "/Users")
        let schemas = try call(port, "GET", "/scim/v2/Schemas", token: token)
        XCTAssertEqual(schemas.resources.map { $0["id"] as? String }, [SCIMUser.schema, SCIMUser.extensionSchema, SCIMGroup.schema])
        let core = schemas.resources.first?["attributes"] as? [[String: Any]] ?? []
        XCTAssertEqual(core.map { $0["name"] as? String }, ["userName", "name", "displayName", "emails", "active", "externalId", "password"],
                       "only what sisync keeps")
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Schemas/" + SCIMUser.extensionSchema, token: token).status, 200)
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Schemas/urn:nope", token: token).status, 404)
    }

    // MARK: filters and paging

    func testFiltersPagingAndAttributes() throws {
        let (s, token, config) = try school()
        for (u, e) in [("t_1", "t1@district.org"), ("t%2", "t2@district.org"), ("tx3", "t3@other.org"), ("u4", "u4@district.org")] {
            XCTAssertEqual(s.w.ctl(["user", "add", "--username", u, "--email", e, "--approved"]).code, 0)
        }
        // u4 was created long ago; an administrator's change stamps its meta.lastModified.
        try s.w.rawDatabase().run("UPDATE users SET created_at = '2020-01-01T00:00:00Z' WHERE username = 'u4'")
        XCTAssertEqual(s.w.ctl(["user", "unapprove", "u4"]).code, 0)
        let port = try start(["--config", config])
        func names(_ filter: String, _ extra: String = "") throws -> [String] {
            let r = try call(port, "GET", "/scim/v2/Users?filter=" + q(filter) + extra, token: token)
            XCTAssertEqual(r.status, 200, "\(filter): \(r.body)")
            return r.resources.compactMap { $0["userName"] as? String }
        }
        XCTAssertEqual(Set(try names(#"userName sw "t""#)), ["t%2", "t_1", "tx3"])
        XCTAssertEqual(try names(#"userName sw "t_""#), ["t_1"], "`_` is matched as itself, not as any character")
        XCTAssertEqual(try names(#"userName co "%""#), ["t%2"], "`%` is matched as itself")
        XCTAssertEqual(try names(#"USERNAME EQ "T_1""#), ["t_1"], "names and operators in any case, usernames regardless of case")
        XCTAssertEqual(try names(#"emails.value ew "@other.org""#), ["tx3"])
        XCTAssertEqual(try names(#"emails[type eq "work"].value eq "t2@district.org""#), ["t%2"])
        XCTAssertEqual(try names(#"emails[type eq "work" and value eq "t3@other.org"]"#), ["tx3"])
        XCTAssertEqual(try names(#"emails[type eq "home"].value eq "t2@district.org""#), [])
        XCTAssertEqual(try names(#"(userName eq "t_1" or userName eq "u4") and active eq true"#), ["t_1"])
        XCTAssertEqual(try names(#"userName sw "u" and not (active eq true)"#), ["u4"])
        XCTAssertEqual(try names(#"externalId pr"#), [])
        XCTAssertEqual(try names(#"userName eq "x\" or \"1\" eq \"1""#), [], "a quote inside a value stays in the value")
        let stamp = try XCTUnwrap(try s.w.store().accounts.provisionedUser("u4")).modifiedAt
        XCTAssertEqual(try names("meta.lastModified ge " + "\"" + SCIMUser.shownTime(stamp) + "\"" + #" and userName sw "u""#), ["u4"])
        XCTAssertEqual(try names(#"meta.lastModified gt "2999-01-01T00:00:00.000Z""#), [])
        XCTAssertEqual(try names(#"meta.created lt "2021-01-01T00:00:00Z" and meta.lastModified gt "2021-01-01T00:00:00Z""#), ["u4"],
                       "any administrator's change (here sisyncctl user unapprove) is a modification")

        // Paging: 1-based startIndex, totalResults of the whole match, count cut to 1000.
        let all = try call(port, "GET", "/scim/v2/Users?startIndex=2&count=2", token: token)
        XCTAssertEqual([all.total, all.json["startIndex"] as? Int, all.json["itemsPerPage"] as? Int], [7, 2, 2], all.body)
        XCTAssertEqual(all.resources.compactMap { $0["userName"] as? String }, ["dad", "mom"], "ordered by username: ann, dad, mom, …")
        var seen: [String] = []
        for start in stride(from: 1, through: 7, by: 3) {
            seen += try call(port, "GET", "/scim/v2/Users?startIndex=\(start)&count=3", token: token).resources.compactMap { $0["userName"] as? String }
        }
        XCTAssertEqual(seen.count, 7)
        XCTAssertEqual(Set(seen).count, 7, "pages neither overlap nor skip")
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?count=0", token: token).resources.count, 0)
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?count=5000", token: token).json["itemsPerPage"] as? Int, 7)

        // attributes / excludedAttributes.
        let only = try call(port, "GET", "/scim/v2/Users?attributes=userName&filter=" + q(#"userName eq "u4""#), token: token)
        XCTAssertEqual(Set(only.resources.first?.keys.map { $0 } ?? []), ["schemas", "id", "userName"])
        let without = try call(port, "GET", "/scim/v2/Users/\(try id(s, "u4"))?excludedAttributes=emails," + SCIMUser.extensionSchema, token: token)
        XCTAssertNil(without.json["emails"])
        XCTAssertNil(without.json[SCIMUser.extensionSchema])
        XCTAssertNotNil(without.json["userName"])
        let sub = try call(port, "GET", "/scim/v2/Users/\(try id(s, "ann"))?attributes=name.givenName," + SCIMUser.extensionSchema + ":staffId", token: token)
        XCTAssertEqual(sub.json[SCIMUser.extensionSchema] as? [String: String], ["staffId": "S1"], sub.body)
    }

    // MARK: renames, active, emails, .search

    /// A new `userName` renames the user (RFC 7643 §3.1: the id is sisync's and stays): its
    /// link, role assignment, manual role, password and history move with it in one
    /// transaction; one change-log entry and a `user.renamed` event say so.
    func testANewUserNameRenamesTheUserAndItsIdStays() throws {
        let (s, token, config) = try school()
        XCTAssertEqual(s.w.ctl(["user", "role", "add", "ann", "Coach"]).code, 0)
        let annID = try id(s, "ann")
        let port = try start(["--config", config])
        let patchOp = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"#
        let renamed = try call(port, "PATCH", "/scim/v2/Users/\(annID)", token: token, json: patchOp + #"[{"op":"replace","path":"userName","value":"ann.lee"}]}"#)
        XCTAssertEqual(renamed.status, 200, renamed.body)
        XCTAssertEqual([renamed.json["id"] as? String, renamed.json["userName"] as? String], [annID, "ann.lee"])
        let store = try s.w.store()
        XCTAssertNil(try store.accounts.user("ann"))
        XCTAssertEqual(try store.accounts.user("ann.lee")?.link?.staffID, "S1", "the link moved")
        XCTAssertEqual(try store.roles.of("ann.lee").manual, ["Coach"])
        XCTAssertEqual(try store.accounts.login("ann.lee", password: APISchool.password, actor: "test", now: Date()), .accepted)
        var rows: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT username FROM role_assignments UNION ALL SELECT username FROM user_roles") { rows.append($0.text(0)) }
        XCTAssertFalse(rows.contains("ann"), "\(rows)")
        var history: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT coalesce(field, ''), kind FROM changes WHERE entity = 'users' AND record_id = 'ann.lee' ORDER BY change_id") {
            history.append("\($0.text(0)) \($0.text(1))")
        }
        XCTAssertEqual(history.first, " added", "the history follows the account: \(history)")
        XCTAssertEqual(history.last, "username updated")
        var event: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT subject, data FROM events WHERE type = 'user.renamed'") { event = [$0.text(0), $0.text(1)] }
        XCTAssertEqual(event, [#"{"username":"ann.lee"}"#, #"{"old_username":"ann"}"#])
        // PUT renames too; a name another user has is 409 uniqueness; a change of case only is a rename.
        let put = try call(port, "PUT", "/scim/v2/Users/\(annID)", token: token, json: #"{"userName":"Ann.Lee","emails":[{"value":"ann@district.org","type":"work"}]}"#)
        XCTAssertEqual([put.status, put.json["userName"] as? String] as [AnyHashable?], [200, "Ann.Lee"], put.body)
        XCTAssertEqual(try call(port, "PUT", "/scim/v2/Users/\(annID)", token: token, json: #"{"userName":"dad","emails":[{"value":"ann@district.org"}]}"#).scimType, "uniqueness")
    }

    /// RFC 7644 §3.5.2.2: a removed attribute is unassigned. A removed `active` is a user that
    /// is not active, shown without `active` until the provider (or an administrator) sets it.
    func testRemovingActiveLeavesTheUserNotActive() throws {
        let (s, token, config) = try school()
        let port = try start(["--config", config])
        let created = try call(port, "POST", "/scim/v2/Users", token: token, json: Self.entraCreate("bea", externalId: "e-1", email: "bea@district.org"))
        let beaID = try XCTUnwrap(created.json["id"] as? String)
        let patchOp = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"#
        let removed = try call(port, "PATCH", "/scim/v2/Users/\(beaID)", token: token, json: patchOp + #"[{"op":"remove","path":"active"}]}"#)
        XCTAssertEqual(removed.status, 200, removed.body)
        XCTAssertNil(removed.json["active"], removed.body)
        XCTAssertEqual(try s.w.store().accounts.user("bea")?.approved, false)
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?filter=" + q("active eq false"), token: token).resources.compactMap { $0["userName"] as? String }, ["bea"])
        let renamed = try call(port, "PATCH", "/scim/v2/Users/\(beaID)", token: token, json: patchOp + #"[{"op":"replace","path":"displayName","value":"B"}]}"#)
        XCTAssertNil(renamed.json["active"], "another change leaves it unassigned")
        XCTAssertEqual(try call(port, "PATCH", "/scim/v2/Users/\(beaID)", token: token, json: patchOp + #"[{"op":"add","path":"active","value":true}]}"#).active, true)
    }

    /// The email's `type` and `primary` are kept as the provider gave them, and filtered on.
    func testTheEmailsTypeAndPrimaryAreKept() throws {
        let (s, token, config) = try school()
        defer { withExtendedLifetime(s) {} }
        let port = try start(["--config", config])
        let created = try call(port, "POST", "/scim/v2/Users", token: token,
                               json: #"{"userName":"bea","emails":[{"value":"bea@district.org","type":"school","primary":false}]}"#)
        XCTAssertEqual(created.status, 201, created.body)
        func email(_ a: HTTPAnswer) -> [String] {
            ((a.json["emails"] as? [[String: Any]]) ?? []).flatMap { e in [e["value"] as? String, e["type"] as? String, (e["primary"] as? Bool).map { "primary \($0)" }].compactMap { $0 } }
        }
        XCTAssertEqual(email(created), ["bea@district.org", "school", "primary false"])
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"emails[type eq "school"]"#), token: token).resources.compactMap { $0["userName"] as? String }, ["bea"])
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"emails[type eq "work"] and userName eq "bea""#), token: token).total, 0)
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"emails[primary eq false]"#), token: token).total, 1)
        let ann = try call(port, "GET", "/scim/v2/Users/\(try id(s, "ann"))", token: token)
        XCTAssertEqual(email(ann), ["ann@district.org", "work", "primary true"],
                       "a user of sisyncctl: its email is the work one")
    }

    /// `POST /Users/.search`, `/Groups/.search` and `/.search` (RFC 7644 §3.4.3): the list's
    /// parameters in a SearchRequest body, read by the same code as a GET's.
    func testSearchWithPOST() throws {
        let (s, token, config) = try school()
        defer { withExtendedLifetime(s) {} }
        let port = try start(["--config", config])
        let request = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"#
        let users = try call(port, "POST", "/scim/v2/Users/.search", token: token,
                             json: request + #""filter":"userName sw \"m\" or userName eq \"dad\"","attributes":["userName"],"startIndex":1,"count":1}"#)
        XCTAssertEqual(users.status, 200, users.body)
        XCTAssertEqual([users.total, users.json["itemsPerPage"] as? Int], [2, 1])
        XCTAssertEqual(Set(users.resources.first?.keys.map { $0 } ?? []), ["schemas", "id", "userName"])
        let groups = try call(port, "POST", "/scim/v2/Groups/.search", token: token, json: request + #""filter":"displayName eq \"Staff\"","excludedAttributes":["members"]}"#)
        XCTAssertEqual(groups.resources.compactMap { $0["id"] as? String }, ["calculated-Staff"], groups.body)
        let all = try call(port, "POST", "/scim/v2/.search", token: token, json: request + #""count":1000}"#)
        XCTAssertEqual(all.status, 200, all.body)
        XCTAssertTrue(all.resources.contains { $0["userName"] as? String == "ann" } && all.resources.contains { $0["id"] as? String == "calculated-Staff" }, all.body)
        XCTAssertEqual(all.total, all.resources.count)
        XCTAssertEqual(try call(port, "POST", "/scim/v2/.search", token: token, json: request + #""filter":"displayName eq \"Staff\""}"#).resources.count, 1,
                       "a filter on a Group attribute matches no User")
        XCTAssertEqual(try call(port, "POST", "/scim/v2/.search", token: token, json: request + #""filter":"title eq \"x\""}"#).scimType, "invalidFilter")
        XCTAssertEqual(try call(port, "POST", "/scim/v2/Users/.search", token: token, json: request + #""sortBy":"userName"}"#).scimType, "invalidValue")
        XCTAssertEqual(try call(port, "POST", "/scim/v2/Users/.search", token: token, json: request + #""count":"ten"}"#).scimType, "invalidValue")
    }

    // MARK: errors

    /// Each error type of RFC 7644 §3.12 where sisync answers it, as a SCIM error document.
    func testEachErrorTypeIsASCIMErrorDocument() throws {
        let (s, token, config) = try school()
        let reader = try s.w.store().apiClients.add(name: "reader", scopes: [.read], actor: "admin", now: Date()).token
        let port = try start(["--config", config])
        let ann = "/scim/v2/Users/" + (try id(s, "ann"))
        func check(_ r: Answer, _ status: Int, _ type: String?, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.body, file: file, line: line)
            XCTAssertEqual(r.scimType, type, r.body, file: file, line: line)
            XCTAssertEqual(r.json["schemas"] as? [String], [SCIMError.schema], r.body, file: file, line: line)
            XCTAssertEqual(r.json["status"] as? String, String(status), file: file, line: line)
            XCTAssertEqual(r.header("Content-Type"), "application/scim+json", file: file, line: line)
        }
        let patchOp = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"#
        check(try call(port, "GET", "/scim/v2/Users", token: nil), 401, nil)
        check(try call(port, "GET", "/scim/v2/Users", token: reader), 403, nil)
        check(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"userName eq"#), token: token), 400, "invalidFilter")
        check(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"title eq "x""#), token: token), 400, "invalidFilter")
        check(try call(port, "GET", "/scim/v2/Users?filter=" + q(#"userName eq "x" and (active eq true"#), token: token), 400, "invalidFilter")
        let fiftyOne = (0...50).map { #"userName eq "u\#($0)""# }.joined(separator: " or ")
        check(try call(port, "GET", "/scim/v2/Users?filter=" + q(fiftyOne), token: token), 400, "invalidFilter")
        let fifty = (0..<50).map { #"userName eq "u\#($0)""# }.joined(separator: " or ")
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users?filter=" + q(fifty), token: token).status, 200)

        check(try call(port, "POST", "/scim/v2/Users", token: token, json: #"{"userName":"noemail","active":true}"#), 400, "invalidValue")
        check(try call(port, "POST", "/scim/v2/Users", token: token, json: #"{"userName":"ANN","emails":[{"value":"new@district.org","type":"work"}]}"#), 409, "uniqueness")
        check(try call(port, "POST", "/scim/v2/Users", token: token, json: #"{"userName":"ann2","emails":[{"value":"ANN@district.org","type":"work"}]}"#), 409, "uniqueness")
        check(try call(port, "POST", "/scim/v2/Users", token: token, json: #"{"userName": "#), 400, "invalidSyntax")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"replace","path":"meta.lastModified","value":"x"}]}"#), 400, "mutability")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"replace","path":"id","value":"x"}]}"#), 400, "mutability")
        check(try call(port, "PATCH", ann, token: token,
                       json: patchOp + #"[{"op":"replace","path":"\#(SCIMUser.extensionSchema):staffId","value":"S2"}]}"#), 400, "mutability")
        check(try call(port, "PUT", ann, token: token, json: #"{"userName":"MOM","emails":[{"value":"ann@district.org"}]}"#), 409, "uniqueness")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"replace","path":"emails[type eq","value":"x"}]}"#), 400, "invalidPath")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"remove","path":"emails[type eq \"home\"]"}]}"#), 400, "noTarget")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"remove"}]}"#), 400, "noTarget")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"remove","path":"emails"}]}"#), 400, "invalidValue")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"replace","path":"active","value":"maybe"}]}"#), 400, "invalidValue")
        check(try call(port, "PATCH", ann, token: token, json: patchOp + #"[{"op":"replace","path":"password","value":"short"}]}"#), 400, "invalidValue")
        check(try call(port, "GET", "/scim/v2/Users/nobody", token: token), 404, nil)
        check(try call(port, "GET", "/scim/v2/Users/ann", token: token), 404, nil)
        check(try call(port, "DELETE", "/scim/v2/Users/nobody", token: token), 404, nil)
        XCTAssertEqual(try call(port, "POST", "/scim/v2/Users", token: token, json: #"{"userName":"x","emails":[{"value":"x@d.org"}]}"#, type: "text/plain").status, 415)
        // The transport's own refusals, before a route is reached: SCIM's documents on SCIM's
        // paths (with tenants too), RFC 9457 problems elsewhere.
        func raw(_ head: String) throws -> Answer {
            let r = try RawHTTPConnection.exchange(port: port, head + "Host: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n", timeout: 20)
            return Answer(status: r.status, head: r.head, body: r.body)
        }
        check(try raw("POST /scim/v2/Users HTTP/1.1\r\nContent-Type: application/scim+json\r\nContent-Length: 65537\r\n"), 413, nil)
        check(try raw("POST /t/north/scim/v2/Users HTTP/1.1\r\nContent-Length: 65537\r\n"), 413, nil)
        check(try raw("GET /scim/v2/Users?filter=" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n"), 414, nil)
        check(try raw("POST /scim/v2/Users HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400, nil)
        let plain = try raw("POST /v1/login HTTP/1.1\r\nContent-Length: 65537\r\n")
        XCTAssertEqual(plain.status, 413, plain.head)
        XCTAssertEqual(plain.header("Content-Type"), "application/problem+json", plain.head)
        XCTAssertEqual(try s.w.store().accounts.user("ann")?.email, "ann@district.org", "no refused request changed anything")
        XCTAssertEqual(try changes(s, actor: "scim:entra"), [])
    }

    // MARK: tenants

    func testTenantsAreIsolated() throws {
        let (north, northToken, northConfig) = try school()
        let (south, southToken, southConfig) = try school()
        let dir = north.w.root + "/tenants"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: northConfig, toPath: dir + "/north.conf")
        try FileManager.default.copyItem(atPath: southConfig, toPath: dir + "/south.conf")
        let port = try start(["--config", dir + "/north.conf", "--tenants", dir])
        let body = Self.entraCreate("bea", externalId: "e-1", email: "bea@district.org")
        XCTAssertEqual(try call(port, "POST", "/t/south/scim/v2/Users", token: southToken, json: body).status, 201)
        XCTAssertEqual(try call(port, "POST", "/t/south/scim/v2/Users", token: northToken, json: body.replacingOccurrences(of: "\"bea\"", with: "\"bee\"")).status, 401)
        XCTAssertEqual(try call(port, "GET", "/t/north/scim/v2/Users?filter=" + q(#"userName eq "bea""#), token: northToken).total, 0)
        let beaID = try id(south, "bea")
        let south1 = try call(port, "GET", "/t/south/scim/v2/Users/\(beaID)", token: southToken)
        XCTAssertEqual((south1.json["meta"] as? [String: Any])?["location"] as? String, "http://127.0.0.1:\(port)/t/south/scim/v2/Users/\(beaID)")
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users/\(beaID)", token: southToken).status, 404)
        XCTAssertNil(try north.w.store().accounts.user("bea"))
        XCTAssertNotNil(try south.w.store().accounts.user("bea"))
    }

    // MARK: the next run

    /// A user an identity provider created is linked by the next run (not at once) and gets
    /// Staff; when its staff record is deactivated, the provider's `active` wins over
    /// `on_staff_deactivated = unapprove` (a `user add` user beside it is unapproved), Staff
    /// is still taken away, and `sisyncctl audit` lists the provider-enabled user.
    func testProvisionedUserIsLinkedByTheNextRunAndTheProvidersActiveWins() throws {
        let (s, token, config) = try school()
        XCTAssertEqual(s.w.ctl(["user", "add", "--username", "cy", "--email", "cy@district.org", "--approved"]).code, 0)
        let port = try start(["--config", config])
        let created = try call(port, "POST", "/scim/v2/Users", token: token, json: Self.entraCreate("bea", externalId: "e-1", email: "Bea@District.org"))
        XCTAssertEqual(created.status, 201, created.body)
        XCTAssertNil((created.json[SCIMUser.extensionSchema] as? [String: Any])?["staffId"] as? String, "linked by the next run, not at once")

        let c = try Configuration.load(path: config)
        XCTAssertEqual(s.w.sync(c).summary.outcome, .applied)
        let linked = try call(port, "GET", "/scim/v2/Users/\(try id(s, "bea"))", token: token)
        let ext = linked.json[SCIMUser.extensionSchema] as? [String: Any] ?? [:]
        XCTAssertEqual(ext["staffId"] as? String, "S2", linked.body)
        XCTAssertEqual(ext["linkKind"] as? String, "auto")
        XCTAssertEqual((ext["calculatedRoles"] as? [[String: Any]])?.compactMap { $0["value"] as? String }, ["Staff"])

        s.w.write("staff.csv", staffCSV([("S1", "Ann", "Lee", "ann@district.org"), ("S2", "Bea", "Moe", "bea@district.org"),
                                         ("S3", "Cy", "Park", "cy@district.org")], status: ["S2": "inactive", "S3": "inactive"]))
        XCTAssertEqual(s.w.sync(c, allow: true).summary.outcome, .applied)
        let store = try s.w.store()
        XCTAssertEqual(try store.accounts.user("bea")?.approved, true, "the provider's active wins")
        XCTAssertEqual(try store.accounts.user("cy")?.approved, false, "on_staff_deactivated = unapprove for a user sisync keeps")
        XCTAssertEqual(try store.roles.of("bea").calculated.map(\.role), [], "R6/R7 still take Staff away")
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Users/\(try id(s, "bea"))", token: token).active, true)
        let audit = s.w.ctl(["--json", "audit"])
        XCTAssertEqual(audit.code, 0, audit.err)
        let report = try JSONSerialization.jsonObject(with: Data(audit.out.utf8)) as? [String: Any]
        let listed = report?["provider_enabled_inactive_staff"] as? [[String: Any]]
        XCTAssertEqual(listed?.map { $0["username"] as? String }, ["bea"])
        XCTAssertEqual(listed?.first?["provisioned_by"] as? String, "entra")
        XCTAssertTrue(s.w.ctl(["audit"]).out.contains("bea → staff S2, provisioned by SCIM client entra"))
    }

    // MARK: groups

    /// Groups are roles: calculated roles read-only (a write is 400 mutability), manual roles
    /// created, renamed (the id stays) and filled with Entra's and Okta's PATCH shapes; a
    /// large group's members are refused with tooMany, and excludedAttributes=members and a
    /// PATCH never read them.
    func testGroupsAreRoles() throws {
        let (s, token, config) = try school()
        let port = try start(["--config", config])
        let patchOp = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":"#
        let (ann, mom, dad) = (try id(s, "ann"), try id(s, "mom"), try id(s, "dad"))
        let list = try call(port, "GET", "/scim/v2/Groups?excludedAttributes=members", token: token)
        XCTAssertEqual(list.status, 200, list.body)
        XCTAssertTrue(list.resources.contains { $0["id"] as? String == "calculated-Staff" && $0["members"] == nil }, list.body)
        let staff = try call(port, "GET", "/scim/v2/Groups/calculated-Staff", token: token)
        XCTAssertEqual((staff.json["members"] as? [[String: Any]])?.compactMap { $0["value"] as? String }, [ann], staff.body)
        XCTAssertEqual((staff.json["members"] as? [[String: Any]])?.first?["$ref"] as? String, "http://127.0.0.1:\(port)/scim/v2/Users/\(ann)")
        XCTAssertNil((staff.json["members"] as? [[String: Any]])?.first?["display"], "display is returned on request")
        let shown = try call(port, "GET", "/scim/v2/Groups/calculated-Staff?attributes=members.display,members.value", token: token)
        XCTAssertEqual((shown.json["members"] as? [[String: String]]) ?? [], [["value": ann, "display": "ann"]], shown.body)
        let byName = try call(port, "GET", "/scim/v2/Groups?excludedAttributes=members&filter=" + q(#"displayName eq "staff""#), token: token)
        XCTAssertEqual(byName.resources.compactMap { $0["id"] as? String }, ["calculated-Staff"])
        for (method, body) in [("PATCH", patchOp + #"[{"op":"add","path":"members","value":[{"value":"\#(mom)"}]}]}"#),
                               ("PUT", #"{"displayName":"Staff","members":[]}"#), ("DELETE", nil)] as [(String, String?)] {
            let r = try call(port, method, "/scim/v2/Groups/calculated-Staff", token: token, json: body)
            XCTAssertEqual([r.status, r.scimType] as [AnyHashable?], [400, "mutability"], "\(method): \(r.body)")
        }
        XCTAssertEqual(try call(port, "POST", "/scim/v2/Groups", token: token, json: #"{"displayName":"student"}"#).scimType, "mutability")

        let created = try call(port, "POST", "/scim/v2/Groups", token: token,
                               json: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Coaches","externalId":"g-7","members":[{"value":"\#(ann)"}]}"#)
        XCTAssertEqual(created.status, 201, created.body)
        let coaches = try XCTUnwrap(created.json["id"] as? String)
        XCTAssertNotEqual(coaches, "manual-Coaches", "a group a provider makes has a new id: made again under the same name, it is another group")
        XCTAssertEqual(created.json["externalId"] as? String, "g-7")
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Groups?filter=" + q(#"externalId eq "g-7""#), token: token).resources.compactMap { $0["id"] as? String }, [coaches])
        XCTAssertEqual(try call(port, "POST", "/scim/v2/Groups", token: token, json: #"{"displayName":"COACHES"}"#).scimType, "uniqueness")
        let added = try call(port, "PATCH", "/scim/v2/Groups/\(coaches)", token: token, json: patchOp + #"[{"op":"Add","path":"members","value":[{"value":"\#(mom)"},{"value":"\#(dad)"}]}]}"#)
        XCTAssertEqual(added.status, 204, added.body)
        XCTAssertEqual(try call(port, "PATCH", "/scim/v2/Groups/\(coaches)", token: token, json: patchOp + #"[{"op":"remove","path":"members[value eq \"\#(ann)\"]"}]}"#).status, 204)
        XCTAssertEqual(try call(port, "PATCH", "/scim/v2/Groups/\(coaches)", token: token, json: patchOp + #"[{"op":"Remove","path":"members","value":[{"value":"\#(dad)"}]}]}"#).status, 204)
        let renamed = try call(port, "PATCH", "/scim/v2/Groups/\(coaches)?attributes=displayName,members", token: token,
                               json: patchOp + #"[{"op":"replace","value":{"id":"x","displayName":"Team Coaches","externalId":"g-8"}}]}"#)
        XCTAssertEqual(renamed.status, 200, renamed.body)
        XCTAssertEqual([renamed.json["id"] as? String, renamed.json["displayName"] as? String], [coaches, "Team Coaches"], "the id stays")
        XCTAssertEqual((renamed.json["members"] as? [[String: Any]])?.compactMap { $0["value"] as? String }, [mom])
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Groups/\(coaches)", token: token).json["externalId"] as? String, "g-8")
        XCTAssertEqual(try s.w.store().roles.of("mom").manual, ["Team Coaches"])
        XCTAssertEqual(try s.w.store().roles.of("ann").manual, [])
        // A member is a user (roles are held by users): RFC 7644 §3.12's invalidValue.
        XCTAssertEqual(try call(port, "PATCH", "/scim/v2/Groups/\(coaches)", token: token, json: patchOp + #"[{"op":"add","path":"members","value":[{"value":"nobody"}]}]}"#).scimType, "invalidValue")
        XCTAssertEqual(try call(port, "PATCH", "/scim/v2/Groups/\(coaches)", token: token, json: patchOp + #"[{"op":"add","path":"members","value":[{"value":"mom"}]}]}"#).scimType,
                       "invalidValue", "a member is named by its id, not its username")
        XCTAssertEqual(try call(port, "DELETE", "/scim/v2/Groups/\(coaches)", token: token).status, 204)
        XCTAssertEqual(try s.w.store().roles.of("mom").manual, [])
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Groups/\(coaches)", token: token).status, 404)
        let logged = try changes(s, actor: "scim:entra")
        XCTAssertTrue(logged.contains("mom role role_granted"), "\(logged)")
        var groupEvents: [String] = []
        try s.w.rawDatabase().forEachRow("SELECT type FROM events WHERE actor = 'scim:entra' AND type LIKE 'manual_role.%' ORDER BY event_id") { groupEvents.append($0.text(0)) }
        XCTAssertEqual(groupEvents, ["manual_role.created", "manual_role.changed", "manual_role.renamed", "manual_role.removed"],
                       "a group's creation, externalId, rename and removal are in the event feed")

        // A manual role held by more users than a group lists.
        let db = try s.w.rawDatabase()
        try db.run("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(SCIMGroup.maxMembers + 1))
            INSERT INTO users (username, email, name, approved, created_at) SELECT 'big' || i, 'big' || i || '@district.org', '', TRUE, '2026-01-01T00:00:00Z' FROM n
            """)
        try db.run("INSERT INTO user_roles (username, role, source, school_year) SELECT username, 'Big', 'manual', '' FROM users WHERE username COLLATE BINARY LIKE 'big%'")
        let big = try call(port, "GET", "/scim/v2/Groups/manual-Big", token: token)
        XCTAssertEqual([big.status, big.scimType] as [AnyHashable?], [400, "tooMany"], big.body)
        XCTAssertEqual(try call(port, "GET", "/scim/v2/Groups/manual-Big?excludedAttributes=members", token: token).status, 200)
        XCTAssertEqual(try call(port, "PATCH", "/scim/v2/Groups/manual-Big", token: token, json: patchOp + #"[{"op":"add","path":"members","value":[{"value":"\#(dad)"}]}]}"#).status, 204)
        XCTAssertEqual(try s.w.store().roles.of("dad").manual, ["Big"])
    }
}

extension HTTPAnswer {
    var scimType: String? { json["scimType"] as? String }
    var resources: [[String: Any]] { json["Resources"] as? [[String: Any]] ?? [] }
    var total: Int? { json["totalResults"] as? Int }
    var active: Bool? { json["active"] as? Bool }
    var email: String? { ((json["emails"] as? [[String: Any]])?.first)?["value"] as? String }
}
