/// The events of change-log entries (docs/events.md): what an administrator's change
/// (`AuditTrail.administer`, from `sisyncctl` or the API) and a revert write, derived from
/// the same `Change` values the change log records, in the same transaction. A failed pairing
/// attempt is bookkeeping of the throttle and has none.
enum ChangeEvents {
    /// Who made the changes: an administrator's link is manual; a revert's restores.
    enum Origin { case administrator, revert }

    static func write(_ changes: [Change], origin: Origin, into sink: EventSink) throws {
        let removedUsers = Set(changes.filter { $0.entity == "users" && $0.kind == .deactivated && $0.field == nil }.map(\.id))
        for c in changes { try write(c, origin: origin, userRemoved: removedUsers.contains(c.id), into: sink) }
    }

    static func write(_ c: Change, origin: Origin, userRemoved: Bool = false, into sink: EventSink) throws {
        if c.entity == "users" {
            if let type = userEvent(c, origin: origin, userRemoved: userRemoved, into: sink) { try sink.add(type) } else { sink.discard() }
            return
        }
        if let kind = EntityKind(rawValue: c.entity) {
            let keys = kind.keyColumns
            let parts = keys.count == 1 ? [c.id] : c.id.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if parts.count == keys.count { for (k, v) in zip(keys, parts) { sink.subject.string(k, v) } } else { sink.subject.string("id", c.id) }
            switch c.kind {
            case .updated:
                if c.entity == "students", c.field == "access_code" {
                    // Never the code: only that one was made or replaced.
                    try sink.add(c.new == "reset" ? "access_code.reset" : "access_code.created")
                    return
                }
                let field = c.field ?? "value"
                sink.data.open("record"); sink.data.string(field, c.new); sink.data.close()
                sink.data.open("old"); sink.data.string(field, c.old); sink.data.close()
                try sink.add(EventTypes.record(kind, "updated"))
            case .deactivated:
                sink.data.string("reason", origin == .revert ? "reverted" : "administrator")
                try sink.add(EventTypes.record(kind, "deactivated"))
            case .reactivated:
                try sink.add(EventTypes.record(kind, "reactivated"))
            case .rekeyed:
                // `RekeyStore` writes `ENTITY.rekeyed` where the rename happens; a request
                // (`staff rekey`) is carried over, and told of, by the run that applies it.
                sink.discard()
            default:
                try sink.add(EventTypes.record(kind, c.kind == .added ? "added" : "updated"))
            }
            return
        }
        let type: String
        switch c.entity {
        case "forms": type = "form.changed"; sink.subject.string("form", c.id)
        case "roles": type = "permission_role.changed"; sink.subject.string("permission_role", c.id)
        case "api_clients": type = "api_client.changed"; sink.subject.string("client", c.id)
        case "manual_roles":
            // A manual role a SCIM provider keeps as a group: made, renamed, its externalId
            // set, removed. (Its members' grants are `role.granted`/`role.revoked`.)
            sink.subject.string("role", c.id)
            switch (c.kind, c.field) {
            case (.added, _): try sink.add("manual_role.created")
            case (.deactivated, _): try sink.add("manual_role.removed")
            case (_, "name"?): sink.data.string("old_name", c.old); try sink.add("manual_role.renamed")
            default: fieldChange(c, into: &sink.data); try sink.add("manual_role.changed")
            }
            return
        default: sink.discard(); return
        }
        fieldChange(c, into: &sink.data)
        try sink.add(type)
    }

    /// The event of a change to a user, its subject and data filled; nil for none.
    private static func userEvent(_ c: Change, origin: Origin, userRemoved: Bool, into sink: EventSink) -> String? {
        sink.subject.string("username", c.id)
        switch (c.kind, c.field) {
        case (.added, _):
            sink.data.string("email", c.new)
            return "user.added"
        case (.deactivated, nil):
            return "user.removed"
        case (.linked, _):
            // An administrator's link is manual ("S1 (manual: reason)"); its reason is the
            // administrator's own note and stays out, as the API's user shows it.
            let text = c.new ?? ""
            let manual = text.range(of: " (manual")
            sink.subject.string("staff_id", manual.map { String(text[..<$0.lowerBound]) } ?? text)
            sink.data.string("kind", manual != nil ? LinkKind.manual.rawValue : LinkKind.auto.rawValue)
            sink.data.string("reason", origin == .revert ? "reverted" : "administrator")
            sink.data.string("previous_staff_id", c.old)
            return "link.created"
        case (.unlinked, _):
            sink.subject.string("staff_id", c.old)
            sink.data.string("reason", origin == .revert ? "reverted" : userRemoved ? "user removed" : "administrator")
            return "link.removed"
        case (.roleGranted, _), (.roleRevoked, _):
            sink.data.string("role", c.new ?? c.old)
            sink.data.string("school_year", "")
            sink.data.string("source", "manual")
            return c.kind == .roleGranted ? "role.granted" : "role.revoked"
        case (_, "approved"?):
            return c.new == "true" ? "user.approved" : "user.unapproved"
        case (_, "locked"?):
            if c.new?.hasPrefix("true") == true {
                sink.data.string("reason", c.new == "true" ? "administrator" : c.new)
                return "user.locked"
            }
            return "user.unlocked"
        case (_, "paired_student"?):
            sink.subject.string("student_id", c.new ?? c.old)
            return c.new != nil ? "pairing.created" : "pairing.revoked"
        case (_, "pairing"?):
            return nil
        case (_, "username"?):
            // The subject is the new name; the events written before keep the old one.
            sink.data.string("old_username", c.old)
            return "user.renamed"
        case (_, "password"?):
            // Never the hash: only that it changed.
            sink.data.string("field", "password")
            return "user.changed"
        default:
            fieldChange(c, into: &sink.data)
            return "user.changed"
        }
    }

    private static func fieldChange(_ c: Change, into data: inout CompactJSON) {
        data.string("field", c.field)
        data.string("old", c.old)
        data.string("new", c.new)
    }
}
