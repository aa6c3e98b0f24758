import Foundation
import XCTest
@testable import SISync
@testable import SISyncAPI

/// SCIM's pure parts (issue 32): the filter grammar (RFC 7644 §3.4.2.2) and its bounds, the
/// fixed map to the store's filter, PATCH paths and operations in the shapes Entra and Okta
/// send, and `attributes`/`excludedAttributes`.
final class SCIMValueTests: XCTestCase {
    private func path(_ s: String) -> SCIMAttributePath { SCIMAttributePath.parse(s)! }

    /// A SCIM id is the random source's 128 bits as 32 lowercase hex digits, most significant
    /// first (issue 34 writes them without Foundation's UUID; the trigger's and the
    /// PostgreSQL default's form is the same).
    func testANewSCIMIDIsItsRandomBitsAs32LowercaseHexDigits() {
        struct Fixed: RandomNumberGenerator {
            var words: [UInt64]
            mutating func next() -> UInt64 { words.removeFirst() }
        }
        var fixed = Fixed(words: [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210])
        XCTAssertEqual(AccountStore.newSCIMID(using: &fixed), "0123456789abcdeffedcba9876543210")
        var zero = Fixed(words: [0, 15])
        XCTAssertEqual(AccountStore.newSCIMID(using: &zero), "0000000000000000000000000000000f")
        let ids = (0..<1000).map { _ in AccountStore.newSCIMID() }
        XCTAssertEqual(Set(ids).count, 1000)
        XCTAssertTrue(ids.allSatisfy { $0.utf8.count == 32 && $0.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } })
    }

    /// A district's import draws its SCIM ids from the kernel 4 KiB at a time (issue 34: two
    /// getrandom(2) calls per id were 414,000 system calls): 256 ids are one read, the 257th
    /// the next; the bytes are the source's, each handed out once; a call cut short or
    /// interrupted (EINTR) is continued, and a source that fails leaves no word as it was.
    func testSCIMIDsDrawTheKernelsRandomBytesInBulk() {
        var calls: [Int] = []
        var counter: UInt64 = 0x1000
        var bulk = BufferedSystemRandom { buffer in
            calls.append(buffer.count)
            for i in stride(from: 0, to: buffer.count, by: 8) { buffer.storeBytes(of: counter, toByteOffset: i, as: UInt64.self); counter += 1 }
            return buffer.count
        }
        let ids = (0..<256).map { _ in AccountStore.newSCIMID(using: &bulk) }
        XCTAssertEqual(calls, [4096], "one read for 256 ids")
        XCTAssertEqual(ids[0], "00000000000010000000000000001001", "the source's words in order")
        XCTAssertEqual(ids[255], "00000000000011fe00000000000011ff")
        XCTAssertEqual(Set(ids).count, 256, "no bytes handed out twice")
        _ = AccountStore.newSCIMID(using: &bulk)
        XCTAssertEqual(calls, [4096, 4096])

        var attempts = 0
        var interrupted = BufferedSystemRandom(words: 2) { buffer in
            attempts += 1
            switch attempts {
            case 1: buffer[0] = 0xAA; return 1              // cut short
            case 2: errno = EINTR; return -1                 // a signal
            default: for i in 0..<buffer.count { buffer[i] = 0xBB }; return buffer.count
            }
        }
        XCTAssertEqual(interrupted.next(), 0xBBBB_BBBB_BBBB_BBAA)
        XCTAssertEqual(interrupted.next(), 0xBBBB_BBBB_BBBB_BBBB)
        XCTAssertEqual(attempts, 3)

        var failing = BufferedSystemRandom(words: 64) { _ in errno = EIO; return -1 }
        let words = (0..<64).map { _ in failing.next() }
        XCTAssertEqual(Set(words).count, 64, "the system generator's words instead, not zeros")
    }

    func testFilterGrammarPrecedenceAndValues() throws {
        let a = SCIMFilter.compare(path("a"), .eq, .string("1")), b = SCIMFilter.compare(path("b"), .eq, .string("2"))
        let c = SCIMFilter.compare(path("c"), .eq, .string("3"))
        XCTAssertEqual(try SCIMFilter.parse(#"a eq "1" or b eq "2" and c eq "3""#), .or(a, .and(b, c)), "and binds tighter than or")
        XCTAssertEqual(try SCIMFilter.parse(#"(a eq "1" or b eq "2") and c eq "3""#), .and(.or(a, b), c))
        XCTAssertEqual(try SCIMFilter.parse(#"not (a EQ "1") AND b Eq "2""#), .and(.not(a), b), "operators in any case")
        XCTAssertEqual(try SCIMFilter.parse(#"a eq "x\"y""#), .compare(path("a"), .eq, .string("x\"y")), "JSON escapes in strings")
        XCTAssertEqual(try SCIMFilter.parse("active eq true"), .compare(path("active"), .eq, .bool(true)))
        XCTAssertEqual(try SCIMFilter.parse("externalId pr"), .present(path("externalId")))
        XCTAssertEqual(try SCIMFilter.parse(#"emails[type eq "work"].value eq "x""#),
                       .valuePath(path("emails"), .and(.compare(path("type"), .eq, .string("work")), .compare(path("value"), .eq, .string("x")))))
        let urn = try SCIMFilter.parse(#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "A""#)
        XCTAssertEqual(urn, .compare(SCIMAttributePath(schema: SCIMUser.schema, attribute: "name", subAttribute: "givenName"), .eq, .string("A")),
                       "the URN keeps its `2.0`: the schema ends at the last colon")
        for bad in [#"a eq "1"#, "a eq", #"a zz "1""#, #"(a eq "1""#, #"a eq "1")"#, "a eq bareword", #"not a eq "1""#, #"a[b eq "1""#, "", "   "] where !bad.trimmingCharacters(in: .whitespaces).isEmpty {
            XCTAssertThrowsError(try SCIMFilter.parse(bad), bad) { XCTAssertEqual(($0 as? SCIMError)?.scimType, .invalidFilter, bad) }
        }
        let fifty = (0..<50).map { #"a eq "\#($0)""# }.joined(separator: " or ")
        XCTAssertNoThrow(try SCIMFilter.parse(fifty))
        XCTAssertThrowsError(try SCIMFilter.parse(fifty + #" or a eq "x""#), "51 comparisons")
        XCTAssertThrowsError(try SCIMFilter.parse(String(repeating: "(", count: 40) + #"a eq "1""# + String(repeating: ")", count: 40)), "nesting is bounded")
        XCTAssertThrowsError(try SCIMFilter.parse(String(repeating: "not (", count: 5000)), "deep input neither crashes nor recurses without bound")
    }

    func testFilterMapsOnlyKnownAttributesToTheStoresFields() throws {
        func translate(_ s: String) throws -> UserFilter { try SCIMUserQuery.translate(try SCIMFilter.parse(s)) }
        XCTAssertEqual(try translate(#"userName eq "Ann""#), .compare(.username, .eq, "Ann"))
        XCTAssertEqual(try translate(#"emails[type eq "work"].value eq "a@d.org""#), .and(.compare(.emailType, .eq, "work"), .compare(.email, .eq, "a@d.org")))
        XCTAssertEqual(try translate(#"emails[type eq "home"]"#), .compare(.emailType, .eq, "home"), "the type the provider gave is kept, and filtered")
        XCTAssertEqual(try translate(#"emails[primary eq false]"#), .bool(.emailPrimary, false, equal: true))
        XCTAssertEqual(try translate(#"id eq "5f0c""#), .compare(.id, .eq, "5f0c"), "the id is sisync's, not the userName")
        XCTAssertEqual(try translate("active eq false"), .bool(.approved, false, equal: true))
        XCTAssertEqual(try translate(#"meta.lastModified gt "2026-09-01T08:00:00.250+02:00""#), .compare(.modified, .gt, "2026-09-01T06:00:00Z"))
        for bad in [#"title eq "x""#, #"name.givenName eq "x""#, "active eq \"maybe\"", #"active gt true"#, #"meta.lastModified gt "yesterday""#,
                    #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x""#] {
            XCTAssertThrowsError(try translate(bad), bad) { XCTAssertEqual(($0 as? SCIMError)?.scimType, .invalidFilter, bad) }
        }
        let like = AccountStore.condition(.compare(.username, .co, "50%_off\\"))
        XCTAssertEqual(like.values, [.text("%50\\%\\_off\\\\%")], "LIKE's wildcards and its escape are escaped, and bound")
        XCTAssertFalse(like.sql.contains("50"))
        XCTAssertThrowsError(try SCIMUserQuery(filter: nil, startIndex: "x", count: nil))
        XCTAssertEqual(try SCIMUserQuery(filter: nil, startIndex: "0", count: "100000").count, SCIMUserQuery.maxCount)
        XCTAssertEqual(try SCIMUserQuery(filter: nil, startIndex: "-5", count: nil).startIndex, 1)
    }

    private let user = ProvisionedUser(id: "0f3a9c", fields: ProvisionedUser.Fields(username: "bea", email: "bea@district.org", name: "Bea Moe", givenName: "Bea",
                                                                      familyName: "Moe", approved: true, externalID: "e-1"),
                                       locked: false, link: nil, provisionedBy: "entra", createdAt: "2026-01-01T00:00:00Z", modifiedAt: "2026-01-01T00:00:00Z")

    private func patched(_ operations: String) throws -> SCIMUser.Input {
        let body = try SCIMJSON.read(Array(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":\#(operations)}"#.utf8))
        return try SCIMUser.applying(try SCIMPatch(body), to: user)
    }

    private func patchError(_ operations: String) -> SCIMError.Kind? {
        do { _ = try patched(operations); return nil } catch { return (error as? SCIMError)?.scimType }
    }

    func testPatchTakesTheShapesProvidersSend() throws {
        XCTAssertEqual(try patched(#"[{"op":"Replace","path":"active","value":"False"}]"#).fields.approved, false, "Entra: op capitalised, a boolean as a string")
        XCTAssertEqual(try patched(#"[{"op":"replace","value":{"active":false,"displayName":"B"}}]"#).fields.approved, false, "Okta: no path, an object value")
        XCTAssertEqual(try patched(#"[{"op":"replace","value":{"name.familyName":"Park"}}]"#).fields.familyName, "Park", "a path as a key of the value")
        XCTAssertEqual(try patched(#"[{"op":"replace","path":"emails[type eq \"work\"].value","value":"b@d.org"}]"#).fields.email, "b@d.org")
        XCTAssertEqual(try patched(#"[{"op":"add","path":"emails","value":[{"type":"work","value":"c@d.org"}]}]"#).fields.email, "c@d.org",
                       "an added email of the same type replaces the one there")
        XCTAssertEqual(try patched(#"[{"op":"add","path":"emails","value":[{"type":"home","value":"h@home.org"}]}]"#).fields.email, "bea@district.org",
                       "the work email stays the one that links")
        XCTAssertEqual(try patched(#"[{"op":"remove","path":"externalId"}]"#).fields.externalID, nil)
        let removed = try patched(#"[{"op":"remove","path":"active"}]"#).fields
        XCTAssertEqual([removed.approved, removed.activeRemoved], [false, true], "RFC 7644 §3.5.2.2: a removed `active` is unassigned: not active")
        XCTAssertNil(SCIMUser.resource(ProvisionedUser(id: user.id, fields: removed, locked: false, link: nil, provisionedBy: nil, createdAt: "", modifiedAt: ""),
                                       facts: SCIMUser.Facts(), location: "")[scim: "active"], "and shown as unassigned")
        let typed = try patched(#"[{"op":"replace","path":"emails","value":[{"value":"b@d.org","type":"school","primary":false}]}]"#).fields
        XCTAssertEqual([typed.emailType, typed.emailPrimary.map(String.init)], ["school", "false"], "the email's type and primary are kept as given")
        XCTAssertEqual(try patched(#"[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"x"}]"#).fields,
                       user.fields, "another schema's attribute is ignored")
        XCTAssertEqual(try patched(#"[{"op":"replace","path":"password","value":"a-long-password"}]"#).password, "a-long-password")
        XCTAssertEqual(patchError(#"[{"op":"replace","path":"id","value":"x"}]"#), .mutability)
        XCTAssertEqual(patchError(#"[{"op":"replace","path":"meta.created","value":"x"}]"#), .mutability)
        XCTAssertEqual(patchError(#"[{"op":"replace","path":"urn:sisync:params:scim:schemas:extension:2.0:User:locked","value":false}]"#), .mutability)
        XCTAssertEqual(patchError(#"[{"op":"remove","path":"emails[type eq \"home\"]"}]"#), .noTarget)
        XCTAssertEqual(patchError(#"[{"op":"remove"}]"#), .noTarget)
        XCTAssertEqual(patchError(#"[{"op":"replace","path":"emails[type eq","value":"x"}]"#), .invalidPath)
        XCTAssertEqual(patchError(#"[{"op":"move","path":"active","value":true}]"#), .invalidSyntax)
        XCTAssertEqual(patchError(#"[{"op":"remove","path":"emails"}]"#), .invalidValue, "sisync links by email: none is refused")
        XCTAssertEqual(patchError("[]"), .invalidSyntax)
    }

    func testUnknownAndReadOnlyAttributesAreIgnoredOnCreate() throws {
        let body = try SCIMJSON.read(Array(SCIMHTTPTests.entraCreate("bea", externalId: "e-1", email: "bea@district.org").utf8))
        let input = try SCIMUser.input(body)
        XCTAssertEqual(input.fields, ProvisionedUser.Fields(username: "bea", email: "bea@district.org", name: "Bea Moe", givenName: "Bea", familyName: "Moe",
                                                            approved: true, externalID: "e-1", emailType: "work", emailPrimary: true))
        func email(_ emails: String) throws -> String {
            try SCIMUser.input(try SCIMJSON.read(Array(#"{"userName":"x","emails":\#(emails)}"#.utf8))).fields.email
        }
        XCTAssertEqual(try email(#"[{"type":"home","value":"h@home.org"},{"type":"work","value":"w@d.org"}]"#), "w@d.org", "the work email links")
        XCTAssertEqual(try email(#"[{"value":"a@home.org"},{"primary":"True","value":"p@d.org"}]"#), "p@d.org", "else the primary")
        XCTAssertEqual(try email(#"[{"primary":true},{"type":"home","value":"h@home.org"},{"value":"o@d.org"}]"#), "h@home.org", "else the first with a value")
        XCTAssertThrowsError(try SCIMUser.input(try SCIMJSON.read(Array(#"{"userName":"x","emails":[]}"#.utf8)))) {
            XCTAssertEqual(($0 as? SCIMError)?.scimType, .invalidValue)
        }
        XCTAssertThrowsError(try SCIMJSON.read(Array((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8))) {
            XCTAssertEqual(($0 as? SCIMError)?.scimType, .invalidSyntax, "nesting is bounded")
        }
    }

    func testAttributesAndExcludedAttributes() throws {
        let full = SCIMUser.resource(user, facts: SCIMUser.Facts(manualRoles: ["Coach"], schools: ["101"]), location: "http://h/scim/v2/Users/bea")
        func keys(_ v: JSONValue) -> [String] { if case .object(let m) = v { return m.map(\.0) }; return [] }
        var plain = user
        (plain.fields.givenName, plain.fields.familyName) = (nil, nil)
        XCTAssertFalse(keys(SCIMUser.resource(plain, facts: SCIMUser.Facts(), location: "")).contains("name"),
                       "no `name` once its parts are removed: the display name is `displayName`")
        let only = try SCIMProjection(attributes: "userName,name.givenName", excludedAttributes: nil).apply(full)
        XCTAssertEqual(keys(only), ["schemas", "id", "userName", "name"])
        XCTAssertEqual(only[scim: "name"].map(keys), ["givenName"])
        let without = try SCIMProjection(attributes: nil, excludedAttributes: "emails,meta,id").apply(full)
        XCTAssertFalse(keys(without).contains("emails") || keys(without).contains("meta"))
        XCTAssertTrue(keys(without).contains("id"), "id is always returned")
        let ext = try SCIMProjection(attributes: SCIMUser.extensionSchema + ":schools", excludedAttributes: nil)
        XCTAssertTrue(ext.mentionsExtension)
        XCTAssertEqual(ext.apply(full)[scim: SCIMUser.extensionSchema].map(keys), ["schools"])
        XCTAssertFalse(try SCIMProjection(attributes: "userName", excludedAttributes: nil).mentionsExtension, "the extension's facts are not read")
        XCTAssertFalse(try SCIMProjection(attributes: nil, excludedAttributes: SCIMUser.extensionSchema).mentionsExtension)
    }

    /// Found attacking a live sisync-api: a SCIM create with `"userName": "z\u0000z"` was 201.
    /// A NUL in any string of a SCIM body is 400 `invalidValue`, as the rest of the API answers.
    func testANULCharacterInAnyStringOfABodyIsInvalidValue() throws {
        for body in [#"{"userName": "z\u0000z", "emails": [{"value": "z@d.org"}]}"#, #"{"name": {"givenName": "\u0000"}}"#] {
            XCTAssertThrowsError(try SCIMJSON.read(Array(body.utf8)), body) { e in
                XCTAssertEqual((e as? SCIMError)?.scimType, .invalidValue, "\(e)")
            }
        }
        XCTAssertNoThrow(try SCIMJSON.read(Array(#"{"userName": "z\u0001z"}"#.utf8)))
    }
}
