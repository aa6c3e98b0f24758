import Foundation

/// One entity's plan while the scan of its mirror table goes on (R4): each stored record
/// matched to its export row, in the scan's order, and what that record needs. The field by
/// field comparison of records whose fingerprint changed waits for the end of the scan
/// (`Planner.plan`), so a draft needs nothing from the store and can be built on a thread
/// other than the one that reads the store (`StoredRecordFeed`).
struct EntityPlanDraft {
    let planner: Planner
    let rows: EntityRows
    /// `Planner.plan`'s `inScope`.
    let inScope: [Bool]?
    private var matcher: RowMatcher
    private(set) var updates: [RecordUpdate] = []
    private(set) var activeBefore = 0
    /// Rows a stored record was matched to: the others are additions.
    private(set) var seen: [Bool]
    /// Positions in `updates` of records whose fingerprint changed: their fields are
    /// compared once the scan is done.
    private(set) var changed: [Int] = []

    init(planner: Planner, rows: EntityRows, inScope: [Bool]?) {
        self.planner = planner
        self.rows = rows
        self.inScope = inScope
        matcher = RowMatcher(rows: rows)
        seen = [Bool](repeating: false, count: rows.count)
    }

    /// Takes the next stored record of the scan.
    mutating func take(_ s: StoredRecordView) throws {
        if s.active { activeBefore += 1 }
        let match = try matcher.match(s.keyBytes)
        let row = match?.row
        if let match, inScope?[match.row] ?? true {
            let r = match.row
            seen[r] = true
            let wantActive = !match.inactive
            let fingerprintChanged = s.fingerprint != match.fingerprint
            guard fingerprintChanged || wantActive != s.active || s.missingSince != nil else { return }
            var u = RecordUpdate(key: s.key, row: r)
            if wantActive && !s.active { u.reactivate = true }
            if !wantActive && s.active { u.deactivate = .statusInactive }
            if s.missingSince != nil { u.clearMissing = true; u.missingSince = s.missingSince }
            if fingerprintChanged {
                changed.append(updates.count)
                updates.append(u)
            } else if u.reactivate || u.deactivate != nil || u.clearMissing {
                updates.append(u)
            }
        } else if rows.isProtected(keyBytes: s.keyBytes) {
            // A skipped row (R2): its record stays exactly as it is.
        } else if s.active && (!rows.isDelta || row != nil) {
            // (Absent from a full export, or listed out of `[source] schools` even by a delta.)
            var u = RecordUpdate(key: s.key, row: nil)
            if planner.heldUntil != nil {
                // Summer hold: missing since the first run that misses it, and no more.
                guard s.missingSince == nil else { return }
                u.markMissing = planner.now
            } else if planner.deactivateAfter <= 0 {
                u.deactivate = .absent
                u.clearMissing = s.missingSince != nil
                u.missingSince = s.missingSince
            } else if let since = s.missingSince {
                guard planner.now.timeIntervalSince(since) >= planner.deactivateAfter else { return }
                u.deactivate = .absent
                u.clearMissing = true
                u.missingSince = since
            } else {
                u.markMissing = planner.now
            }
            updates.append(u)
        }
    }

    /// The field changes of update `i`, against its record's stored values.
    mutating func setFields(_ i: Int, _ fields: [FieldChange]) { updates[i].fields = fields }
}
