import Foundation
import SISync

// Form permissions: document types (`form`), the roles that set levels for them (`role`),
// who has those roles where (`user assign`), and what a user may do (`access-check`).
// Levels are none < view < edit < owner.

/// `form add NAME [--group G]`.
struct FormAddCommand: ControlSubcommand {
    static let name = "form add"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let options: [CommandOption] = [.value("group", "G")]
    static let storeAccess = StoreAccess.writes
    static let help = "Adds a document type (IEP, 504 plan, evaluation ...) that permission roles set levels for, in a group if given."
    static let example = "sisyncctl form add IEP --group special-education"
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.addForm(words[0], group: args.value("group") ?? "", actor: actor, now: now)
        emit(args, json: { .object([("name", .string(words[0])), ("group", .string(args.value("group") ?? "")), ("deleted", .bool(false))]) }, text: { "form \(words[0]) added\n" })
        return 0
    }
}

/// `form list [--group G] [--include-deleted]`.
struct FormListCommand: ControlSubcommand {
    static let name = "form list"
    static let options: [CommandOption] = [.value("group", "G"), .flag("include-deleted")]
    static let help = "Lists the document types, of one group with --group, with the deleted ones with --include-deleted."
    static let example = "sisyncctl form list --group special-education"
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args)
        let list = try store.formPermissions.forms(group: args.value("group"), includeDeleted: args.flag("include-deleted"))
        emit(args, json: { .array(list.map { .object([("name", .string($0.name)), ("group", .string($0.group)), ("deleted", .bool($0.deleted))]) }) },
             text: {
                 var t = TextTable(["form", "group", "deleted"])
                 for f in list { t.add([f.name, f.group, f.deleted ? "yes" : ""]) }
                 return t.rendered()
             })
        return 0
    }
}

/// `form delete NAME`.
struct FormDeleteCommand: ControlSubcommand {
    static let name = "form delete"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let storeAccess = StoreAccess.writes
    static let help = "Deletes a document type; its settings are kept, so that undelete gives them back."
    static let example = "sisyncctl form delete IEP"
    let call: CommandCall
    func run() throws -> Int32 { try setFormDeleted("delete") }
}

/// `form undelete NAME`.
struct FormUndeleteCommand: ControlSubcommand {
    static let name = "form undelete"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let storeAccess = StoreAccess.writes
    static let help = "Gives back a deleted document type with its settings."
    static let example = "sisyncctl form undelete IEP"
    let call: CommandCall
    func run() throws -> Int32 { try setFormDeleted("undelete") }
}

