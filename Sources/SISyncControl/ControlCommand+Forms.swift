import Foundation
import SISync

extension ControlCommand {
    private func level(_ args: Arguments, _ name: String) throws -> PermissionLevel {
        guard let text = args.value(name) else { throw FormError.invalid("--\(name) LEVEL is required (none, view, edit or owner)") }
        guard let l = PermissionLevel(name: text) else { throw FormError.invalid("--\(name) takes none, view, edit or owner, got `\(text)`") }
        return l
    }

    /// `sisyncctl form ...`
    func formCommand(_ args: Arguments, _ words: [String]) throws -> Int32 {
        let store = try openStore(args), now = Date()
        switch (words.first ?? "", words.count) {
        case ("add", 2):
            try store.formPermissions.addForm(words[1], group: args.value("group") ?? "", actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "form \(words[1]) added\n")
        case ("list", 1):
            let list = try store.formPermissions.forms(group: args.value("group"), includeDeleted: args.flag("include-deleted"))
            emit(args, json: { .array(list.map { .object([("name", .string($0.name)), ("group", .string($0.group)), ("deleted", .bool($0.deleted))]) }) },
                 text: {
                     var t = TextTable(["form", "group", "deleted"])
                     for f in list { t.add([f.name, f.group, f.deleted ? "yes" : ""]) }
                     return t.rendered()
                 })
        case ("delete", 2), ("undelete", 2):
            try store.formPermissions.setFormDeleted(words[1], deleted: words[0] == "delete", actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "form \(words[1]) \(words[0])d\n")
        default:
            console.err("sisyncctl: unknown command `form \(words.joined(separator: " "))`\n\(Self.commandHelp["form"]!)")
            return 64
        }
        return 0
    }

    /// `sisyncctl role ...` (form permission roles).
    func permissionRoleCommand(_ args: Arguments, _ words: [String]) throws -> Int32 {
        let store = try openStore(args), now = Date()
        switch (words.first ?? "", words.count) {
        case ("create", 2):
            try store.formPermissions.createPermissionRole(words[1], actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "role \(words[1]) created\n")
        case ("rename", 3):
            try store.formPermissions.renamePermissionRole(words[1], to: words[2], actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "role \(words[1]) renamed to \(words[2])\n")
        case ("set", 3), ("set", 2):
            let setting = FormSetting(default: try level(args, "default"), max: try level(args, "max"))
            var forms: [String] = []
            if words.count == 3 { forms = [words[2]] } else if let group = args.value("group") {
                forms = try store.formPermissions.forms(group: group, includeDeleted: false).map(\.name)
                guard !forms.isEmpty else { throw FormError.invalid("no forms in group `\(group)`") }
            } else {
                console.err("sisyncctl: role set ROLE FORM --default L --max L, or role set ROLE --group G --default L --max L\n")
                return 64
            }
            try store.formPermissions.setRoleForms(words[1], forms: forms, setting: setting, actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "role \(words[1]): \(forms.count) form\(forms.count == 1 ? "" : "s") set to default \(setting.defaultLevel), max \(setting.maxLevel)\n")
        case ("show", 2):
            guard let r = try store.formPermissions.permissionRole(words[1]) else { throw FormError.noSuchRole(words[1]) }
            let settings = try store.formPermissions.roleSettings(r.name)
            emit(args, json: {
                .object([("name", .string(r.name)), ("deleted", .bool(r.deleted)), ("users", .int(r.users)),
                         ("forms", .array(settings.map { .object([("form", .string($0.form)), ("default", .string($0.setting.defaultLevel.description)),
                                                                  ("max", .string($0.setting.maxLevel.description))]) }))])
            }, text: {
                var t = TextTable(["form", "default", "max"])
                for s in settings { t.add([s.form, s.setting.defaultLevel.description, s.setting.maxLevel.description]) }
                return "role \(r.name)\(r.deleted ? " (deleted)" : ""), \(r.users) user\(r.users == 1 ? "" : "s")\n" + t.rendered()
            })
        case ("list", 1):
            let list = try store.formPermissions.permissionRoles(includeDeleted: args.flag("deleted"))
            emit(args, json: { .array(list.map { .object([("name", .string($0.name)), ("deleted", .bool($0.deleted)),
                                                          ("merged_into", .string($0.mergedInto)), ("users", .int($0.users))]) }) },
                 text: {
                     var t = TextTable(["role", "users", "deleted"])
                     for r in list { t.add([r.name, String(r.users), r.deleted ? (r.mergedInto.map { "merged into \($0)" } ?? "yes") : ""]) }
                     return t.rendered()
                 })
        case ("merge", _) where words.count >= 2:
            guard let target = args.value("into") else {
                console.err("sisyncctl: role merge ROLE... --into NAME\n")
                return 64
            }
            try store.formPermissions.mergePermissionRoles(Array(words.dropFirst()), into: target, actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "merged \(words.dropFirst().joined(separator: ", ")) into \(target)\n")
        case ("delete", 2):
            try store.formPermissions.deletePermissionRole(words[1], actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "role \(words[1]) deleted (undelete gives it back to its users)\n")
        case ("undelete", 2):
            try store.formPermissions.undeletePermissionRole(words[1], actor: actor, now: now)
            console.out(args.flag("json") ? "{}\n" : "role \(words[1]) undeleted and reassigned to its users\n")
        default:
            console.err("sisyncctl: unknown command `role \(words.joined(separator: " "))`\n\(Self.commandHelp["role"]!)")
            return 64
        }
        return 0
    }

