import Foundation

/// A held run's plan as the store keeps it, so that `sisyncctl run approve` applies exactly
/// what the administrator reviewed (`run show`), not a new plan of whatever the SIS exports
/// by then. It carries the export rows the plan writes (additions, and updates that change
/// fields), not the whole export: a mass deactivation keeps a key per record.
public struct HeldPlan: Codable, Sendable, Equatable {
    struct Row: Codable, Sendable, Equatable {
        var key: String
        var values: [String]
        var inactive: Bool
    }

    struct Field: Codable, Sendable, Equatable {
        var column: Int
        var name: String
        var old: String
        var new: String
    }

    struct Update: Codable, Sendable, Equatable {
        var key: String
        /// The export row's values, when the update writes fields.
        var row: Row?
        var fields: [Field]
        var reactivate: Bool
        var deactivate: String?
        var markMissing: String?
        var clearMissing: Bool
        var missingSince: String?
    }

    struct Entity: Codable, Sendable, Equatable {
        var kind: String
        var source: String
        var activeBefore: Int
        var exportEmpty: Bool
        var additions: [Row]
        var updates: [Update]
    }

    /// One link change; `action` is `link`, `unlink`, `ambiguous` or `unapprove`.
    struct LinkEntry: Codable, Sendable, Equatable {
        var action: String
        var username: String
        var staffID: String?
        var previous: String?
        var kind: String?
        var why: String?
        var email: String?
        var staffIDs: [String]?
    }

    struct Role: Codable, Sendable, Equatable {
        var username: String
        var role: String
        var schoolYear: String
    }

    var entities: [Entity]
    var links: [LinkEntry]
    var emailKeys: [String: String]
    var emailKeyBasis: String?
    /// The calculated roles the run would have granted and revoked (the first
    /// `RolePlan.listed` of each, and the counts): shown by `run show`; an approval
    /// recomputes them on what it writes (R7).
    var rolesGranted: [Role]
    var rolesRevoked: [Role]
    var rolesGrantedCount: Int
    var rolesRevokedCount: Int
    var fileHashes: [String: String]
    var unchangedFiles: [String]
    var validators: [String: [String?]]
    var contentHash: String?
    var plannedAt: String
    /// The records the plan carries over to new ids (issue 33); `entities` and `links` are
    /// then the plan without them (`run approve --without-rekeys`), and `rekeyLinks` the
    /// links with them. Absent in plans kept before issue 33.
    var rekeys: [Rekey]?
    var ambiguousRekeys: [AmbiguousRekey]?
    var rekeyLinks: [LinkEntry]?

    /// What was planned, in the form the store keeps.
    public init(_ plan: Plan) {
        let planned = plan.withoutRekeys?.entities ?? plan.entities
        entities = planned.map { p in
            let rows = plan.snapshot?.entities[p.kind]
            func row(_ r: Int) -> Row? {
                guard let rows else { return nil }
                return Row(key: rows.key(r), values: rows.values(r), inactive: rows.isInactive(r))
            }
            return Entity(kind: p.kind.rawValue, source: rows.map { DisplayedURL($0.source).description } ?? p.kind.rawValue, activeBefore: p.activeBefore, exportEmpty: p.exportEmpty,
                          additions: p.additions.compactMap { row(Int($0)) },
                          updates: p.updates.map { u in
                              Update(key: u.key, row: u.fields.isEmpty ? nil : u.row.flatMap(row),
                                     fields: u.fields.map { Field(column: $0.column, name: $0.name, old: $0.old, new: $0.new) },
                                     reactivate: u.reactivate, deactivate: u.deactivate?.rawValue, markMissing: u.markMissing.map(Timestamp.format),
                                     clearMissing: u.clearMissing, missingSince: u.missingSince.map(Timestamp.format))
                          })
        }
        links = (plan.withoutRekeys?.links ?? plan.links).changes.map(Self.entry)
        if !plan.rekeys.isEmpty || !plan.carriedOver.isEmpty {
            rekeys = plan.carriedOver
            ambiguousRekeys = plan.rekeys.ambiguous
            rekeyLinks = plan.links.changes.map(Self.entry)
        }
        emailKeys = plan.links.emailKeys
        emailKeyBasis = plan.links.emailKeyBasis
        rolesGranted = plan.roles.granted.map { Role(username: $0.username, role: $0.role, schoolYear: $0.schoolYear) }
        rolesRevoked = plan.roles.revoked.map { Role(username: $0.username, role: $0.role, schoolYear: $0.schoolYear) }
        rolesGrantedCount = plan.roles.grantedCount
        rolesRevokedCount = plan.roles.revokedCount
        fileHashes = Dictionary(uniqueKeysWithValues: plan.fileHashes.map { ($0.key.rawValue, $0.value) })
        unchangedFiles = plan.unchangedFiles.map(\.rawValue)
        validators = plan.sourceValidators.mapValues { [$0.etag, $0.lastModified, $0.sha256] }
        contentHash = plan.snapshot?.contentHash
        plannedAt = Timestamp.format(plan.plannedAt)
    }

