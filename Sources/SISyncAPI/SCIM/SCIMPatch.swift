import SISync

/// A PATCH request (RFC 7644 §3.5.2) and its application to a resource's writable document,
/// a value: the operations are applied in order to the JSON, then the result is read as a
/// PUT body would be. It takes the shapes providers really send: `op` in any case
/// (`Replace`), a `replace` without a path whose value is an object of attributes, and
/// booleans as strings (`"active": "False"`, read by `SCIMUser.boolean`).
package struct SCIMPatch: Sendable, Equatable {
    package enum Op: String, Sendable { case add, replace, remove }

    package struct Operation: Sendable, Equatable {
        package var op: Op
        package var path: SCIMPatchPath?
        package var value: JSONValue?
    }

    package static let schema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    package static let maxOperations = 1000

    package var operations: [Operation]

    package init(_ body: JSONValue) throws(SCIMError) {
        guard case .object = body else { throw .invalidSyntax("a PATCH body is a JSON object with `schemas` and `Operations`") }
        if let schemas = body[scim: "schemas"] {
            guard case .array(let list) = schemas, list.contains(where: { $0.stringValue == Self.schema }) else {
                throw .invalidSyntax("a PATCH body's `schemas` is [\"\(Self.schema)\"]")
            }
        }
        guard case .array(let list)? = body[scim: "Operations"], !list.isEmpty else {
            throw .invalidSyntax("a PATCH body needs `Operations`, a non-empty array of {op, path, value}")
        }
        guard list.count <= Self.maxOperations else { throw .invalidSyntax("a PATCH may hold at most \(Self.maxOperations) operations") }
        operations = []
        for item in list {
            guard case .object = item else { throw .invalidSyntax("each of `Operations` is an object {op, path, value}") }
            guard let name = item[scim: "op"]?.stringValue, let op = Op(rawValue: name.lowercased()) else {
                throw .invalidSyntax("each operation's `op` is add, replace or remove (in any case)")
            }
            var path: SCIMPatchPath?
            switch item[scim: "path"] {
            case nil, .null?: path = nil
            case .string(let s)? where s.trimmingCharacters(in: .whitespaces).isEmpty: path = nil
            case .string(let s)?: path = try SCIMPatchPath(s)
            default: throw .invalidPath("an operation's `path` is a string")
            }
            let value = item[scim: "value"]
            if op == .remove {
                guard path != nil else { throw SCIMError(400, .noTarget, "a `remove` operation needs a `path` (RFC 7644 §3.5.2.2)") }
            } else if value == nil {
                throw .invalidValue("an `\(op.rawValue)` operation needs a `value`")
            }
            operations.append(Operation(op: op, path: path, value: value))
        }
    }

    /// What an attribute is to this resource: written, refused (read-only: 400
    /// `mutability`) or not kept (ignored).
    package enum Handling: Sendable { case write, readOnly, ignore }

    /// The document after every operation. `handling` classifies each attribute named.
    package func apply(to document: JSONValue, handling: (SCIMAttributePath) -> Handling) throws(SCIMError) -> JSONValue {
        guard case .object(var members) = document else { return document }
        for operation in operations {
            if let path = operation.path {
                switch handling(path.attribute) {
                case .readOnly: throw .mutability("`\(path)` is read-only in sisync: a provider cannot change it")
                case .ignore: continue
                case .write: try Self.apply(operation.op, path, operation.value, to: &members)
                }
                continue
            }
            // No path: the value is an object whose members are attributes (or paths).
            guard case .object(let values)? = operation.value else {
                throw .invalidValue("an `\(operation.op.rawValue)` without a `path` takes an object of attributes as its `value`")
            }
            for (key, value) in values {
                guard let path = try? SCIMPatchPath(key) else { continue }
                switch handling(path.attribute) {
                case .readOnly, .ignore: continue
                case .write: try Self.apply(operation.op, path, value, to: &members)
                }
            }
        }
        return .object(members)
    }

    private static func index(_ members: [(String, JSONValue)], _ name: String) -> Int? {
        members.firstIndex { $0.0.caseInsensitiveCompare(name) == .orderedSame }
    }

    private static func set(_ members: inout [(String, JSONValue)], _ name: String, _ value: JSONValue) {
        if let i = index(members, name) { members[i].1 = value } else { members.append((name, value)) }
    }

    private static func apply(_ op: Op, _ path: SCIMPatchPath, _ value: JSONValue?, to members: inout [(String, JSONValue)]) throws(SCIMError) {
        let name = path.attribute.attribute
        if let filter = path.filter {
            var items: [JSONValue] = []
            if let i = index(members, name), case .array(let a) = members[i].1 { items = a }
            let matched = items.indices.filter { matches(filter, items[$0]) }
            switch op {
            case .remove:
                guard !matched.isEmpty else { throw SCIMError(400, .noTarget, "`\(path)` matches no value") }
                if let sub = path.subAttribute {
                    for i in matched { items[i] = removing(sub, from: items[i]) }
                } else {
                    items = items.indices.filter { !matched.contains($0) }.map { items[$0] }
                }
            case .add, .replace:
                let value = value ?? .null
                if matched.isEmpty {
                    guard op == .add || path.subAttribute != nil else { throw SCIMError(400, .noTarget, "`\(path)` matches no value to replace") }
                    // A new element: what the filter's `eq` terms say, and the value.
                    var element = equalities(filter)
                    if let sub = path.subAttribute { set(&element, sub, value) } else if case .object(let m) = value { for (k, v) in m { set(&element, k, v) } }
                    items.append(.object(element))
                } else {
                    for i in matched {
                        if let sub = path.subAttribute {
                            items[i] = setting(sub, value, in: items[i])
                        } else if case .object(let m) = value, case .object(var e) = items[i] {
                            for (k, v) in m { set(&e, k, v) }
                            items[i] = .object(e)
                        } else {
                            items[i] = value
                        }
                    }
                }
            }
            set(&members, name, .array(items))
            return
        }
        if let sub = path.subAttribute {
            let current = index(members, name).map { members[$0].1 } ?? .null
            switch (op, current) {
            case (.remove, _): set(&members, name, removing(sub, from: current))
            case (_, .array(let a)): set(&members, name, .array(a.map { setting(sub, value ?? .null, in: $0) }))
            default: set(&members, name, setting(sub, value ?? .null, in: current))
            }
            return
        }
        switch op {
        case .remove:
            if let i = index(members, name) { members.remove(at: i) }
        case .replace:
            set(&members, name, value ?? .null)
        case .add:
            // Adding to a multi-valued attribute adds values; an element of the same `type`
            // as one there replaces it (sisync keeps one email, the work one).
            if let i = index(members, name), case .array(var existing) = members[i].1, case .array(let added) = value ?? .null {
                for v in added {
                    let type = v[scim: "type"]?.stringValue?.lowercased()
                    if let type, let j = existing.firstIndex(where: { $0[scim: "type"]?.stringValue?.lowercased() == type }) {
                        existing[j] = v
                    } else {
                        existing.append(v)
                    }
                }
                members[i].1 = .array(existing)
            } else if let i = index(members, name), case .object(var existing) = members[i].1, case .object(let added)? = value {
                for (k, v) in added { set(&existing, k, v) }
                members[i].1 = .object(existing)
            } else {
                set(&members, name, value ?? .null)
            }
        }
    }

    private static func setting(_ sub: String, _ value: JSONValue, in container: JSONValue) -> JSONValue {
        var m: [(String, JSONValue)] = []
        if case .object(let existing) = container { m = existing }
        set(&m, sub, value)
        return .object(m)
    }

    private static func removing(_ sub: String, from container: JSONValue) -> JSONValue {
        guard case .object(var m) = container else { return container }
        if let i = index(m, sub) { m.remove(at: i) }
        return .object(m)
    }

    /// The `attr eq value` terms of a filter joined by `and`: what a new element gets.
    private static func equalities(_ f: SCIMFilter) -> [(String, JSONValue)] {
        switch f {
        case .and(let a, let b): return equalities(a) + equalities(b)
        case .compare(let p, .eq, let v) where p.subAttribute == nil:
            switch v {
            case .string(let s): return [(p.attribute, .string(s))]
            case .bool(let b): return [(p.attribute, .bool(b))]
            default: return []
            }
        default: return []
        }
    }

    /// Whether one element of a multi-valued attribute matches a value filter. Strings
    /// compare regardless of case (`type`, `value` of emails and members are not caseExact
    /// in sisync); booleans also as their strings.
    package static func matches(_ f: SCIMFilter, _ element: JSONValue) -> Bool {
        switch f {
        case .and(let a, let b): return matches(a, element) && matches(b, element)
        case .or(let a, let b): return matches(a, element) || matches(b, element)
        case .not(let a): return !matches(a, element)
        case .valuePath: return false
        case .present(let p):
            switch element[scim: p.attribute] { case nil, .null?: return false; default: return true }
        case .compare(let p, let op, let v):
            let actual = element[scim: p.attribute]
            let a: String?
            switch actual {
            case .string(let s)?: a = s.lowercased()
            case .bool(let b)?: a = String(b)
            case .int(let n)?: a = String(n)
            default: a = nil
            }
            let b: String?
            switch v {
            case .string(let s): b = s.lowercased()
            case .bool(let x): b = String(x)
            case .number(let n): b = n
            case .null: b = nil
            }
            guard let a, let b else { return op == .eq ? (a == nil && b == nil) : op == .ne ? (a != nil) != (b != nil) : false }
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            case .co: return a.contains(b)
            case .sw: return a.hasPrefix(b)
            case .ew: return a.hasSuffix(b)
            case .gt: return a > b
            case .ge: return a >= b
            case .lt: return a < b
            case .le: return a <= b
            }
        }
    }
}
