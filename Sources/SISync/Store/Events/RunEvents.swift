import Foundation

/// The events of a run's apply (docs/events.md), written from the plan the run applies and
/// the export rows it came from, beside the change log's entries of the same plan: an
/// addition's event carries the record as it was inserted, an update's the record after it
/// with the old values of what changed.
enum RunEvents {
    /// `ENTITY.added` in blocks of `EventBatch.blockSize` records in key order (read back from the
    /// records: `EventStore`), then per updated record `reactivated`, `updated`,
    /// `deactivated`, in the order `Plan.forEachChange` gives the change log.
    /// `ordered`: the additions in key order, as the mirror inserted them.
    static func records(_ p: EntityPlan, rows: EntityRows?, ordered keyOrder: RowNumbers? = nil, into batch: EventBatch) throws {
        guard batch.isOn, !p.isEmpty else { return }
        let kind = p.kind
        let keys = kind.keyColumns, values = kind.valueColumns
        let added = EventTypes.record(kind, "added"), updated = EventTypes.record(kind, "updated")
        let deactivated = EventTypes.record(kind, "deactivated"), reactivated = EventTypes.record(kind, "reactivated")
        func record(_ row: Int, _ rows: EntityRows, into json: inout CompactJSON) {
            rows.withRow(row) { r in for c in 0..<values.count { json.string(values[c], utf8: r.value(c)) } }
        }
        try batch.write { sink in
            if let rows, !p.additions.isEmpty {
                // Key order is the order SQL sorts the key columns in (`KeyOrder`), which a
                // block is read back in.
                let ordered = keyOrder ?? MirrorStore.inKeyOrder(p.additions, rows)
                for first in stride(from: 0, to: ordered.count, by: EventBatch.blockSize) {
                    rows.withKeyBytes(Int(ordered[first])) { buf in
                        var start = 0, column = 0
                        for i in 0...buf.count where i == buf.count || buf[i] == 0x1F {
                            sink.subject.string(keys[column], utf8: UnsafeBufferPointer(rebasing: buf[start..<i]))
                            start = i + 1
                            column += 1
                        }
                    }
                    try sink.addBlock(added, span: min(EventBatch.blockSize, ordered.count - first))
                }
            }
            for u in p.updates {
                let parts = keys.count == 1 ? [u.key] : RecordKey.parts(u.key)
                func subject() { for (k, v) in zip(keys, parts) { sink.subject.string(k, v) } }
                /// The record after the run: every field when the export lists it, else the changed ones.
                func after() {
                    sink.data.open("record")
                    if let rows, let row = u.row { record(row, rows, into: &sink.data) } else {
                        for f in u.fields { sink.data.string(f.name, f.new) }
                    }
                    sink.data.close()
                }
                if u.reactivate {
                    subject(); after()
                    try sink.add(reactivated)
                }
                if !u.fields.isEmpty || u.markMissing != nil || u.clearMissing {
                    subject(); after()
                    sink.data.open("old")
                    for f in u.fields { sink.data.string(f.name, f.old) }
                    sink.data.close()
                    if let when = u.markMissing { sink.data.string("missing_since", Timestamp.format(when)) }
                    if u.clearMissing { sink.data.string("missing_since", nil) }
                    try sink.add(updated)
                }
                if let reason = u.deactivate {
                    subject()
                    sink.data.string("reason", reason.rawValue)
                    try sink.add(deactivated)
                }
            }
        }
    }

    /// `link.created`, `link.removed` (with the reason) and `user.unapproved` of the links a
    /// run planned (R6); an ambiguous email changes nothing and has no event.
    static func links(_ plan: LinkPlan, into batch: EventBatch) throws {
        guard batch.isOn, plan.changes.contains(where: { if case .ambiguous = $0 { return false }; return true }) else { return }
        var subject: [UInt8] = []
        try batch.write { sink in
            for c in plan.changes {
                switch c {
                case .link(var user, var staff, nil):
                    // The subject written straight, the data one object for all (a first
                    // linking run makes thousands): the bytes `CompactJSON` makes (tested).
                    subject.removeAll(keepingCapacity: true)
                    subject += Self.linkSubjectStart
                    user.withUTF8 { CompactJSON.quote($0, into: &subject) }
                    subject += Self.linkSubjectStaff
                    staff.withUTF8 { CompactJSON.quote($0, into: &subject) }
                    subject.append(UInt8(ascii: "}"))
                    try subject.withUnsafeBufferPointer { s in try Self.newLinkData.withUnsafeBufferPointer { try sink.add("link.created", subject: s, data: $0) } }
                case .link(let user, let staff, let previous):
                    sink.subject.string("username", user); sink.subject.string("staff_id", staff)
                    sink.data.string("kind", LinkKind.auto.rawValue); sink.data.string("reason", "email match")
                    sink.data.string("previous_staff_id", previous)
                    try sink.add("link.created")
                case .unlink(let user, let staff, let kind, let why):
                    sink.subject.string("username", user); sink.subject.string("staff_id", staff)
                    sink.data.string("kind", kind.rawValue); sink.data.string("reason", c.unlinkReason ?? "")
                    sink.data.string("detail", why)
                    try sink.add("link.removed")
                case .unapprove(let user, let staff):
                    sink.subject.string("username", user)
                    sink.data.string("reason", "staff deactivated"); sink.data.string("staff_id", staff)
                    try sink.add("user.unapproved")
                case .ambiguous:
                    break
                }
            }
        }
    }

    private static let linkSubjectStart = Array(#"{"username":"#.utf8), linkSubjectStaff = Array(#","staff_id":"#.utf8)
    /// A new link's data when it replaces no other link.
    private static let newLinkData: [UInt8] = {
        var data = CompactJSON()
        data.string("kind", LinkKind.auto.rawValue); data.string("reason", "email match")
        data.string("previous_staff_id", nil)
        return data.finish()
    }()

    /// `run.applied`, the last event of an applied run: what it changed, in counts.
    static func applied(_ summary: RunSummary, into batch: EventBatch) throws {
        try batch.write { sink in
            sink.subject.int("run_id", summary.runID)
            sink.data.string("trigger", summary.trigger.rawValue)
            sink.data.open("records")
            for k in EntityKind.allCases {
                guard let c = summary.entities[k.rawValue], c.total > 0 else { continue }
                sink.data.open(k.rawValue)
                sink.data.int("added", Int64(c.added)); sink.data.int("updated", Int64(c.updated))
                sink.data.int("deactivated", Int64(c.deactivated)); sink.data.int("reactivated", Int64(c.reactivated))
                sink.data.close()
            }
            sink.data.close()
            sink.data.open("links")
            sink.data.int("made", Int64(summary.linksMade)); sink.data.int("removed", Int64(summary.linksRemoved))
            sink.data.close()
            sink.data.open("roles")
            sink.data.int("granted", Int64(summary.rolesGranted)); sink.data.int("revoked", Int64(summary.rolesRevoked))
            sink.data.close()
            if let approves = summary.approves { sink.data.int("approves", approves) }
            if let reverts = summary.reverts { sink.data.int("reverts", reverts) }
            try sink.add(summary.reverts == nil ? "run.applied" : "run.reverted")
        }
    }

    /// `run.failed` or `run.held`: the run's record and why, as the record phase stores it.
    static func ended(_ summary: RunSummary, type: String, into batch: EventBatch) throws {
        try batch.write { sink in
            sink.subject.int("run_id", summary.runID)
            sink.data.string("trigger", summary.trigger.rawValue)
            sink.data.string("error", summary.error)
            try sink.add(type)
        }
    }
}