    private static func entry(_ c: LinkChange) -> LinkEntry {
        switch c {
        case .link(let user, let staff, let previous):
            return LinkEntry(action: "link", username: user, staffID: staff, previous: previous)
        case .unlink(let user, let staff, let kind, let why):
            return LinkEntry(action: "unlink", username: user, staffID: staff, kind: kind.rawValue, why: why)
        case .ambiguous(let user, let email, let staff):
            return LinkEntry(action: "ambiguous", username: user, email: email, staffIDs: staff)
        case .unapprove(let user, let staff):
            return LinkEntry(action: "unapprove", username: user, staffID: staff)
        }
    }

    /// The plan again, with the rows it writes as its export snapshot; with the records it
    /// carries over to new ids unless `withoutRekeys` (issue 33).
    public func plan(withoutRekeys: Bool = false) throws -> Plan {
        var plan = try plainPlan()
        let proposal = RekeyProposal(pairs: rekeys ?? [], ambiguous: ambiguousRekeys ?? [])
        guard !withoutRekeys, !proposal.isEmpty else { return plan }
        if !proposal.pairs.isEmpty {
            let plain = plan.links
            plan = plan.carryingOver(proposal.pairs)
            plan.links.changes = try (rekeyLinks ?? []).map(Self.change)
            plan.withoutRekeys?.links = plain
        }
        plan.rekeys = proposal
        return plan
    }

