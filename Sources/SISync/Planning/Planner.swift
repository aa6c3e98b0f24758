import Foundation

/// Compares an export with the stored state and says what must change (R4). Pure: it
/// reads the stored state through `StoredEntityState` and returns a `Plan` value.
public struct Planner {
    /// Changed records whose stored values are read in one query (bounded, so that a run
    /// where every record changed does not hold the whole table's old values at once).
    static let fieldBatch = 10_000
    public let deactivateAfter: TimeInterval
    public let now: Date
    /// Inside a `hold_deactivations` window (its last day): absent records are marked
    /// missing and none is deactivated for being absent; `status = inactive` still is.
    public let heldUntil: String?

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
        var updates: [RecordUpdate] = []
        var activeBefore = 0
        var seen = [Bool](repeating: false, count: rows.count)
        let columns = kind.valueColumns
        var needsFields: [Int] = []
        var compared = 0
        func compareFields() throws {
            guard !needsFields.isEmpty else { return }
            let old = try stored.values(forKeys: needsFields.map { updates[$0].key })
            for i in needsFields {
                guard let r = updates[i].row else { continue }
                let stored = old[updates[i].key] ?? Array(repeating: "", count: columns.count)
                for c in 0..<columns.count {
                    let new = rows.value(r, c)
                    if stored[c] != new { updates[i].fields.append(FieldChange(column: c, name: columns[c], old: stored[c], new: new)) }
                }
            }
            compared += needsFields.count
            needsFields.removeAll(keepingCapacity: true)
        }
        // The scan comes in key order, the rows' order: they are walked beside it.
        var matcher = RowMatcher(rows: rows)
        try stored.forEachRecord { s in
            if s.active { activeBefore += 1 }
            let match = try matcher.match(s.keyBytes)
            let row = match?.row
            if let match, inScope?[match.row] ?? true {
                let r = match.row
                seen[r] = true
                let wantActive = !match.inactive
                let changed = s.fingerprint != match.fingerprint
                guard changed || wantActive != s.active || s.missingSince != nil else { return }
                var u = RecordUpdate(key: s.key, row: r)
                if wantActive && !s.active { u.reactivate = true }
                if !wantActive && s.active { u.deactivate = .statusInactive }
                if s.missingSince != nil { u.clearMissing = true; u.missingSince = s.missingSince }
                if changed {
                    // Its fields are compared below, with the stored values of many records
                    // read at once.
                    needsFields.append(updates.count)
                    updates.append(u)
                    if needsFields.count >= Self.fieldBatch { try compareFields() }
                } else if u.reactivate || u.deactivate != nil || u.clearMissing {
                    updates.append(u)
                }
            } else if rows.isProtected(keyBytes: s.keyBytes) {
                // A skipped row (R2): its record stays exactly as it is.
            } else if s.active && (!rows.isDelta || row != nil) {
                // (Absent from a full export, or listed out of `[source] schools` even by a delta.)
                var u = RecordUpdate(key: s.key, row: nil)
                if heldUntil != nil {
                    // Summer hold: missing since the first run that misses it, and no more.
                    guard s.missingSince == nil else { return }
                    u.markMissing = now
                } else if deactivateAfter <= 0 {
                    u.deactivate = .absent
                    u.clearMissing = s.missingSince != nil
                    u.missingSince = s.missingSince
                } else if let since = s.missingSince {
                    guard now.timeIntervalSince(since) >= deactivateAfter else { return }
                    u.deactivate = .absent
                    u.clearMissing = true
                    u.missingSince = since
                } else {
                    u.markMissing = now
                }
                updates.append(u)
            }
        }
        try compareFields()
        // A changed fingerprint whose values compare equal (and nothing else to do) is no update.
        if compared > 0 { updates.removeAll { $0.fields.isEmpty && !$0.reactivate && $0.deactivate == nil && !$0.clearMissing && $0.markMissing == nil } }
        var plan = EntityPlan(kind: kind, activeBefore: activeBefore, exportEmpty: rows.count == 0 && rows.problems.isEmpty && !rows.isDelta)
        plan.updates = updates
        for r in 0..<rows.count where !seen[r] && (inScope?[r] ?? true) { plan.additions.append(Int32(r)) }
        return plan
    }
}
