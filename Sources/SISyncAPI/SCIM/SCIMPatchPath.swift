import SISync

/// A PATCH operation's `path` (RFC 7644 §3.5.2): `attrPath`, or `valuePath` with an
/// optional sub-attribute: `active`, `name.givenName`, `emails[type eq "work"].value`,
/// `members[value eq "2819c223"]`, each optionally with its schema URN first.
package struct SCIMPatchPath: Sendable, Equatable, CustomStringConvertible {
    package var attribute: SCIMAttributePath
    /// The value filter of `attr[filter]`, selecting elements of a multi-valued attribute.
    package var filter: SCIMFilter?
    /// The sub-attribute after a value filter (`.value` of `emails[...].value`); for a
    /// path without a filter it is `attribute.subAttribute`.
    package var subAttribute: String? { filteredSubAttribute ?? attribute.subAttribute }
    var filteredSubAttribute: String?
    package let text: String

    package static let maxLength = 1024

    package init(_ text: String) throws(SCIMError) {
        self.text = text
        guard text.utf8.count <= Self.maxLength else { throw .invalidPath("the path is longer than \(Self.maxLength) bytes") }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let open = trimmed.firstIndex(of: "[") else {
            guard let p = SCIMAttributePath.parse(trimmed) else { throw .invalidPath("`\(Self.shown(text))` is not an attribute path") }
            attribute = p
            return
        }
        guard let close = trimmed.lastIndex(of: "]"), close > open else { throw .invalidPath("`\(Self.shown(text))`: a `[` has no matching `]`") }
        guard let p = SCIMAttributePath.parse(trimmed[..<open]), p.subAttribute == nil else {
            throw .invalidPath("`\(Self.shown(text))`: a value filter `[...]` follows a multi-valued attribute's name")
        }
        attribute = p
        do {
            filter = try SCIMFilter.parse(String(trimmed[trimmed.index(after: open)..<close]))
        } catch {
            throw .invalidPath("`\(Self.shown(text))`: the value filter is not valid: \(error.detail)")
        }
        let after = trimmed[trimmed.index(after: close)...]
        if !after.isEmpty {
            guard after.hasPrefix("."), let sub = SCIMAttributePath.parse(after.dropFirst()), sub.schema == nil, sub.subAttribute == nil else {
                throw .invalidPath("`\(Self.shown(text))`: only `.subAttribute` may follow a value filter")
            }
            filteredSubAttribute = sub.attribute
        }
    }

    package var description: String { text }

    static func shown(_ text: String) -> String {
        let clipped = String(text.unicodeScalars.prefix(80).map { $0.value < 0x20 ? "?" : Character($0) })
        return clipped + (text.unicodeScalars.count > 80 ? "…" : "")
    }
}