    private func plainPlan() throws -> Plan {
        var snapshotRows: [EntityKind: EntityRows] = [:]
        var planned: [EntityPlan] = []
        for e in entities {
            guard let kind = EntityKind(rawValue: e.kind) else { throw HeldPlanError.unknownEntity(e.kind) }
            var rows = EntityRows(kind: kind, source: e.source)
            // The rows first (each key once), then their numbers: rows are numbered in key
            // order once all are in.
            var listed = Set<String>()
            for r in e.additions + e.updates.compactMap(\.row) {
                guard r.values.count == rows.valueCount else { throw HeldPlanError.wrongColumns(entity: e.kind, key: r.key) }
                guard listed.insert(r.key).inserted else { continue }
                try rows.append(key: r.key, values: r.values.map { Array($0.utf8)[...] }, inactive: r.inactive, location: listed.count)
            }
            func row(_ r: Row) -> Int32 { Int32(rows.row(forKey: r.key)!) }
            var p = EntityPlan(kind: kind, activeBefore: e.activeBefore, exportEmpty: e.exportEmpty)
            p.additions = RowNumbers(e.additions.map(row))
            p.updates = try e.updates.map { u in
                var update = RecordUpdate(key: u.key, row: u.row.map { Int(row($0)) })
                update.fields = u.fields.map { FieldChange(column: $0.column, name: $0.name, old: $0.old, new: $0.new) }
                update.reactivate = u.reactivate
                if let d = u.deactivate {
                    guard let reason = DeactivationReason(rawValue: d) else { throw HeldPlanError.unknownValue(d) }
                    update.deactivate = reason
                }
                update.markMissing = try u.markMissing.map(Self.date)
                update.clearMissing = u.clearMissing
                update.missingSince = try u.missingSince.map(Self.date)
                return update
            }
            planned.append(p)
            snapshotRows[kind] = rows
        }
        var plan = Plan(entities: planned, snapshot: contentHash.map { ExportSnapshot(entities: snapshotRows, contentHash: $0) },
                        plannedAt: try Self.date(plannedAt))
        plan.links.changes = try links.map(Self.change)
        plan.links.emailKeys = emailKeys
        plan.links.emailKeyBasis = emailKeyBasis
        plan.roles = RolePlan(granted: rolesGranted.map { CalculatedRole(username: $0.username, role: $0.role, schoolYear: $0.schoolYear) },
                              revoked: rolesRevoked.map { CalculatedRole(username: $0.username, role: $0.role, schoolYear: $0.schoolYear) })
        plan.roles.grantedCount = rolesGrantedCount
        plan.roles.revokedCount = rolesRevokedCount
        for (k, h) in fileHashes {
            guard let kind = EntityKind(rawValue: k) else { throw HeldPlanError.unknownEntity(k) }
            plan.fileHashes[kind] = h
        }
        plan.unchangedFiles = try unchangedFiles.map { k in
            guard let kind = EntityKind(rawValue: k) else { throw HeldPlanError.unknownEntity(k) }
            return kind
        }
        // A plan held by an earlier version keeps its validators under the URL itself.
        for (key, v) in validators where v.count == 3 {
            guard let sha = v[2] else { continue }
            plan.sourceValidators[key.hasPrefix(SourceStateKey.prefix) ? key : SourceStateKey.of(key)] = SourceValidator(etag: v[0], lastModified: v[1], sha256: sha)
        }
        return plan
    }

    private static func change(_ l: LinkEntry) throws -> LinkChange {
        switch (l.action, l.staffID) {
        case ("link", let staff?): return .link(username: l.username, staffID: staff, previous: l.previous)
        case ("unlink", let staff?):
            guard let kind = l.kind.flatMap(LinkKind.init(rawValue:)) else { throw HeldPlanError.unknownValue(l.kind ?? "") }
            return .unlink(username: l.username, staffID: staff, kind: kind, why: l.why ?? "")
        case ("ambiguous", _): return .ambiguous(username: l.username, email: l.email ?? "", staffIDs: l.staffIDs ?? [])
        case ("unapprove", let staff?): return .unapprove(username: l.username, staffID: staff)
        default: throw HeldPlanError.unknownValue(l.action)
        }
    }

    /// The JSON text the store keeps.
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ text: String) throws -> HeldPlan {
        do { return try JSONDecoder().decode(HeldPlan.self, from: Data(text.utf8)) } catch {
            throw HeldPlanError.unreadable("\(error)")
        }
    }

    private static func date(_ text: String) throws -> Date {
        guard let d = Timestamp.parse(text) else { throw HeldPlanError.unknownValue(text) }
        return d
    }
}

/// A kept plan this sisync cannot read back (written by another version, or damaged).
public enum HeldPlanError: Error, CustomStringConvertible, Equatable {
    case unknownEntity(String)
    case unknownValue(String)
    case wrongColumns(entity: String, key: String)
    case unreadable(String)

    public var description: String {
        let fix = "; discard the hold (`sisyncctl run discard ID`) and run `sisyncctl sync` again"
        switch self {
        case .unknownEntity(let e): return "the held plan names an unknown entity `\(e)`" + fix
        case .unknownValue(let v): return "the held plan holds a value this sisync does not know: `\(v)`" + fix
        case .wrongColumns(let e, let k): return "the held plan's \(e) row \(k) does not have the columns this sisync expects" + fix
        case .unreadable(let why): return "the held plan cannot be read: \(why)" + fix
        }
    }
}
