import Foundation

/// A JSON value with ordered object keys, so `--json` output lists fields in the order
/// docs/json.md documents them.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.rendered() == b.rendered() }

    public static func string(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    public static func int(_ n: Int) -> JSONValue { .int(Int64(n)) }

    public func rendered(pretty: Bool = true) -> String {
        var out = ""
        write(into: &out, indent: pretty ? 0 : nil)
        return out
    }

    private func write(into out: inout String, indent: Int?) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let n): out += String(n)
        case .string(let s): Self.escape(s, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: "  ", count: indent + 1) }
                item.write(into: &out, indent: indent.map { $0 + 1 })
            }
            if let indent { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: "  ", count: indent + 1) }
                Self.escape(key, into: &out)
                out += indent == nil ? ":" : ": "
                value.write(into: &out, indent: indent.map { $0 + 1 })
            }
            if let indent { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    private static func escape(_ s: String, into out: inout String) {
        // Most strings (names, ids, dates) need no escape: appended whole, not scalar by scalar.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        // Most strings need no escape: appended whole, not a scalar at a time (which was most
        // of the time of a SCIM response, CPU-bound under load).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += s
            out += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        out += "\""
    }
}

/// The JSON shapes of docs/json.md.
public enum JSONShapes {
    public static func counts(_ c: RecordCounts) -> JSONValue {
        .object([("added", .int(c.added)), ("updated", .int(c.updated)), ("deactivated", .int(c.deactivated)), ("reactivated", .int(c.reactivated))])
    }

    public static func runSummary(_ r: RunSummary) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("run_id", r.runID.map { .int($0) } ?? .null),
            ("started_at", .string(r.startedAt)),
            ("finished_at", .string(r.finishedAt)),
            ("outcome", .string(r.outcome.rawValue)),
            ("dry_run", .bool(r.dryRun)),
            ("error", .string(r.error)),
            ("staff", counts(r.staff)),
            ("links", .object([("made", .int(r.linksMade)), ("removed", .int(r.linksRemoved)), ("ambiguous", .int(r.linksAmbiguous))])),
            ("roles", .object([("granted", .int(r.rolesGranted)), ("revoked", .int(r.rolesRevoked))])),
            ("actor", .string(r.actor)),
            ("trigger", .string(r.trigger.rawValue)),
            ("records", .object(EntityKind.allCases.compactMap { k in r.entities[k.rawValue].map { (k.rawValue, counts($0)) } })),
            ("problems", .array(r.problems.map { .string($0) })),
        ]
        if let reverts = r.reverts { members.append(("reverts", .int(reverts))) }
        if let approves = r.approves { members.append(("approves", .int(approves))) }
        if let h = r.hold {
            // `held` says the guard held the run and kept its plan; `hold` says what became of it.
            members.append(("held", .bool(true)))
            members.append(("hold", .object([
                ("state", .string(h.state(at: Date()))), ("held_at", .string(h.heldAt)), ("expires_at", .string(h.expiresAt)),
                ("ended_at", .string(h.endedAt)), ("ended_by", .string(h.endedBy)), ("ended_by_run", h.endedRun.map { .int($0) } ?? .null),
            ])))
        }
        return .object(members)
    }

    public static func change(_ c: Change, runID: Int64? = nil, actor: String? = nil, at: String? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("entity", .string(c.entity)), ("id", .string(c.id)), ("field", .string(c.field)),
            ("old", .string(c.old)), ("new", .string(c.new)), ("kind", .string(c.kind.rawValue)),
        ]
        if let runID { members.append(("run_id", .int(runID))) }
        if let actor { members.append(("actor", .string(actor))) }
        if let at { members.append(("at", .string(at))) }
        return .object(members)
    }

    public static func storedChange(_ c: StoredChange) -> JSONValue {
        guard case .object(var m) = change(c.change, actor: c.actor, at: c.at) else { return .null }
        m.insert(("run_id", c.runID.map { .int($0) } ?? .null), at: 6)
        return .object(m)
    }

    public static func staff(_ s: StaffRecord) -> [(String, JSONValue)] {
        [
            ("staff_id", .string(s.staffID)), ("first_name", .string(s.firstName)), ("last_name", .string(s.lastName)),
            ("email", .string(s.email)), ("title", .string(s.title)), ("school_ids", .array(s.schoolIDs.map { .string($0) })),
            ("enabled", .bool(s.enabled)), ("active", .bool(s.active)), ("deactivated_at", .string(s.deactivatedAt)), ("missing_since", .string(s.missingSince)),
        ]
    }

    /// A user as `sisyncctl user show --json` shows it (docs/json.md), and `GET
    /// /v1/users/{username}` without `history` (administrators' reasons are not the
    /// applications').
    /// `reasons: false` leaves out the reason of a manual link, which is the administrator's.
    public static func user(_ p: UserProfile, history: [StoredChange]? = nil, reasons: Bool = true) -> JSONValue {
        let u = p.user
        func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
        var m: [(String, JSONValue)] = [
            ("username", .string(u.username)), ("email", .string(u.email)), ("name", .string(u.name)),
            ("approved", .bool(u.approved)), ("locked", .bool(u.locked)),
            ("link", u.link.map { l in .object([("staff_id", .string(l.staffID)), ("kind", .string(l.kind.rawValue))]
                                                + (reasons ? [("reason", .string(l.reason))] : []) + [("until", .string(l.until))]) } ?? .null),
            ("attachments", .object([("students", strings(p.attachments[.student] ?? [])),
                                     ("households", strings(p.attachments[.household] ?? [])),
                                     ("donors", strings(p.attachments[.donor] ?? []))])),
            ("roles", .object([("manual", strings(p.manualRoles)),
                               ("calculated", .array(p.calculatedRoles.map { r in
                                   .object([("name", .string(r.role)), ("school_year", r.schoolYear.isEmpty ? .null : .string(r.schoolYear))]) }))])),
            ("schools", strings(p.schools)), ("ledgers", strings(p.ledgers)),
            ("paired_students", strings(p.pairedStudents)),
            ("permission_roles", .array(p.permissionRoles.map { .object([("role", .string($0.role)), ("buildings", strings($0.buildings))]) })),
        ]
        if let history { m.append(("history", .array(history.map(JSONShapes.storedChange)))) }
        return .object(m)
    }

    /// `sisyncctl access-check --json` and `GET /v1/form-access`.
    public static func formAccess(_ c: FormAccessCheck) -> JSONValue {
        var m: [(String, JSONValue)] = [("username", .string(c.username)), ("form", .string(c.form)), ("building", .string(c.building)),
                                        ("default", .string(c.access.defaultLevel.description)), ("max", .string(c.access.maxLevel.description)),
                                        ("can_create", .bool(c.access.canCreate))]
        if let grant = c.grant, let g = c.access.grantedLevel { m.append(("grant", .string(grant.description))); m.append(("level", .string(g.description))) }
        return .object(m)
    }
}