    /// `user assign U ROLE [--buildings B,...]`, `user assign --users U1,U2 ROLE ...`, `user unassign U ROLE`.
    func assignCommand(_ args: Arguments, _ words: [String]) throws -> Int32 {
        let store = try openStore(args), now = Date()
        let buildings = (args.value("buildings") ?? "").split(separator: ",").map(String.init)
        switch (words[0], words.count) {
        case ("assign", 3):
            try store.formPermissions.assignRole(words[2], to: [words[1]], buildings: buildings, actor: actor, now: now)
        case ("assign", 2):
            guard let users = args.value("users") else {
                console.err("sisyncctl: user assign U ROLE [--buildings B,...], or user assign --users U1,U2 ROLE [--buildings B,...]\n")
                return 64
            }
            try store.formPermissions.assignRole(words[1], to: users.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, buildings: buildings, actor: actor, now: now)
        case ("unassign", 3):
            try store.formPermissions.unassignRole(words[2], from: words[1], actor: actor, now: now)
        default:
            console.err("sisyncctl: unknown command `user \(words.joined(separator: " "))`\n")
            return 64
        }
        console.out(args.flag("json") ? "{}\n" : "done\n")
        return 0
    }

    /// `access-check U FORM (--building B | --student S) [--grant LEVEL]`.
    func accessCheck(_ args: Arguments, username: String, form: String) throws -> Int32 {
        let store = try openStore(args)
        let grant = args.value("grant") == nil ? nil : try level(args, "grant")
        let check: FormAccessCheck
        do {
            check = try store.formPermissions.check(username: username, form: form, building: args.value("building"), student: args.value("student"), grant: grant)
        } catch FormError.invalid where args.value("building") == nil && args.value("student") == nil {
            console.err("sisyncctl: access-check U FORM needs --building B or --student S\n")
            return 64
        }
        let access = check.access
        emit(args, json: { JSONShapes.formAccess(check) }, text: {
            var out = "\(check.username), form \(check.form), building \(check.building): default \(access.defaultLevel), max \(access.maxLevel)\n"
            if let g = access.grantedLevel { out += "added to a document with \(grant!): \(g)\n" }
            out += access.canCreate ? "may create these documents and have them transferred to them\n" : "may not create these documents (max is not owner)\n"
            return out
        })
        return 0
    }
}
