import SISync

/// The Group resource (RFC 7643 §4.2) as sisync's roles: calculated roles are read-only
/// groups, manual roles are groups a provider may create, rename and fill. A member's
/// `value` is the user's SCIM id; a member must be a user (roles are held by users).
package enum SCIMGroup {
    package static let schema = SCIMDiscovery.groupSchema
    /// A group with more members than this is not listed: RFC 7644 allows `tooMany`, and a
    /// provider asks with `excludedAttributes=members` (Entra does), which reads none.
    package static let maxMembers = 1000

    /// A member's `display` (its userName) is `returned: request`: a provider compares the
    /// members it wrote (`value`, `$ref`) with those it reads back; an application asks for
    /// `attributes=members.display`.
    package static func resource(_ g: RoleGroup, members: [RoleGroupMember]?, display: Bool = false, base: String, segment: (String) -> String) -> JSONValue {
        var m: [(String, JSONValue)] = [("schemas", .array([.string(schema)])), ("id", .string(g.id))]
        if let e = g.externalID { m.append(("externalId", .string(e))) }
        m.append(("displayName", .string(g.name)))
        if let members {
            m.append(("members", .array(members.map { u in
                .object([("value", .string(u.id)), ("$ref", .string(base + "/Users/" + segment(u.id)))] + (display ? [("display", .string(u.username))] : []))
            })))
        }
        m.append(("meta", .object([("resourceType", .string("Group")), ("location", .string(base + "/Groups/" + segment(g.id)))])))
        return .object(m)
    }

    /// What a write asks of a manual role: its name, and members to add, to remove, or the
    /// whole set. Read straight from the operations, so that a PATCH never reads the
    /// members of a large group.
    package struct Change: Sendable, Equatable {
        package var name: String?
        /// nil: unchanged; `.some(nil)`: removed.
        package var externalID: String??
        package var add: [String] = []
        package var remove: [String] = []
        package var replaceMembers: [String]?
    }

    /// POST and PUT: `displayName` (required), `externalId` and `members`; anything else is
    /// ignored.
    package static func input(_ body: JSONValue) throws(SCIMError) -> Change {
        guard case .object = body else { throw .invalidSyntax("the body must be a JSON object (a Group resource)") }
        guard let name = body[scim: "displayName"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalidValue("`displayName` is required: the role's name")
        }
        return Change(name: name, externalID: .some(try SCIMUser.optionalString(body[scim: "externalId"], "externalId")?.nilIfEmpty),
                      replaceMembers: try values(body[scim: "members"] ?? .array([])))
    }

    /// The usernames of `[{"value": …}]`.
    static func values(_ v: JSONValue) throws(SCIMError) -> [String] {
        guard case .array(let items) = v else { throw .invalidValue("`members` is an array of {\"value\": USER_ID}") }
        var out: [String] = []
        for item in items {
            guard let u = item[scim: "value"]?.stringValue, !u.isEmpty else { throw .invalidValue("each member needs a `value`: the user's id") }
            out.append(u)
        }
        return out
    }

    package static func change(_ patch: SCIMPatch) throws(SCIMError) -> Change {
        var change = Change()
        /// A read-only attribute named in a path is refused; in a pathless value, ignored (as
        /// in a PUT body).
        func apply(_ op: SCIMPatch.Op, _ path: SCIMPatchPath, _ value: JSONValue?, pathless: Bool = false) throws(SCIMError) {
            let a = path.attribute
            if let s = a.schema, s.caseInsensitiveCompare(schema) != .orderedSame { return }
            switch a.attribute.lowercased() {
            case "id", "meta", "schemas":
                if pathless { return }
                throw .mutability("`\(path)` is read-only")
            case "displayname":
                guard op != .remove, case .string(let name)? = value, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw .invalidValue("`displayName` is the role's name: a non-empty string")
                }
                change.name = name
            case "externalid":
                if op == .remove { change.externalID = .some(nil); return }
                change.externalID = .some(try SCIMUser.optionalString(value, "externalId")?.nilIfEmpty)
            case "members":
                if let filter = path.filter {
                    guard op == .remove, path.subAttribute == nil else { throw .invalidPath("`\(path)`: members are removed by a value filter, added with `add`") }
                    let named = usernames(filter)
                    guard !named.isEmpty else { throw .invalidPath("`\(path)`: sisync removes members by `value eq \"USER_ID\"` (joined by or)") }
                    change.remove += named
                    return
                }
                switch op {
                case .add: change.add += try values(value ?? .array([]))
                case .replace:
                    change.replaceMembers = try values(value ?? .array([]))
                    change.add = []; change.remove = []
                case .remove:
                    if let value { change.remove += try values(value) } else { change.replaceMembers = []; change.add = []; change.remove = [] }
                }
            default: return
            }
        }
        for o in patch.operations {
            if let path = o.path { try apply(o.op, path, o.value); continue }
            guard case .object(let members)? = o.value else { throw .invalidValue("an operation without a `path` takes an object of attributes") }
            for (key, value) in members {
                guard let path = try? SCIMPatchPath(key) else { continue }
                try apply(o.op, path, value, pathless: true)
            }
        }
        return change
    }

    /// The `value eq "…"` terms of a filter joined by `or`; empty for anything else.
    static func usernames(_ f: SCIMFilter) -> [String] {
        switch f {
        case .or(let a, let b):
            let l = usernames(a), r = usernames(b)
            return l.isEmpty || r.isEmpty ? [] : l + r
        case .compare(let p, .eq, .string(let v)) where p.named("value") && p.subAttribute == nil: return [v]
        default: return []
        }
    }

    /// A list filter on groups (they are few: filtered in memory): `displayName`, `id` and
    /// `externalId`.
    package static func check(_ f: SCIMFilter) throws(SCIMError) {
        switch f {
        case .and(let a, let b), .or(let a, let b): try check(a); try check(b)
        case .not(let a): try check(a)
        case .present(let p), .compare(let p, _, _):
            guard p.schema == nil || p.schema!.caseInsensitiveCompare(schema) == .orderedSame,
                  p.subAttribute == nil, p.named("displayName") || p.named("id") || p.named("externalId") else {
                throw .invalidFilter("sisync filters Groups on displayName, id and externalId only")
            }
        case .valuePath: throw .invalidFilter("sisync filters Groups on displayName, id and externalId only")
        }
    }
}
