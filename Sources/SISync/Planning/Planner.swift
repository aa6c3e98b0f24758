import Foundation

/// Compares an export with the stored state and says what must change (R4). Pure: it
/// reads the stored state through `StoredEntityState` and returns a `Plan` value.
public struct Planner {
    /// Changed records whose stored values are read in one query (bounded, so that a run
    /// where every record changed does not hold the whole table's old values at once), once
    /// the scan of the stored records is done.
    static let fieldBatch = 10_000
    public let deactivateAfter: TimeInterval
    public let now: Date
    /// Inside a `hold_deactivations` window (its last day): absent records are marked
    /// missing and none is deactivated for being absent; `status = inactive` still is.
    public let heldUntil: String?
    /// Exports of at least this many rows are matched to the stored records on a second
    /// thread while the store is read (`StoredRecordFeed`); smaller ones, where a thread
    /// costs more than it saves, on the calling thread. Tests lower it.
    var matchedAlongsideFrom = 10_000

    public init(deactivateAfter: TimeInterval, now: Date, heldUntil: String? = nil) {
        self.deactivateAfter = deactivateAfter
        self.now = now
        self.heldUntil = heldUntil
    }

    /// Plans a run whose export did not change (R3): only records already missing can
    /// reach `deactivate_after`.
    public func planUnchanged(kinds: [EntityKind], stored: (EntityKind) throws -> StoredEntityState) throws -> Plan {
        var plans: [EntityPlan] = []
        for kind in kinds {
            let state = try stored(kind)
            var updates: [RecordUpdate] = []
            try state.forEachMissingRecord { s in
                if heldUntil == nil, let since = s.missingSince, now.timeIntervalSince(since) >= deactivateAfter {
                    var u = RecordUpdate(key: s.key, row: nil)
                    u.deactivate = .absent
                    u.clearMissing = true
                    u.missingSince = since
                    updates.append(u)
                }
            }
            // The guard's base is counted only when something would be deactivated.
            var plan = EntityPlan(kind: kind, activeBefore: updates.isEmpty ? 0 : try state.activeCount(), exportEmpty: false)
            plan.updates = updates
            plans.append(plan)
        }
        return Plan(entities: plans, snapshot: nil, plannedAt: now)
    }

    /// `inScope` (with `[source] schools`) says which rows are in scope: a record whose row
    /// is not counts as absent, and no such row is added.
    public func plan(rows: EntityRows, stored: StoredEntityState, inScope: [Bool]? = nil) throws -> EntityPlan {
        let kind = rows.kind
        // The scan comes in key order, the rows' order: they are walked beside it, on a
        // second thread for a large export (`StoredRecordFeed`).
        var draft = EntityPlanDraft(planner: self, rows: rows, inScope: inScope)
        if rows.count >= matchedAlongsideFrom {
            // Moved, not copied: the matching thread then writes the draft's arrays in place.
            draft = try StoredRecordFeed.match(stored, into: consume draft)
        } else {
            try stored.forEachRecord { try draft.take($0) }
        }
        // Changed fingerprints: their fields are compared with the stored values of many
        // records read at once. Read once the whole scan is matched: a store error in this
        // read is met after every record of the scan that cannot be matched, even one that
        // comes after the first `fieldBatch` changed records (the planner before issue 34
        // read the values every `fieldBatch` changed records during the scan, so such a
        // store error was its error, and the later record was never matched).
        let columns = kind.valueColumns
        var compared = 0
        while compared < draft.changed.count {
            let batch = draft.changed[compared..<min(compared + Self.fieldBatch, draft.changed.count)]
            let old = try stored.values(forKeys: batch.map { draft.updates[$0].key })
            for i in batch {
                guard let r = draft.updates[i].row else { continue }
                let stored = old[draft.updates[i].key] ?? Array(repeating: "", count: columns.count)
                var fields: [FieldChange] = []
                for c in 0..<columns.count {
                    let new = rows.value(r, c)
                    if stored[c] != new { fields.append(FieldChange(column: c, name: columns[c], old: stored[c], new: new)) }
                }
                draft.setFields(i, fields)
            }
            compared += batch.count
        }
        var updates = draft.updates
        // A changed fingerprint whose values compare equal (and nothing else to do) is no update.
        if compared > 0 { updates.removeAll { $0.fields.isEmpty && !$0.reactivate && $0.deactivate == nil && !$0.clearMissing && $0.markMissing == nil } }
        var plan = EntityPlan(kind: kind, activeBefore: draft.activeBefore, exportEmpty: rows.count == 0 && rows.problemCount == 0 && !rows.isDelta)
        plan.updates = updates
        for r in 0..<rows.count where !draft.seen[r] && (inScope?[r] ?? true) { plan.additions.append(Int32(r)) }
        return plan
    }
}