/// `role create NAME`.
struct RoleCreateCommand: ControlSubcommand {
    static let name = "role create"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Creates a form permission role. A role gives its default and max level for students in the buildings it \
        is assigned for (user assign); a role assigned without buildings gives none/owner for all forms; several \
        roles combine to the highest.
        """
    static let example = "sisyncctl role create \"Case Manager\""
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.createPermissionRole(words[0], actor: actor, now: now)
        emit(args, json: { .object([("name", .string(words[0])), ("deleted", .bool(false))]) }, text: { "role \(words[0]) created\n" })
        return 0
    }
}

/// `role rename OLD NEW`.
struct RoleRenameCommand: ControlSubcommand {
    static let name = "role rename"
    static let arguments: [CommandArgument] = [.required("OLD"), .required("NEW")]
    static let storeAccess = StoreAccess.writes
    static let help = "Renames a form permission role; its users and settings stay."
    static let example = "sisyncctl role rename \"Case Manager\" \"Case Lead\""
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.renamePermissionRole(words[0], to: words[1], actor: actor, now: now)
        emit(args, json: { .object([("name", .string(words[1])), ("renamed_from", .string(words[0]))]) }, text: { "role \(words[0]) renamed to \(words[1])\n" })
        return 0
    }
}

/// `role set ROLE FORM | --group G --default LEVEL --max LEVEL`.
struct RoleSetCommand: ControlSubcommand {
    static let name = "role set"
    static let arguments: [CommandArgument] = [.required("ROLE"), .optional("FORM")]
    static let options: [CommandOption] = [.value("group", "G"), .value("default", "LEVEL"), .value("max", "LEVEL")]
    static let synopsis = ["role set ROLE FORM --default LEVEL --max LEVEL", "role set ROLE --group G --default LEVEL --max LEVEL"]
    static let storeAccess = StoreAccess.writes
    static let help = "Sets a role's default and max level (none, view, edit, owner) for one form, or for every form of a group."
    static let example = "sisyncctl role set \"Case Manager\" IEP --default view --max owner"
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        let setting = FormSetting(default: try level(args, "default"), max: try level(args, "max"))
        var forms: [String] = []
        if words.count == 2 { forms = [words[1]] } else if let group = args.value("group") {
            forms = try store.formPermissions.forms(group: group, includeDeleted: false).map(\.name)
            guard !forms.isEmpty else { throw FormError.invalid("no forms in group `\(group)`") }
        } else {
            return usageError("give FORM or --group G, and --default L and --max L")
        }
        try store.formPermissions.setRoleForms(words[0], forms: forms, setting: setting, actor: actor, now: now)
        emit(args, json: { .object([("role", .string(words[0])), ("forms", .array(forms.map { .string($0) })), ("default", .string(setting.defaultLevel.description)), ("max", .string(setting.maxLevel.description))]) },
             text: { "role \(words[0]): \(forms.count) form\(forms.count == 1 ? "" : "s") set to default \(setting.defaultLevel), max \(setting.maxLevel)\n" })
        return 0
    }
}

/// `role show ROLE`.
struct RoleShowCommand: ControlSubcommand {
    static let name = "role show"
    static let arguments: [CommandArgument] = [.required("ROLE")]
    static let help = "Shows a role's default and max level for each form, and how many users have it."
    static let example = "sisyncctl role show \"Case Manager\""
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args)
        guard let r = try store.formPermissions.permissionRole(words[0]) else { throw FormError.noSuchRole(words[0]) }
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
        return 0
    }
}

/// `role list [--deleted]`.
struct RoleListCommand: ControlSubcommand {
    static let name = "role list"
    static let options: [CommandOption] = [.flag("deleted")]
    static let help = "Lists the form permission roles and how many users have each; with --deleted, the deleted ones too."
    static let example = "sisyncctl role list --deleted"
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args)
        let list = try store.formPermissions.permissionRoles(includeDeleted: args.flag("deleted"))
        emit(args, json: { .array(list.map { .object([("name", .string($0.name)), ("deleted", .bool($0.deleted)),
                                                      ("merged_into", .string($0.mergedInto)), ("users", .int($0.users))]) }) },
             text: {
                 var t = TextTable(["role", "users", "deleted"])
                 for r in list { t.add([r.name, String(r.users), r.deleted ? (r.mergedInto.map { "merged into \($0)" } ?? "yes") : ""]) }
                 return t.rendered()
             })
        return 0
    }
}

/// `role merge ROLE... --into NAME`.
struct RoleMergeCommand: ControlSubcommand {
    static let name = "role merge"
    static let arguments: [CommandArgument] = [.oneOrMore("ROLE")]
    static let options: [CommandOption] = [.value("into", "NAME")]
    static let synopsis = ["role merge ROLE... --into NAME"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Merges roles into one: per form the highest default and max, the users of each with the union of their \
        buildings; the merged roles are deleted (undelete gives one back to its former users).
        """
    static let example = "sisyncctl role merge \"Case Manager\" \"Case Lead\" --into \"Case Manager\""
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("into") == nil ? "missing --into NAME" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        guard let target = args.value("into") else {
            return usageError()
        }
        try store.formPermissions.mergePermissionRoles(words, into: target, actor: actor, now: now)
        emit(args, json: { .object([("into", .string(target)), ("merged", .array(words.map { .string($0) }))]) }, text: { "merged \(words.joined(separator: ", ")) into \(target)\n" })
        return 0
    }
}

/// `role delete ROLE`.
struct RoleDeleteCommand: ControlSubcommand {
    static let name = "role delete"
    static let arguments: [CommandArgument] = [.required("ROLE")]
    static let storeAccess = StoreAccess.writes
    static let help = "Deletes a role; its users lose it until it is undeleted."
    static let example = "sisyncctl role delete \"Case Lead\""
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.deletePermissionRole(words[0], actor: actor, now: now)
        emit(args, json: { .object([("name", .string(words[0])), ("deleted", .bool(true))]) }, text: { "role \(words[0]) deleted (undelete gives it back to its users)\n" })
        return 0
    }
}

