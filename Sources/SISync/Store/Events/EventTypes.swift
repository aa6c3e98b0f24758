/// The change feed's event types (docs/events.md lists each with an example body; a test
/// holds the two together), and the filter `types=` and `--types` take.
public enum EventTypes {
    /// A record of the mirror, per entity: `staff.added` … `attributes.reactivated`.
    public static func record(_ kind: EntityKind, _ change: String) -> String { kind.rawValue + "." + change }
    public static let recordChanges = ["added", "updated", "deactivated", "reactivated", "rekeyed"]

    /// The changes an entity's records can have: `rekeyed` only where a rekey carries records
    /// over (`EntityKind.canBeRekeyed`), so that a filter naming `applicants.rekeyed`, a type
    /// never written, is refused as unknown instead of matching nothing for ever.
    public static func recordChanges(of kind: EntityKind) -> [String] {
        kind.canBeRekeyed ? recordChanges : recordChanges.filter { $0 != "rekeyed" }
    }

    public static let others = [
        "link.created", "link.removed",
        "role.granted", "role.revoked",
        "user.added", "user.changed", "user.approved", "user.unapproved", "user.locked", "user.unlocked", "user.removed", "user.renamed",
        "pairing.created", "pairing.revoked", "access_code.created", "access_code.reset",
        "run.applied", "run.held", "run.failed", "run.reverted",
        "hold.approved", "hold.discarded", "hold.superseded",
        "form.changed", "permission_role.changed", "api_client.changed",
        "manual_role.created", "manual_role.renamed", "manual_role.changed", "manual_role.removed",
        "feed.started",
    ]

    public static let all: [String] = EntityKind.allCases.flatMap { k in recordChanges(of: k).map { record(k, $0) } } + others
}

/// `types=staff.deactivated,link.*`: exact types and prefixes (`link.*`); empty: every type.
public struct EventTypeFilter: Sendable, Equatable {
    public var exact: [String] = []
    public var prefixes: [String] = []

    public init() {}

    public init(parsing list: String) throws(EventFeedError) {
        for part in list.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            if name.hasSuffix(".*") {
                let prefix = String(name.dropLast())
                guard EventTypes.all.contains(where: { $0.hasPrefix(prefix) }) else { throw .unknownType(name) }
                if !prefixes.contains(prefix) { prefixes.append(prefix) }
            } else {
                guard EventTypes.all.contains(name) else { throw .unknownType(name) }
                if !exact.contains(name) { exact.append(name) }
            }
        }
    }

    public var isEmpty: Bool { exact.isEmpty && prefixes.isEmpty }

    public func matches(_ type: String) -> Bool {
        isEmpty || exact.contains(type) || prefixes.contains { type.hasPrefix($0) }
    }

    /// The condition on `e.type`, with its values bound.
    var condition: SQLQuery {
        guard !isEmpty else { return "TRUE" }
        var parts: [SQLQuery] = exact.map { "e.type = \($0)" }
        parts += prefixes.map { "substr(e.type, 1, \(Int64($0.utf8.count))) = \($0)" }
        var sql: SQLQuery = "(\(sql: parts[0])"
        for p in parts.dropFirst() { sql = "\(sql: sql) OR \(sql: p)" }
        return "\(sql: sql))"
    }
}
