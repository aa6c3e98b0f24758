import Foundation
import XCTest
@testable import SISync

/// OneRoster REST (`format = oneroster-rest`) over real HTTP on 127.0.0.1: OAuth client
/// credentials, limit/offset paging with and without `Link` and `X-Total-Count`, and a
/// truncated roster that must fail the run instead of deactivating anyone.
final class OneRosterRESTTests: XCTestCase {
    enum Paging: Sendable { case link, totalCount, neither, lastPageMissing, lastPageEmpty }

    static let users: [String] = [
        #"{"sourcedId":"t1","status":"active","enabledUser":true,"role":"teacher","givenName":"Ann","familyName":"Lee","email":"ann.lee@district.org","orgs":[{"sourcedId":"sch1","type":"org"}]}"#,
        #"{"sourcedId":"t2","status":"active","enabledUser":"false","role":"administrator","givenName":"Bob","familyName":"Ray","email":"bob.ray@district.org","orgs":[{"sourcedId":"sch1"},{"sourcedId":"dist"}]}"#,
        #"{"sourcedId":"s1","status":"active","enabledUser":"true","role":"student","givenName":"Sam","familyName":"Lee","grades":["05"],"orgs":[{"sourcedId":"sch1"}],"agents":[{"sourcedId":"p1","type":"user"}]}"#,
        #"{"sourcedId":"p1","status":"active","enabledUser":"true","role":"parent","givenName":"Pat","familyName":"Lee","email":"pat@home.org","orgs":[{"sourcedId":"sch1"}]}"#,
        #"{"sourcedId":"a1","status":"active","enabledUser":true,"role":"aide","givenName":"Cy","familyName":"Ng","email":"cy.ng@district.org","orgs":[{"sourcedId":"sch1"}]}"#,
    ]
    static let collections: [String: [String]] = [
        "users": users,
        "orgs": [#"{"sourcedId":"dist","type":"district"}"#, #"{"sourcedId":"sch1","type":"school"}"#],
        "academicSessions": [#"{"sourcedId":"y27","status":"active","type":"term","schoolYear":2027,"startDate":"2026-08-20","endDate":"2027-01-15"}"#],
        "classes": [#"{"sourcedId":"c27","status":"active","terms":[{"sourcedId":"y27"}],"school":{"sourcedId":"sch1"}}"#],
        "enrollments": [#"{"sourcedId":"e1","status":"active","role":"student","user":{"sourcedId":"s1"},"class":{"sourcedId":"c27"},"school":{"sourcedId":"sch1"}}"#],
    ]

    /// A OneRoster 1.1 server; `users` may be replaced to change the roster between runs.
    static func server(_ paging: Paging, users: [String] = users, log: Counter = Counter()) throws -> TestHTTPServer {
        try TestHTTPServer { req in answer(req, paging, users: users, log: log) }
    }

    /// The server's answer to one request, for servers that answer some requests otherwise.
    static func answer(_ req: TestHTTPServer.Request, _ paging: Paging, users: [String] = users, log: Counter = Counter()) -> TestHTTPServer.Response {
            if req.path == "/token" {
                return .init(status: 200, headers: ["Content-Type": "application/json"],
                             body: Array(#"{"access_token":"rest-token","token_type":"Bearer","expires_in":3600}"#.utf8))
            }
            guard req.headers["authorization"] == "Bearer rest-token" else { return .init(status: 401, body: []) }
            let parts = req.path.split(separator: "?", maxSplits: 1)
            let name = String(parts[0].split(separator: "/").last ?? "")
            var query: [String: Int] = [:]
            for kv in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
                let p = kv.split(separator: "=")
                if p.count == 2 { query[String(p[0])] = Int(p[1]) }
            }
            _ = log.next(name)
            guard let all = name == "users" ? users : collections[name] else {
                return .init(status: 404, headers: ["Content-Type": "application/json"],
                             body: Array(#"{"imsx_codeMajor":"failure","imsx_severity":"error","imsx_description":"unknown collection"}"#.utf8))
            }
            let limit = query["limit"] ?? 100, offset = query["offset"] ?? 0
            if paging == .lastPageMissing && name == "users" && offset >= 4 {
                return .init(status: 500, headers: ["Content-Type": "application/json"],
                             body: Array(#"{"imsx_StatusInfo":{"imsx_codeMajor":"failure","imsx_severity":"error","imsx_description":"database timeout"}}"#.utf8))
            }
            var page = Array(all.dropFirst(offset).prefix(limit))
            if paging == .lastPageEmpty && name == "users" && offset >= 4 { page = [] }
            var headers = ["Content-Type": "application/json"]
            if paging == .totalCount || paging == .lastPageMissing || paging == .lastPageEmpty { headers["X-Total-Count"] = String(all.count) }
            if paging == .link && offset + limit < all.count {
                headers["Link"] = "<\(parts[0])?limit=\(limit)&offset=\(offset + limit)>; rel=\"next\", <\(parts[0])?limit=\(limit)&offset=0>; rel=\"first\""
            }
            return .init(status: 200, headers: headers, body: Array("{\"\(name)\": [\(page.joined(separator: ","))]}".utf8))
    }

    static func configure(_ w: Workspace, _ server: TestHTTPServer) -> Configuration {
        w.write(w.root + "/client-secret", "rest-secret")
        chmod(w.root + "/client-secret", 0o600)
        return w.configure(sync: "school_year = 2026-2027\nmax_deactivate_percent = 50", source: """
            page_size = 2
            retries = 0
            auth = oauth2
            token_url = \(server.baseURL)/token
            client_id = sisync
            client_secret_file = \(w.root)/client-secret
            """, entities: OneRosterTests.people, format: "oneroster-rest", url: server.baseURL + "/ims/oneroster/v1p1")
    }

    private let day = Timestamp.parse("2026-11-23T08:00:00Z")!

    func testPagingWithLinkWithTotalCountAndWithNeither() throws {
        for paging in [Paging.link, .totalCount, .neither] {
            let counter = Counter()
            let server = try Self.server(paging, log: counter)
            let w = Workspace()
            let run = w.sync(Self.configure(w, server), at: day)
            XCTAssertEqual(run.summary.outcome, .applied, "\(paging): \(run.summary.error ?? "")")
            XCTAssertEqual(try OneRosterTests.table(w, "SELECT staff_id, title, school_ids, enabled FROM staff ORDER BY 1"),
                           ["a1|Aide|sch1|", "t1|Teacher|sch1|", "t2|Administrator|sch1|false"], "\(paging)")
            XCTAssertEqual(try OneRosterTests.table(w, "SELECT student_id, enrollment_status, school_year FROM students"), ["s1|Enrolled|2026-2027"])
            XCTAssertEqual(try OneRosterTests.table(w, "SELECT household_id || '/' || record_id || '/' || relationship FROM household_relationships"), ["p1/s1/Parent"])
            // 5 users in pages of 2: three pages; without Link or a total, an empty fourth
            // is not needed because the third is short.
            XCTAssertEqual(counter.count("users"), 3, "\(paging)")
            XCTAssertTrue(server.requests.contains { $0.path.hasPrefix("/ims/oneroster/v1p1/users?limit=2&offset=4") }, "\(paging)")
        }
    }

    /// A roster cut short must never deactivate anyone: the run fails with nothing applied.
    func testTruncatedRosterFailsTheRunAndDeactivatesNobody() throws {
        for paging in [Paging.lastPageMissing, .lastPageEmpty] {
            let w = Workspace()
            let good = try Self.server(.totalCount)
            XCTAssertEqual(w.sync(Self.configure(w, good), at: day).summary.outcome, .applied)
            let before = try w.dump()
            let bad = try Self.server(paging)
            let run = w.sync(Self.configure(w, bad), at: day)
            XCTAssertEqual(run.summary.outcome, .failed, "\(paging)")
            XCTAssertEqual(run.summary.failure?.exitCode, 69, "an unavailable source, like any failed download")
            let error = run.summary.error ?? ""
            if paging == .lastPageMissing {
                XCTAssertTrue(error.contains("database timeout"), error)
            } else {
                XCTAssertTrue(error.contains("X-Total-Count said 5 records but 4 arrived"), error)
            }
            XCTAssertEqual(try w.dump().filter { !$0.hasPrefix("runs") && !$0.hasPrefix("source_state") }, before.filter { !$0.hasPrefix("runs") && !$0.hasPrefix("source_state") })
            XCTAssertEqual(try OneRosterTests.table(w, "SELECT count(*) FROM staff WHERE active = 1"), ["3"])
        }
    }

    /// R2 over real HTTP: a user given again on a later page fails the run once the users'
    /// pages are read, naming the page and place of the second and the place of the first,
    /// and nothing is applied.
    func testAUserGivenTwiceOnTwoPagesFailsTheRun() throws {
        let w = Workspace()
        let server = try Self.server(.totalCount, users: Self.users + [Self.users[2]])
        let run = w.sync(Self.configure(w, server), at: day)
        XCTAssertEqual(run.summary.outcome, .failed)
        XCTAssertEqual(run.summary.failure?.exitCode, 65, "bad data")
        let error = run.summary.error ?? ""
        XCTAssertTrue(error.contains("users?limit=2&offset=4: users[5].sourcedId: id `s1` appears twice (first at users[2].sourcedId)"), error)
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT count(*) FROM staff"), ["0"])
    }

    /// A user given twice, then a users page the server fails: the duplicate is the error
    /// (bad data, what a check page by page stopped at), not the server's failure after it.
    func testADuplicateBeforeAFailedPageIsTheError() throws {
        let w = Workspace()
        let users = Array(Self.users[0..<3]) + [Self.users[0]] + Array(Self.users[3...])
        let server = try Self.server(.lastPageMissing, users: users)
        let run = withExtendedLifetime(server) { w.sync(Self.configure(w, server), at: day) }
        XCTAssertEqual(run.summary.outcome, .failed)
        XCTAssertEqual(run.summary.failure?.exitCode, 65)
        XCTAssertTrue((run.summary.error ?? "").contains("users[3].sourcedId: id `t1` appears twice (first at users[0].sourcedId)"), run.summary.error ?? "")
    }

    /// R4 over REST: a user gone from a complete roster is deactivated; `tobedeleted` too.
    func testR4CompleteRosterDeactivatesTheMissing() throws {
        let w = Workspace()
        let first = try Self.server(.link)
        XCTAssertEqual(w.sync(Self.configure(w, first), at: day).summary.outcome, .applied)
        var users = Self.users.filter { !$0.contains("\"a1\"") }
        users[0] = users[0].replacingOccurrences(of: "\"status\":\"active\"", with: "\"status\":\"tobedeleted\"")
        let second = try Self.server(.link, users: users)
        let run = w.sync(Self.configure(w, second), at: day)
        XCTAssertEqual(run.summary.outcome, .applied, run.summary.error ?? "")
        XCTAssertEqual(try OneRosterTests.table(w, "SELECT staff_id FROM staff WHERE active = 0 ORDER BY 1"), ["a1", "t1"])
    }

    func testErrorBodiesAndPagesArePure() throws {
        var roster = OneRosterRoster(version: .v1_1, modes: [.users: .bulk])
        XCTAssertThrowsError(try OneRosterAPIPage.read(Data(#"{"imsx_codeMajor":"failure","imsx_description":"invalid filter"}"#.utf8),
                                                       collection: .users, url: "u", firstIndex: 0, into: &roster)) { e in
            XCTAssertTrue("\(e)".contains("invalid filter"), "\(e)")
        }
        XCTAssertThrowsError(try OneRosterAPIPage.read(Data(#"{"students": []}"#.utf8), collection: .users, url: "u", firstIndex: 0, into: &roster)) { e in
            XCTAssertTrue("\(e)".contains("no `users` array"), "\(e)")
        }
        let count = try OneRosterAPIPage.read(Data(#"{"Users": [{"sourcedId":"x","enabledUser":false,"role":"Teacher","givenName":"A","familyName":"B"}, {"status":"active"}]}"#.utf8),
                                              collection: .users, url: "u", firstIndex: 10, into: &roster)
        XCTAssertEqual(count, 2)
        XCTAssertEqual(roster.users.map(\.id), ["x"])
        XCTAssertEqual(roster.users.first?.enabled, false)
        XCTAssertEqual(roster.problems.map(\.location), ["users[11]"])
    }

    /// A server another host controls: every request is counted, and it would answer with a
    /// roster of its own (so records from it would show in the mirror if it were read).
    static func otherHost() throws -> TestHTTPServer {
        try server(.neither, users: [#"{"sourcedId":"x9","status":"active","enabledUser":true,"role":"teacher","givenName":"Eve","familyName":"Intruder","email":"eve@evil.example","orgs":[{"sourcedId":"sch1"}]}"#])
    }

    /// The good server's pages, except that `users` past the first page is answered by
    /// `hostile` (a Link or a redirect naming `other`).
    func runAgainst(_ hostile: @escaping @Sendable (TestHTTPServer.Request, Int) -> TestHTTPServer.Response?, other: TestHTTPServer,
                    source extra: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> (run: SyncRun.Result, unchanged: Bool) {
        let w = Workspace()
        let good = try Self.server(.link)
        XCTAssertEqual(w.sync(Self.configure(w, good), at: day).summary.outcome, .applied, file: file, line: line)
        let before = try w.dump().filter { !$0.hasPrefix("runs") && !$0.hasPrefix("source_state") }
        let port = other.port
        let server = try TestHTTPServer { req in hostile(req, Int(port)) ?? Self.answer(req, .link) }
        var c = Self.configure(w, server)
        c.maxBytes = extra.isEmpty ? c.maxBytes : parseByteSize(extra)!
        let run = w.sync(c, at: day)
        let after = try w.dump().filter { !$0.hasPrefix("runs") && !$0.hasPrefix("source_state") }
        return (run, after == before)
    }

    /// Issue 26 item 4 (R1): a `Link: rel="next"` naming another host is not followed; the
    /// run fails naming the link, the other host gets no request (so no token), and the
    /// mirror keeps what it had. Also for another port, another scheme, and a userinfo trick.
    func testANextLinkToAnotherOriginFailsTheRunAndIsNeverRequested() throws {
        let other = try Self.otherHost()
        let targets: [@Sendable (Int) -> String] = [
            { "http://127.0.0.1:\($0)/ims/oneroster/v1p1/users?limit=2&offset=2" },
            { "http://localhost:\($0)/ims/oneroster/v1p1/users?limit=2&offset=2" },
            { "https://127.0.0.1:\($0)/ims/oneroster/v1p1/users?limit=2&offset=2" },
            { _ in "http://127.0.0.1@127.0.0.2/ims/oneroster/v1p1/users?limit=2&offset=2" },
            // `,` and `;` inside the brackets: read whole by LinkHeader, and still checked.
            { "http://127.0.0.1:\($0)/ims/oneroster/v1p1/users;jsessionid=ab?fields=sourcedId,givenName&limit=2&offset=2" },
        ]
        for target in targets {
            let (run, unchanged) = try runAgainst({ req, port in
                guard req.path.contains("/users?") && req.path.hasSuffix("offset=0") else { return nil }
                var r = Self.answer(req, .link)
                r.headers["Link"] = "<\(target(port))>; rel=\"next\""
                return r
            }, other: other)
            let link = target(Int(other.port))
            XCTAssertEqual(run.summary.outcome, .failed, link)
            XCTAssertEqual(run.summary.failure?.exitCode, 69, link)
            let error = run.summary.error ?? ""
            XCTAssertTrue(error.contains("next link") && error.contains(DisplayedURL(link).description) && error.contains("leaves http://127.0.0.1:"), error)
            XCTAssertTrue(unchanged, "no record of the other host, nothing deactivated: \(link)")
        }
        XCTAssertEqual(other.requests.count, 0, "the other host never saw a request: \(other.requests.map(\.path))")
    }

    /// A server without X-Total-Count whose `users` pages (read with or without a
    /// `;jsessionid=ab` path parameter) carry the `Link` lines `links` makes from the page's
    /// absolute URL without its query, limit and offset, when another page follows. The run
    /// comes after one against the good server, so a roster cut short would deactivate (R4).
    func runWithUsersLinks(_ links: @escaping @Sendable (_ base: String, _ limit: Int, _ offset: Int) -> [String],
                           file: StaticString = #filePath, line: UInt = #line) throws -> (run: SyncRun.Result, unchanged: Bool, users: [String]) {
        let w = Workspace()
        let good = try Self.server(.link)
        XCTAssertEqual(w.sync(Self.configure(w, good), at: day).summary.outcome, .applied, file: file, line: line)
        let before = try w.dump().filter { !$0.hasPrefix("runs") && !$0.hasPrefix("source_state") }
        let server = try TestHTTPServer { req in
            let path = req.path.replacingOccurrences(of: ";jsessionid=ab", with: "")
            var r = Self.answer(.init(method: req.method, path: path, headers: req.headers), .neither)
            guard path.contains("/users?"), let c = URLComponents(string: path) else { return r }
            let query = Dictionary((c.queryItems ?? []).map { ($0.name, Int($0.value ?? "") ?? 0) }, uniquingKeysWith: { a, _ in a })
            let limit = query["limit"] ?? 100, offset = query["offset"] ?? 0
            if offset + limit < Self.users.count {
                r.repeatedHeaders = links("http://\(req.headers["host"] ?? "?")\(c.path)", limit, offset).map { ("Link", $0) }
            }
            return r
        }
        let run = w.sync(Self.configure(w, server), at: day)
        let after = try w.dump().filter { !$0.hasPrefix("runs") && !$0.hasPrefix("source_state") }
        return (run, after == before, server.requests.map(\.path).filter { $0.contains("/users") })
    }

    /// Paging review: a next link whose target holds `;` (a `;jsessionid=` path parameter)
    /// or `,` (`?fields=a,b`) is followed, also when it comes on a `Link:` line of its own
    /// after another; without X-Total-Count every page is read, and R4 deactivates nobody.
    func testANextLinkWithSemicolonsOrCommasReadsEveryPage() throws {
        let cases: [(String, @Sendable (String, Int, Int) -> [String])] = [
            ("jsessionid", { base, limit, offset in ["<\(base);jsessionid=ab?limit=\(limit)&offset=\(offset + limit)>; rel=\"next\""] }),
            ("fields", { base, limit, offset in ["<\(base);jsessionid=ab?fields=sourcedId,givenName&limit=\(limit)&offset=\(offset + limit)>; REL=next, <\(base)?limit=\(limit)&offset=0>; rel=\"first\""] }),
            ("two lines", { base, limit, offset in ["<\(base);jsessionid=ab?limit=\(limit)&offset=\(offset + limit)>; rel=\"next last\"", "<\(base)?limit=\(limit)&offset=0>; rel=\"first\""] }),
        ]
        for (name, links) in cases {
            let (run, unchanged, users) = try runWithUsersLinks(links)
            XCTAssertEqual(run.summary.outcome, .unchanged, "\(name): \(run.summary.error ?? "")")
            XCTAssertTrue(unchanged, "\(name): nobody deactivated")
            XCTAssertEqual(users.count, 3, "\(name): \(users)")
            XCTAssertTrue(users.last?.hasPrefix("/ims/oneroster/v1p1/users;jsessionid=ab?") == true && users.last?.hasSuffix("limit=2&offset=4") == true, "\(name): \(users)")
        }
    }

    /// Paging review: a Link header that cannot be read, with no X-Total-Count, fails the
    /// run; stopping there could cut the roster short and deactivate the people not read.
    func testAnUnreadableLinkHeaderWithoutATotalFailsTheRun() throws {
        let (run, unchanged, users) = try runWithUsersLinks { base, limit, offset in ["\(base)?limit=\(limit)&offset=\(offset + limit); rel=next"] }
        XCTAssertEqual(run.summary.outcome, .failed)
        XCTAssertEqual(run.summary.failure?.exitCode, 69)
        XCTAssertTrue(run.summary.error?.contains("Link header cannot be read") == true, run.summary.error ?? "")
        XCTAssertTrue(unchanged)
        XCTAssertEqual(users.count, 1, "\(users)")
    }

    /// Issue 26 item 4: a redirect is a URL the server names too. One on the same origin is
    /// followed; one to another host fails the run before any request goes there.
    func testARedirectIsFollowedOnlyOnTheSameOrigin() throws {
        let other = try Self.otherHost()
        let (run, unchanged) = try runAgainst({ req, port in
            guard req.path.contains("/users?") && req.path.hasSuffix("offset=2") else { return nil }
            return .init(status: 307, headers: ["Location": "http://127.0.0.1:\(port)\(req.path)"], body: [])
        }, other: other)
        XCTAssertEqual(run.summary.outcome, .failed)
        XCTAssertTrue(run.summary.error?.contains("redirect (HTTP 307)") == true, run.summary.error ?? "")
        XCTAssertTrue(unchanged)
        XCTAssertEqual(other.requests.count, 0, "\(other.requests.map(\.path))")

        let (same, _) = try runAgainst({ req, _ in
            guard req.path.hasPrefix("/ims/oneroster/v1p1/users?") else { return nil }
            return .init(status: 301, headers: ["Location": "/moved" + req.path], body: [])
        }, other: other)
        XCTAssertEqual(same.summary.outcome, .unchanged, same.summary.error ?? "")
    }

    /// Issue 26 item 15: max_bytes bounds the API's pages together, not only each page.
    func testThePagesTogetherAreBoundedByMaxBytes() throws {
        let other = try Self.otherHost()
        let (run, unchanged) = try runAgainst({ _, _ in nil }, other: other, source: "1K")
        XCTAssertEqual(run.summary.outcome, .failed)
        XCTAssertEqual(run.summary.failure?.exitCode, 69)
        XCTAssertTrue(run.summary.error?.contains("pages of the OneRoster API together are larger than max_bytes (1024 bytes)") == true, run.summary.error ?? "")
        XCTAssertTrue(unchanged)
    }

    /// Issue 26 items 3 and 4: an OAuth2 token is kept for the client secret it was issued
    /// for. Tenants share one process (and its token cache); a tenant with the same
    /// token_url and client_id but another secret, or none at all, must not be handed the
    /// other tenant's token and send it to its own server.
    func testACachedTokenGoesOnlyWithTheSecretItWasIssuedFor() throws {
        let good = try Self.server(.link)
        let a = Workspace()
        XCTAssertEqual(a.sync(Self.configure(a, good), at: day).summary.outcome, .applied)
        let tokenRequests = good.requests.filter { $0.path == "/token" }.count
        let other = try Self.otherHost()
        func tenant(secret: String?) -> SyncRun.Result {
            let b = Workspace()
            var c = Self.configure(b, other)
            c.tokenURL = good.baseURL + "/token"
            if let secret { b.write(b.root + "/client-secret", secret) } else { unlink(b.root + "/client-secret") }
            return b.sync(c, at: day)
        }
        _ = tenant(secret: "another-secret")
        XCTAssertEqual(good.requests.filter { $0.path == "/token" }.count, tokenRequests + 1, "another secret asks for its own token")
        let reached = other.requests.count
        let run = tenant(secret: nil)
        XCTAssertEqual(run.summary.outcome, .failed, "a tenant without its client secret file gets no token")
        XCTAssertEqual(run.summary.failure?.exitCode, 78)
        XCTAssertTrue(run.summary.error?.contains("client_secret_file") == true, run.summary.error ?? "")
        XCTAssertEqual(other.requests.count, reached, "no request, so no token, went to the other tenant's server")
    }

    /// Issue 26 item 9: the token request follows no redirect; a 307 would POST the client
    /// secret again to the host it names.
    func testTheTokenRequestFollowsNoRedirect() throws {
        let other = try Self.otherHost()
        let w = Workspace()
        let port = other.port
        let server = try TestHTTPServer { req in
            req.path == "/token" ? .init(status: 307, headers: ["Location": "http://127.0.0.1:\(port)/token"], body: []) : Self.answer(req, .link)
        }
        let run = w.sync(Self.configure(w, server), at: day)
        XCTAssertEqual(run.summary.outcome, .failed)
        let error = run.summary.error ?? ""
        XCTAssertTrue(error.contains("/token: the OAuth token endpoint answered HTTP 307, a redirect to http://127.0.0.1:\(port)/token"), error)
        XCTAssertEqual(other.requests.count, 0, "the client secret went nowhere else")
        XCTAssertEqual(server.requests.map(\.path), ["/token"])
    }
}