/// `role undelete ROLE`.
struct RoleUndeleteCommand: ControlSubcommand {
    static let name = "role undelete"
    static let arguments: [CommandArgument] = [.required("ROLE")]
    static let storeAccess = StoreAccess.writes
    static let help = "Gives back a deleted role, to the users who had it."
    static let example = "sisyncctl role undelete \"Case Lead\""
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.undeletePermissionRole(words[0], actor: actor, now: now)
        emit(args, json: { .object([("name", .string(words[0])), ("deleted", .bool(false))]) }, text: { "role \(words[0]) undeleted and reassigned to its users\n" })
        return 0
    }
}

/// `user assign U ROLE [--buildings B,...]`, `user assign --users U1,U2 ROLE ...`.
struct UserAssignCommand: ControlSubcommand {
    static let name = "user assign"
    static let arguments: [CommandArgument] = [.optional("U"), .required("ROLE")]
    static let options: [CommandOption] = [.value("buildings", "B,..."), .value("users", "U1,U2")]
    static let synopsis = ["user assign U ROLE [--buildings B,...]", "user assign --users U1,U2 ROLE [--buildings B,...]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Assigns a form permission role to a user, or to several with --users, for the buildings given; without \
        --buildings the role gives none/owner for all forms.
        """
    static let example = "sisyncctl user assign jdoe \"Case Manager\" --buildings 101,102"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        words.count < 2 && args.value("users") == nil ? "missing U (or --users U1,U2)" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        let buildings = (args.value("buildings") ?? "").split(separator: ",").map(String.init)
        let role: String, usernames: [String]
        if words.count == 2 {
            (role, usernames) = (words[1], [words[0]])
        } else {
            guard let users = args.value("users") else {
                return usageError()
            }
            (role, usernames) = (words[0], users.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        try store.formPermissions.assignRole(role, to: usernames, buildings: buildings, actor: actor, now: now)
        emit(args, json: { .object([("role", .string(role)), ("usernames", .array(usernames.map { .string($0) })), ("buildings", .array(buildings.map { .string($0) }))]) }, text: { "done\n" })
        return 0
    }
}

/// `user unassign U ROLE`.
struct UserUnassignCommand: ControlSubcommand {
    static let name = "user unassign"
    static let arguments: [CommandArgument] = [.required("U"), .required("ROLE")]
    static let storeAccess = StoreAccess.writes
    static let help = "Takes a form permission role from a user, in every building."
    static let example = "sisyncctl user unassign jdoe \"Case Manager\""
    let call: CommandCall

    func run() throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.unassignRole(words[1], from: words[0], actor: actor, now: now)
        emit(args, json: { .object([("role", .string(words[1])), ("username", .string(words[0]))]) }, text: { "done\n" })
        return 0
    }
}

/// `access-check U FORM (--building B | --student S) [--grant LEVEL]`.
struct AccessCheckCommand: ControlSubcommand {
    static let name = "access-check"
    static let arguments: [CommandArgument] = [.required("U"), .required("FORM")]
    static let options: [CommandOption] = [.value("building", "B"), .value("student", "S"), .value("grant", "LEVEL")]
    static let synopsis = ["access-check U FORM (--building B | --student S) [--grant LEVEL]"]
    static let help = """
        Shows a user's effective default and max level for a form in a building (or the building of a student), \
        the level an explicit grant on a document gives (capped at max), and whether they can create the form \
        (max owner). A user with no role at all has none/owner everywhere.
        """
    static let example = "sisyncctl access-check jdoe IEP --student 3001"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("building") == nil && args.value("student") == nil ? "missing --building B or --student S" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let username = words[0], form = words[1]
        let store = try openStore(args)
        let grant = args.value("grant") == nil ? nil : try level(args, "grant")
        let check = try store.formPermissions.check(username: username, form: form, building: args.value("building"), student: args.value("student"), grant: grant)
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

extension ControlSubcommand {
    fileprivate func level(_ args: Arguments, _ name: String) throws -> PermissionLevel {
        guard let text = args.value(name) else { throw FormError.invalid("--\(name) LEVEL is required (none, view, edit or owner)") }
        guard let l = PermissionLevel(name: text) else { throw FormError.invalid("--\(name) takes none, view, edit or owner, got `\(text)`") }
        return l
    }

    /// `form delete|undelete NAME`.
    fileprivate func setFormDeleted(_ verb: String) throws -> Int32 {
        let store = try openStore(args), now = Date()
        try store.formPermissions.setFormDeleted(words[0], deleted: verb == "delete", actor: actor, now: now)
        emit(args, json: { .object([("name", .string(words[0])), ("deleted", .bool(verb == "delete"))]) }, text: { "form \(words[0]) \(verb)d\n" })
        return 0
    }
}
