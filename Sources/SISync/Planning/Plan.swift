import Foundation

/// Why a record stops being active.
public enum DeactivationReason: String, Sendable {
    /// The export no longer lists it (after `deactivate_after`, if set).
    case absent
    /// The export lists it with `status = inactive`.
    case statusInactive = "status inactive"
}

/// One field whose value differs between the store and the export.
public struct FieldChange: Sendable, Equatable {
    public let column: Int
    public let name: String
    public let old: String
    public let new: String
}

/// A stored record the export changes: fields, activity, or its *missing since* mark.
public struct RecordUpdate: Sendable {
    public let key: String
    /// The export row, when the record is in the export.
    public let row: Int?
    public var fields: [FieldChange] = []
    public var reactivate = false
    public var deactivate: DeactivationReason?
    /// Set when the record first goes missing (with `deactivate_after`).
    public var markMissing: Date?
    /// Set when a missing record returns before it was deactivated.
    public var clearMissing = false
    /// The stored *missing since* time, for the audit trail.
    public var missingSince: Date?
}

/// The changes one run makes to one entity (R4). A value: the guard judges it, dry-run
/// prints it, the store applies it, and the audit trail records it.
public struct EntityPlan: Sendable {
    public let kind: EntityKind
    /// Active records before the run.
    public let activeBefore: Int
    /// Whether the export for this entity had no rows at all.
    public let exportEmpty: Bool
    /// Export rows that are new records, in key order (as runs of rows: a first import's
    /// are one run, not a number per row).
    public var additions: RowNumbers = []
    public var updates: [RecordUpdate] = []

    public var deactivationCount: Int { updates.reduce(0) { $0 + ($1.deactivate != nil ? 1 : 0) } }
    public var reactivationCount: Int { updates.reduce(0) { $0 + ($1.reactivate ? 1 : 0) } }
    /// Records with at least one changed field.
    public var updatedCount: Int { updates.reduce(0) { $0 + ($1.fields.isEmpty ? 0 : 1) } }
    public var isEmpty: Bool { additions.isEmpty && updates.isEmpty }
}

/// Counts per entity, as the run summary shows them.
public struct RecordCounts: Sendable, Equatable, Codable {
    public var added = 0, updated = 0, deactivated = 0, reactivated = 0
    public init(added: Int = 0, updated: Int = 0, deactivated: Int = 0, reactivated: Int = 0) {
        self.added = added
        self.updated = updated
        self.deactivated = deactivated
        self.reactivated = reactivated
    }
    public var total: Int { added + updated + deactivated + reactivated }
}

/// The whole plan of a run: per-entity changes against the export they came from.
public struct Plan: Sendable {
    public var entities: [EntityPlan]
    /// Users' links after this run's records (R6).
    public var links = LinkPlan()
    /// Calculated roles (R7), known once the records and links are written.
    public var roles = RolePlan()
    /// The export the additions and updates refer to (nil for an unchanged run).
    public let snapshot: ExportSnapshot?
    public let plannedAt: Date
    /// The SHA-256 of each entity's file, stored with an applied run: a file that has not
    /// changed since is not parsed again by the next run (R3, per file).
    public var fileHashes: [EntityKind: String] = [:]
    /// Entities whose file was identical to the last applied one and was not parsed.
    public var unchangedFiles: [EntityKind] = []
    /// HTTP validators of this run's downloads, saved when it succeeds (R3).
    public var sourceValidators: [String: SourceValidator] = [:]
    /// What the rekey detection proposed (issue 33): pairs and ambiguous candidates.
    public var rekeys = RekeyProposal()
    /// The records this plan carries over to new ids (`carryingOver`): renamed, with all
    /// that names them, in the apply transaction before the entities are written.
    public var carriedOver: [Rekey] = []
    /// The entities and links as planned before the pairs were laid over them: kept with a
    /// hold, for `run approve --without-rekeys`.
    public var withoutRekeys: (entities: [EntityPlan], links: LinkPlan)?

    public init(entities: [EntityPlan], snapshot: ExportSnapshot?, plannedAt: Date) {
        self.entities = entities
        self.snapshot = snapshot
        self.plannedAt = plannedAt
    }

    public func plan(for kind: EntityKind) -> EntityPlan? { entities.first { $0.kind == kind } }

    /// Whether applying the plan would change nothing (an ambiguous email changes nothing).
    public var isEmpty: Bool {
        entities.allSatisfy(\.isEmpty) && links.changes.allSatisfy { if case .ambiguous = $0 { return true }; return false }
    }

    public func counts(for kind: EntityKind) -> RecordCounts {
        guard let p = plan(for: kind) else { return RecordCounts() }
        return RecordCounts(added: p.additions.count, updated: p.updatedCount,
                            deactivated: p.deactivationCount, reactivated: p.reactivationCount)
    }

    /// The plan as audit-trail entries, in a stable order (entity, then record).
    public func changes() -> [Change] {
        var out: [Change] = []
        forEachChange { out.append($0) }
        return out
    }

    /// Streams the plan's changes without building the whole list (large imports).
    public func forEachChange(includingAdditions: Bool = true, includingRoles: Bool = true, _ body: (Change) throws -> Void) rethrows {
        for p in entities {
            let entity = p.kind.rawValue
            for r in carriedOver where r.entity == entity {
                let new = RecordKey.display(r.new)
                try body(Change(entity: entity, id: new, field: "id", old: RecordKey.display(r.old), new: new, kind: .rekeyed))
            }
            if includingAdditions, let rows = snapshot?.entities[p.kind] {
                for r in p.additions {
                    try body(Change(entity: entity, id: RecordKey.display(rows.key(Int(r))), kind: .added))
                }
            }
            for u in p.updates {
                let id = RecordKey.display(u.key)
                if u.reactivate { try body(Change(entity: entity, id: id, field: "active", old: "false", new: "true", kind: .reactivated)) }
                for f in u.fields { try body(Change(entity: entity, id: id, field: f.name, old: f.old, new: f.new, kind: .updated)) }
                if let when = u.markMissing {
                    try body(Change(entity: entity, id: id, field: "missing_since", old: nil, new: Timestamp.format(when), kind: .updated))
                }
                if u.clearMissing {
                    try body(Change(entity: entity, id: id, field: "missing_since", old: u.missingSince.map(Timestamp.format), new: nil, kind: .updated))
                }
                if let reason = u.deactivate {
                    try body(Change(entity: entity, id: id, field: "active", old: "true", new: "false (\(reason.rawValue))", kind: .deactivated))
                }
            }
        }
        for c in links.changes {
            switch c {
            case .link(let user, let staff, let previous):
                try body(Change(entity: "users", id: user, field: "link", old: previous, new: staff, kind: .linked))
            case .unlink(let user, let staff, _, _):
                try body(Change(entity: "users", id: user, field: "link", old: staff, new: nil, kind: .unlinked))
            case .unapprove(let user, _):
                try body(Change(entity: "users", id: user, field: "approved", old: "true", new: "false", kind: .updated))
            case .ambiguous:
                break
            }
        }
        guard includingRoles else { return }
        for r in roles.granted { try body(Change(entity: "users", id: r.username, field: "role", old: nil, new: r.label, kind: .roleGranted)) }
        for r in roles.revoked { try body(Change(entity: "users", id: r.username, field: "role", old: r.label, new: nil, kind: .roleRevoked)) }
    }
}
