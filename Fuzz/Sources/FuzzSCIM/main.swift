// SCIM's parsers (issue 32, docs/scim.md): the filter (`SCIMFilter.parse`, then the fixed
// map to the store's `UserFilter` and the SQL `AccountStore.condition` makes of it), a PATCH
// path (`SCIMPatchPath`), and a PATCH body (`SCIMJSON.read`, `SCIMPatch`, applied to a
// user's writable document and read back as a user by `SCIMUser.input`).
//
// An input is the filter or path on line 1, then the PATCH body. A finding is a crash, a
// parse that differs on the same text, SQL holding a value of the filter with a quote
// (only bound values may carry them) or a placeholder count that is not the values', an
// error document that is not JSON, or a patched user without an email.
@testable import SISync
@testable import SISyncAPI
import FuzzSupport
import Foundation

/// The user each PATCH is applied to (as `SCIMUser.applying` applies it), made per input: a global's indirect-enum boxes are
/// reported by LeakSanitizer at exit.
func provisionedUser() -> ProvisionedUser {
    ProvisionedUser(id: "0f3a9c", fields: ProvisionedUser.Fields(username: "ann", email: "ann@district.org", name: "Ann Lee", givenName: "Ann",
                                                                 familyName: "Lee", approved: true, externalID: "e-1"),
                    locked: false, link: nil, provisionedBy: "fuzz", createdAt: "2026-01-01T00:00:00Z", modifiedAt: "2026-01-01T00:00:00Z")
}

func checkError(_ e: SCIMError) {
    guard (400...599).contains(e.status) else { finding("status \(e.status)") }
    guard (try? JSONSerialization.jsonObject(with: Data(e.document.rendered(pretty: false).utf8))) != nil else { finding("an error document that is not JSON") }
}

/// Every value the filter compares with, as the parser kept it.
func values(_ f: UserFilter) -> [String] {
    switch f {
    case .compare(_, _, let v): return [v]
    case .and(let a, let b), .or(let a, let b): return values(a) + values(b)
    case .not(let a): return values(a)
    case .bool, .present, .none, .all: return []
    }
}

fuzzMain { data in
    let bytes = Array(data)
    let newline = bytes.firstIndex(of: 0x0A) ?? bytes.count
    let line = String(decoding: bytes[..<newline], as: UTF8.self)
    let body = newline < bytes.count ? Array(bytes[(newline + 1)...]) : []

    do {
        let filter = try SCIMFilter.parse(line)
        guard (try? SCIMFilter.parse(line)) == filter else { finding("the same filter parsed twice differs") }
        let translated = try SCIMUserQuery.translate(filter)
        let query = AccountStore.condition(translated)
        let placeholders = query.sql.components(separatedBy: "?").count - 1
        guard placeholders == query.values.count else { finding("\(placeholders) placeholders for \(query.values.count) values: \(query.sql)") }
        // A value with a quote could only reach the SQL text by being spliced into it.
        for v in values(translated) where v.contains("'") && !" ESCAPE '\\'".contains(v) {
            if query.sql.contains(v) { finding("a value in the SQL: \(query.sql)") }
        }
    } catch let e as SCIMError {
        checkError(e)
    } catch {
        finding("an error that is not a SCIM error: \(error)")
    }
    do {
        let path = try SCIMPatchPath(line)
        guard (try? SCIMPatchPath(line)) == path else { finding("the same path parsed twice differs") }
    } catch let e as SCIMError {
        checkError(e)
    } catch {
        finding("an error that is not a SCIM error: \(error)")
    }
    do {
        let patch = try SCIMPatch(try SCIMJSON.read(body))
        let input = try SCIMUser.applying(patch, to: provisionedUser())
        guard !input.fields.email.isEmpty else { finding("a patched user without an email") }
    } catch let e as SCIMError {
        checkError(e)
    } catch {
        finding("an error that is not a SCIM error: \(error)")
    }
    // The same body as a `POST …/.search` SearchRequest, then its values as a list reads them.
    do {
        let list = try SCIMListRequest(searchBody: try SCIMJSON.read(body))
        _ = try SCIMUserQuery(filter: list.filter, startIndex: list.startIndex, count: list.count)
        _ = try SCIMProjection(attributes: list.attributes, excludedAttributes: list.excludedAttributes)
    } catch let e as SCIMError {
        checkError(e)
    } catch {
        finding("an error that is not a SCIM error: \(error)")
    }
}
