import Foundation

/// A pair an administrator made for the next run to carry over (issue 33).
public struct RekeyRequest: Sendable, Equatable {
    public var entity: EntityKind
    public var old: String
    public var new: String
    public var by: String

    public init(entity: EntityKind, old: String, new: String, by: String) {
        self.entity = entity
        self.old = old
        self.new = new
        self.by = by
    }
}

extension RosterStore {
    /// `sisyncctl staff rekey OLD NEW` / `student rekey OLD NEW`: when the evidence is not
    /// enough (no email, a changed name), an administrator says which record leaving is which
    /// arriving. Both are in the export's future: OLD an active record the next run would
    /// deactivate, NEW an id no record has yet, which the next run would add. The next run
    /// carries it over as it carries its own pairs (held with `rekey = hold`), whatever its
    /// share of removals; a request whose records that run does not remove and add stays.
    public func requestRekey(_ entity: EntityKind, old: String, new: String, actor: String, now: Date) throws -> RekeyRequest {
        guard entity == .staff || entity == .students else { throw RekeyError.unknownOld(entity: entity.rawValue, id: old) }
        guard old != new else { throw RekeyError.sameID(old) }
        let state = try mirror.state(for: entity)
        guard let stored = try state.record(forKey: old) else { throw RekeyError.unknownOld(entity: entity.rawValue, id: old) }
        guard stored.active else { throw RekeyError.oldInactive(entity: entity.rawValue, id: old) }
        guard try state.record(forKey: new) == nil else { throw RekeyError.newExists(entity: entity.rawValue, id: new) }
        if let existing = try rekeyRequests().first(where: { $0.entity == entity && $0.old == old }) {
            throw RekeyError.alreadyRequested(entity: entity.rawValue, old: old, new: existing.new)
        }
        _ = try auditTrail.administer(actor: actor, now: now) {
            try database.run("""
                INSERT INTO rekey_requests (entity, old_id, new_id, requested_by, requested_at)
                VALUES (\(entity.rawValue), \(old), \(new), \(actor), \(Timestamp.format(now)))
                """)
            return [Change(entity: entity.rawValue, id: old, field: "requested", old: old, new: new, kind: .rekeyed)]
        }
        return RekeyRequest(entity: entity, old: old, new: new, by: actor)
    }

    /// The pairs administrators made that no run has carried over yet.
    public func rekeyRequests() throws -> [RekeyRequest] {
        var out: [RekeyRequest] = []
        try database.forEachRow("SELECT entity, old_id, new_id, requested_by FROM rekey_requests ORDER BY entity, old_id") { r in
            if let kind = EntityKind(rawValue: r.text(0)) { out.append(RekeyRequest(entity: kind, old: r.text(1), new: r.text(2), by: r.text(3))) }
        }
        return out
    }
}
