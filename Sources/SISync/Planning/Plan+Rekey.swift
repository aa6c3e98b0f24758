import Foundation

/// Laying the rekey pairs over a plan (issue 33): a pair's old record is no longer
/// deactivated and its new row no longer added; instead the old record, renamed to the new
/// id in the apply transaction, gets an update with the fields that differ. Relationships
/// and attributes of records carried over are renamed with them. Pure.
extension Plan {
    public func carryingOver(_ pairs: [Rekey]) -> Plan {
        guard !pairs.isEmpty else { return self }
        var plan = self
        let following = KeyFollowing(pairs)
        // Each entity's pairs as indexes into `pairs`: a whole district's pairs are not
        // copied per entity, nor into the dictionaries that find them.
        var mineOf: [String: [Int]] = [:]
        for (i, pair) in pairs.enumerated() { mineOf[pair.entity, default: []].append(i) }
        plan.entities = entities.map { p in
            let mine = mineOf[p.kind.rawValue] ?? []
            let follows = p.kind == .householdRelationships || p.kind == .attributes
            guard !mine.isEmpty || (follows && !following.isEmpty) else { return p }
            var byOld: [String: Int] = [:], byNew: [String: Int] = [:]
            byOld.reserveCapacity(mine.count)
            byNew.reserveCapacity(mine.count)
            for i in mine {
                if byOld[pairs[i].old] == nil { byOld[pairs[i].old] = i }
                if byNew[pairs[i].new] == nil { byNew[pairs[i].new] = i }
            }
            var leaving: [String: Date] = [:]
            var out = EntityPlan(kind: p.kind, activeBefore: p.activeBefore, exportEmpty: p.exportEmpty)
            out.updates.reserveCapacity(p.updates.count)
            for u in p.updates {
                if byOld[u.key] != nil {
                    if let since = u.missingSince { leaving[u.key] = since }
                    continue
                }
                let key = follows ? following.renamed(p.kind, u.key) : u.key
                out.updates.append(key == u.key ? u : u.rekeyed(to: key))
            }
            let rows = snapshot?.entities[p.kind]
            for r in p.additions {
                guard let rows, let i = byNew[rows.key(Int(r))] else { out.additions.append(r); continue }
                let pair = pairs[i]
                var u = RecordUpdate(key: pair.new, row: Int(r))
                u.fields = pair.fields.map { FieldChange(column: $0.column, name: $0.name, old: $0.old, new: $0.new) }
                u.reactivate = pair.reactivate
                // A record missing before it left keeps no *missing since* under its new id.
                if let since = leaving[pair.old] {
                    u.clearMissing = true
                    u.missingSince = since
                }
                if !u.fields.isEmpty || u.reactivate || u.clearMissing { out.updates.append(u) }
            }
            return out
        }
        plan.carriedOver = pairs
        plan.withoutRekeys = (entities, links)
        return plan
    }
}

extension Plan {
    /// Old staff id → new, of the staff this plan carries over.
    public var staffRenames: [String: String] {
        Dictionary(carriedOver.filter { $0.entity == EntityKind.staff.rawValue }.map { ($0.old, $0.new) }, uniquingKeysWith: { a, _ in a })
    }
}

extension RecordUpdate {
    /// The same update of a record whose key the run renames first.
    func rekeyed(to key: String) -> RecordUpdate {
        var u = RecordUpdate(key: key, row: row)
        u.fields = fields
        u.reactivate = reactivate
        u.deactivate = deactivate
        u.markMissing = markMissing
        u.clearMissing = clearMissing
        u.missingSince = missingSince
        return u
    }
}
