/// Laying the rekey pairs over a plan (issue 33): a pair's old record is no longer
/// deactivated and its new row no longer added; instead the old record, renamed to the new
/// id in the apply transaction, gets an update with the fields that differ. Relationships
/// and attributes of records carried over are renamed with them. Pure.
extension Plan {
    public func carryingOver(_ pairs: [Rekey]) -> Plan {
        guard !pairs.isEmpty else { return self }
        var plan = self
        let following = KeyFollowing(pairs)
        plan.entities = entities.map { p in
            let entity = p.kind.rawValue
            let mine = pairs.filter { $0.entity == entity }
            let follows = p.kind == .householdRelationships || p.kind == .attributes
            guard !mine.isEmpty || (follows && !following.isEmpty) else { return p }
            let byOld = Dictionary(mine.map { ($0.old, $0) }, uniquingKeysWith: { a, _ in a })
            let byNew = Dictionary(mine.map { ($0.new, $0) }, uniquingKeysWith: { a, _ in a })
            var leaving: [String: RecordUpdate] = [:]
            var out = EntityPlan(kind: p.kind, activeBefore: p.activeBefore, exportEmpty: p.exportEmpty)
            for u in p.updates {
                if byOld[u.key] != nil { leaving[u.key] = u; continue }
                let key = follows ? following.renamed(p.kind, u.key) : u.key
                out.updates.append(key == u.key ? u : u.rekeyed(to: key))
            }
            let rows = snapshot?.entities[p.kind]
            for r in p.additions {
                guard let rows, let pair = byNew[rows.key(Int(r))] else { out.additions.append(r); continue }
                var u = RecordUpdate(key: pair.new, row: Int(r))
                u.fields = pair.fields.map { FieldChange(column: $0.column, name: $0.name, old: $0.old, new: $0.new) }
                u.reactivate = pair.reactivate
                // A record missing before it left keeps no *missing since* under its new id.
                if let since = leaving[pair.old]?.missingSince {
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

extension Dictionary where Key == String {
    /// The entries under the keys `renames` gives them (an entry without one keeps its key).
    func renaming(_ renames: [String: String]) -> Self {
        guard !renames.isEmpty else { return self }
        var out = self
        for (old, new) in renames {
            if let v = out.removeValue(forKey: old) { out[new] = v }
        }
        return out
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
