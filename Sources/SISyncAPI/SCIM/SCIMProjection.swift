import SISync

/// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a rendered
/// resource: `attributes` keeps only those (and `id`, `schemas`, which are always
/// returned), `excludedAttributes` drops them (never `id` or `schemas`). Names may carry
/// their schema URN and a sub-attribute (`name.givenName`, `urn:...:User:staffId`).
package struct SCIMProjection: Sendable, Equatable {
    package var attributes: [SCIMAttributePath] = []
    package var excluded: [SCIMAttributePath] = []

    package init(attributes: String?, excludedAttributes: String?) throws(SCIMError) {
        self.attributes = try Self.list(attributes, "attributes")
        self.excluded = try Self.list(excludedAttributes, "excludedAttributes")
    }

    package static func == (a: SCIMProjection, b: SCIMProjection) -> Bool { a.attributes == b.attributes && a.excluded == b.excluded }

    private static func list(_ text: String?, _ parameter: String) throws(SCIMError) -> [SCIMAttributePath] {
        guard let text else { return [] }
        var out: [SCIMAttributePath] = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            guard let p = SCIMAttributePath.parse(name) else {
                throw .invalidValue("`\(parameter)` lists attribute names separated by commas; `\(SCIMPatchPath.shown(name))` is not one")
            }
            out.append(p)
        }
        return out
    }

    static let alwaysReturned: Set<String> = ["id", "schemas"]

    /// Whether the extension's attributes are asked for, by its URN or an attribute of it,
    /// or returned by default and not excluded: when not, they are not read.
    package var mentionsExtension: Bool {
        func isWhole(_ p: SCIMAttributePath) -> Bool {
            ((p.schema.map { $0 + ":" } ?? "") + p.attribute).caseInsensitiveCompare(SCIMUser.extensionSchema) == .orderedSame
        }
        func isPart(_ p: SCIMAttributePath) -> Bool { p.schema?.caseInsensitiveCompare(SCIMUser.extensionSchema) == .orderedSame }
        if excluded.contains(where: isWhole) { return false }
        return attributes.isEmpty || attributes.contains { isWhole($0) || isPart($0) }
    }

    /// Whether a top-level attribute of the core schema is returned at all.
    package func includes(_ p: SCIMAttributePath) -> Bool {
        let a = p.attribute.lowercased()
        if Self.alwaysReturned.contains(a) { return true }
        if excluded.contains(where: { $0.attribute.lowercased() == a && $0.subAttribute == nil && Self.coreOrNone($0) }) { return false }
        return attributes.isEmpty || attributes.contains { $0.attribute.lowercased() == a && Self.coreOrNone($0) }
    }

    /// Whether `attribute.sub` is named in `attributes`: how a sub-attribute returned only
    /// on request (RFC 7643 §7, `returned: request`) is asked for.
    package func requests(_ attribute: String, _ sub: String) -> Bool {
        attributes.contains { $0.attribute.lowercased() == attribute.lowercased() && $0.subAttribute?.lowercased() == sub.lowercased() && Self.coreOrNone($0) }
    }

    private static func coreOrNone(_ p: SCIMAttributePath) -> Bool {
        p.schema == nil || [SCIMUser.schema, SCIMDiscovery.groupSchema].contains { p.schema!.caseInsensitiveCompare($0) == .orderedSame }
    }

    package func apply(_ resource: JSONValue) -> JSONValue {
        guard !attributes.isEmpty || !excluded.isEmpty, case .object(let members) = resource else { return resource }
        var out: [(String, JSONValue)] = []
        for (key, value) in members {
            if Self.alwaysReturned.contains(key.lowercased()) { out.append((key, value)); continue }
            if key.lowercased().hasPrefix("urn:") {
                // An extension: its attributes are named `urn:…:User:attr`.
                guard case .object(let inner) = value else { continue }
                let named = { (p: SCIMAttributePath) -> String? in
                    guard let s = p.schema else { return nil }
                    if s.caseInsensitiveCompare(key) == .orderedSame { return p.attribute.lowercased() }
                    if (s + ":" + p.attribute).caseInsensitiveCompare(key) == .orderedSame { return "*" }
                    return nil
                }
                let wanted = attributes.compactMap(named), dropped = excluded.compactMap(named)
                if dropped.contains("*") { continue }
                let kept = inner.filter { (k, _) in
                    !dropped.contains(k.lowercased()) && (attributes.isEmpty || wanted.contains("*") || wanted.contains(k.lowercased()))
                }
                if !kept.isEmpty { out.append((key, .object(kept))) }
                continue
            }
            let a = key.lowercased()
            guard includes(SCIMAttributePath(attribute: key)) || attributes.contains(where: { $0.attribute.lowercased() == a && $0.subAttribute != nil }) else { continue }
            let wantedSubs = attributes.filter { $0.attribute.lowercased() == a && Self.coreOrNone($0) }.compactMap { $0.subAttribute?.lowercased() }
            let droppedSubs = excluded.filter { $0.attribute.lowercased() == a && Self.coreOrNone($0) }.compactMap { $0.subAttribute?.lowercased() }
            let wholeWanted = attributes.isEmpty || attributes.contains { $0.attribute.lowercased() == a && $0.subAttribute == nil }
            out.append((key, Self.subset(value, keep: wholeWanted ? nil : wantedSubs, drop: droppedSubs)))
        }
        return .object(out)
    }

    /// A complex attribute (or each element of a multi-valued one) with only `keep` (nil:
    /// all) and without `drop`.
    private static func subset(_ value: JSONValue, keep: [String]?, drop: [String]) -> JSONValue {
        guard keep != nil || !drop.isEmpty else { return value }
        switch value {
        case .object(let m): return .object(m.filter { (k, _) in (keep?.contains(k.lowercased()) ?? true) && !drop.contains(k.lowercased()) })
        case .array(let items): return .array(items.map { subset($0, keep: keep, drop: drop) })
        default: return value
        }
    }
}
