import Foundation
import SISync

// `sisyncctl user ...`: login accounts and their links.

/// `user add`: a login account.
struct UserAddCommand: ControlSubcommand {
    static let name = "user add"
    static let options: [CommandOption] = [.value("username", "U"), .value("email", "E"), .value("name", "N"), .flag("approved")]
    static let synopsis = ["user add --username U --email E [--name N] [--approved]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Adds a login account; the database is created if needed, as a first sync would. Usernames and emails are \
        unique regardless of case. A user without a manual link is linked to the one active staff member with \
        their email on every run (R6).
        """
    static let example = "sisyncctl user add --username jdoe --email jane.doe@district.org --name \"Jane Doe\" --approved"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("username") == nil || args.value("email") == nil ? "missing --username U and --email E" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        guard let username = args.value("username"), let email = args.value("email") else {
            return usageError()
        }
        let s = try store()
        try s.accounts.addUser(username: username, email: email, name: args.value("name") ?? "", approved: args.flag("approved"), actor: actor, now: now,
                      normalizer: keyNormalizer(args))
        return try show(s, username, args)
    }
}

/// `user list`: every login account.
struct UserListCommand: ControlSubcommand {
    static let name = "user list"
    static let options: [CommandOption] = [.value("limit", "N")]
    static let pages = true
    static let help = "Lists every login account with its link and roles."
    static let example = "sisyncctl user list"
    let call: CommandCall

    func run() throws -> Int32 {
        let all = try store().accounts.profiles()
        let list = try ListLimit.parse(args.value("limit")).map { Array(all.prefix($0)) } ?? all
        emitUser(args, json: { .array(list.map { ControlCommand.userJSON($0) }) }, text: {
            var t = TextTable(["username", "email", "name", "approved", "locked", "link", "roles"])
            for p in list {
                let u = p.user
                t.add([u.username, u.email, u.name, u.approved ? "yes" : "no", u.locked ? "yes" : "no",
                       u.link.map { "\($0.staffID) (\($0.kind.rawValue))" } ?? "-",
                       (p.manualRoles + p.calculatedRoles.map(\.label)).joined(separator: ", ")])
            }
            return t.rendered() + ListLimit.more(all.count - list.count) + "\(all.count) user\(all.count == 1 ? "" : "s")\n"
        })
        return 0
    }
}

/// `user show U`: one account, its links, roles and history.
struct UserShowCommand: ControlSubcommand {
    static let name = "user show"
    static let arguments: [CommandArgument] = [.required("U")]
    static let options: [CommandOption] = [.value("limit", "N")]
    static let pages = true
    static let help = """
        Shows one login account: approval, lock, link, attachments, roles (manual and calculated), schools, \
        ledgers, pairings, form permission roles and its history (with --limit N, the newest N entries).
        """
    static let example = "sisyncctl user show jdoe"
    let call: CommandCall

    func run() throws -> Int32 {
        return try show(store(), words[0], args)
    }
}

/// `user approve U`.
struct UserApproveCommand: ControlSubcommand {
    static let name = "user approve"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writes
    static let help = "Approves an account, so that it may sign in."
    static let example = "sisyncctl user approve jdoe"
    let call: CommandCall
    func run() throws -> Int32 { try setUserFlag("approve") }
}

/// `user unapprove U`.
struct UserUnapproveCommand: ControlSubcommand {
    static let name = "user unapprove"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writes
    static let help = "Withdraws an account's approval; it keeps its links and history."
    static let example = "sisyncctl user unapprove jdoe"
    let call: CommandCall
    func run() throws -> Int32 { try setUserFlag("unapprove") }
}

/// `user unlock U`.
struct UserUnlockCommand: ControlSubcommand {
    static let name = "user unlock"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writes
    static let help = "Unlocks an account locked by failed sign-ins."
    static let example = "sisyncctl user unlock jdoe"
    let call: CommandCall
    func run() throws -> Int32 { try setUserFlag("unlock") }
}

/// `user remove U`.
struct UserRemoveCommand: ControlSubcommand {
    static let name = "user remove"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writes
    static let help = "Removes a login account. Staff records are never removed: they come from the SIS."
    static let example = "sisyncctl user remove jdoe"
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        try store().accounts.removeUser(words[0], actor: actor, now: now)
        emit(args, json: { .object([("username", .string(words[0])), ("removed", .bool(true))]) }, text: { "user \(words[0]) removed\n" })
        return 0
    }
}

/// `user rename U NEW`: the account's rows and history move to the new name at once.
struct UserRenameCommand: ControlSubcommand {
    static let name = "user rename"
    static let arguments: [CommandArgument] = [.required("U"), .required("NEW")]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Renames a login account: its link, roles, attachments, schools, ledgers, pairings and history move to \
        the new name in one transaction (its SCIM id stays). The change log records it, the change feed has \
        user.renamed.
        """
    static let example = "sisyncctl user rename jdoe jane.doe"
    let call: CommandCall

    func run() throws -> Int32 {
        let s = try store()
        try s.accounts.renameUser(words[0], to: words[1], actor: actor, now: Date())
        return try show(s, words[1].trimmingCharacters(in: .whitespaces), args)
    }
}

/// `user link U STAFF_ID --reason TEXT`: a manual link (R6).
struct UserLinkCommand: ControlSubcommand {
    static let name = "user link"
    static let arguments: [CommandArgument] = [.required("U"), .required("STAFF_ID")]
    static let options: [CommandOption] = [.value("reason", "TEXT"), .value("until", "YYYY-MM-DD")]
    static let synopsis = ["user link U STAFF_ID --reason TEXT [--until YYYY-MM-DD]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Links a user to a staff record by hand (R6): an administrator's decision, with a reason, that sync never \
        changes; with --until it ends after that day.
        """
    static let example = "sisyncctl user link intern1 S1042 --reason \"records for Ms Lima\" --until 2027-06-30"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        (args.value("reason") ?? "").trimmingCharacters(in: .whitespaces).isEmpty ? "missing --reason TEXT (why this user records for this staff member)" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        guard let reason = args.value("reason"), !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            return usageError()
        }
        if let until = args.value("until") {
            guard let day = Timestamp.parse(until + "T00:00:00Z") else {
                console.err("sisyncctl: --until takes a date as YYYY-MM-DD, got `\(until)`\n")
                return 64
            }
            guard day.addingTimeInterval(86_400) > now else {
                console.err("sisyncctl: --until \(until) is in the past; the link would end at once\n")
                return 64
            }
        }
        let s = try store()
        try s.accounts.linkManually(words[0], staffID: words[1], reason: reason, until: args.value("until"), actor: actor, now: now)
        return try show(s, words[0], args)
    }
}

/// `user unlink U`.
struct UserUnlinkCommand: ControlSubcommand {
    static let name = "user unlink"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writes
    static let help = "Removes a user's link; the next run links them by email again unless that is ambiguous (R6)."
    static let example = "sisyncctl user unlink intern1"
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        let s = try store()
        try s.accounts.unlink(words[0], actor: actor, now: now)
        return try show(s, words[0], args)
    }
}

/// `user attach U --student ID | --household ID | --donor ID`.
struct UserAttachCommand: ControlSubcommand {
    static let name = "user attach"
    static let arguments: [CommandArgument] = [.required("U")]
    static let options = attachmentOptions
    static let synopsis = ["user attach U --student ID | --household ID | --donor ID"]
    static let storeAccess = StoreAccess.writes
    static let help = "Attaches a user to a student, household or donor record; Student, Parent and attribute roles follow (R7)."
    static let example = "sisyncctl user attach fitzgerald --household H2001"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? { attachmentProblem(args) }
    let call: CommandCall
    func run() throws -> Int32 { try setAttachment("attach") }
}

/// `user detach U --student ID | --household ID | --donor ID`.
struct UserDetachCommand: ControlSubcommand {
    static let name = "user detach"
    static let arguments: [CommandArgument] = [.required("U")]
    static let options = attachmentOptions
    static let synopsis = ["user detach U --student ID | --household ID | --donor ID"]
    static let storeAccess = StoreAccess.writes
    static let help = "Detaches a user from a student, household or donor record; the roles it gave are recomputed (R7)."
    static let example = "sisyncctl user detach fitzgerald --household H2001"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? { attachmentProblem(args) }
    let call: CommandCall
    func run() throws -> Int32 { try setAttachment("detach") }
}

/// `user attach|detach` take exactly one record.
private func attachmentProblem(_ args: Arguments) -> String? {
    AttachmentKind.allCases.filter { args.value($0.rawValue) != nil }.count == 1 ? nil : "give one of --student ID, --household ID or --donor ID"
}

private let attachmentOptions: [CommandOption] = [.value("student", "ID"), .value("household", "ID"), .value("donor", "ID")]

/// `user role add U ROLE`: a manual role.
struct UserRoleAddCommand: ControlSubcommand {
    static let name = "user role add"
    static let arguments: [CommandArgument] = [.required("U"), .required("ROLE")]
    static let storeAccess = StoreAccess.writes
    static let help = "Gives a user a manual role. Calculated roles (R7) come from the data and are not set by hand."
    static let example = "sisyncctl user role add jdoe Counselor"
    let call: CommandCall
    func run() throws -> Int32 { try setManualRole(granted: true) }
}

/// `user role remove U ROLE`.
struct UserRoleRemoveCommand: ControlSubcommand {
    static let name = "user role remove"
    static let arguments: [CommandArgument] = [.required("U"), .required("ROLE")]
    static let storeAccess = StoreAccess.writes
    static let help = "Takes a manual role from a user."
    static let example = "sisyncctl user role remove jdoe Counselor"
    let call: CommandCall
    func run() throws -> Int32 { try setManualRole(granted: false) }
}

/// `user school add U SCHOOL`.
struct UserSchoolAddCommand: ControlSubcommand {
    static let name = "user school add"
    static let arguments: [CommandArgument] = [.required("U"), .required("SCHOOL")]
    static let storeAccess = StoreAccess.writes
    static let help = "Adds a school to a user's list of schools (for users linked to an active staff member)."
    static let example = "sisyncctl user school add jdoe 101"
    let call: CommandCall
    func run() throws -> Int32 { try setListEntry(.school, present: true) }
}

/// `user school remove U SCHOOL`.
struct UserSchoolRemoveCommand: ControlSubcommand {
    static let name = "user school remove"
    static let arguments: [CommandArgument] = [.required("U"), .required("SCHOOL")]
    static let storeAccess = StoreAccess.writes
    static let help = "Removes a school from a user's list of schools."
    static let example = "sisyncctl user school remove jdoe 101"
    let call: CommandCall
    func run() throws -> Int32 { try setListEntry(.school, present: false) }
}

/// `user ledger add U LEDGER`.
struct UserLedgerAddCommand: ControlSubcommand {
    static let name = "user ledger add"
    static let arguments: [CommandArgument] = [.required("U"), .required("LEDGER")]
    static let storeAccess = StoreAccess.writes
    static let help = "Adds a ledger to a user's list of ledgers (for users with the Finance role)."
    static let example = "sisyncctl user ledger add jdoe GENERAL"
    let call: CommandCall
    func run() throws -> Int32 { try setListEntry(.ledger, present: true) }
}

/// `user ledger remove U LEDGER`.
struct UserLedgerRemoveCommand: ControlSubcommand {
    static let name = "user ledger remove"
    static let arguments: [CommandArgument] = [.required("U"), .required("LEDGER")]
    static let storeAccess = StoreAccess.writes
    static let help = "Removes a ledger from a user's list of ledgers."
    static let example = "sisyncctl user ledger remove jdoe GENERAL"
    let call: CommandCall
    func run() throws -> Int32 { try setListEntry(.ledger, present: false) }
}

/// `user passwd U`: sets a password read from standard input.
struct UserPasswdCommand: ControlSubcommand {
    static let name = "user passwd"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writesTakingTheLockItself
    static let help = """
        Sets a user's password and unlocks the account. The password is never an argument: at a terminal it is \
        asked for without echo, twice (two different ones change nothing, exit 1); from a pipe or a file one line \
        of standard input is read.
        """
    static let example = "sisyncctl user passwd jdoe"
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        // The password comes from standard input only: never an argument, never logged.
        // At a terminal it is asked for without echo, twice (issue 26 item 18).
        guard let password = try console.readSecret(prompt: "Password: ") else {
            console.err("sisyncctl: user passwd reads the new password from standard input\n")
            return 64
        }
        do { try PasswordHash.validate(password) } catch {
            console.err("sisyncctl: \(error)\n")
            return 1
        }
        if console.readsSecretsFromTerminal {
            guard try console.readSecret(prompt: "Again: ") == password else {
                console.err("sisyncctl: the two passwords differ; nothing was changed (run user passwd \(words[0]) again)\n")
                return 1
            }
        }
        let hash = try PasswordHash.make(password)
        // The run lock only now: never while someone types a password.
        let lock = try takeRunLock(args, command: "user passwd", wait: waitSeconds(args))
        let s = try store()
        try withExtendedLifetime(lock) { try s.accounts.setPassword(words[0], hash: hash, actor: actor, now: now) }
        emit(args, json: { .object([("username", .string(words[0])), ("password_set", .bool(true)), ("locked", .bool(false))]) }, text: { "password of \(words[0]) set; the account is unlocked\n" })
        return 0
    }
}

/// `user login U`: checks a password read from standard input.
struct UserLoginCommand: ControlSubcommand {
    static let name = "user login"
    static let arguments: [CommandArgument] = [.required("U")]
    static let storeAccess = StoreAccess.writesTakingTheLockItself
    static let help = """
        Checks a user's password as the sign-in would (exit 0 accepted, 1 rejected), counting failed attempts. \
        The password is read as for user passwd, once. A locked or unapproved account is told so only with the \
        right password.
        """
    static let example = "sisyncctl user login jdoe"
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        guard let password = try console.readSecret(prompt: "Password: ") else {
            console.err("sisyncctl: user login reads the password from standard input\n")
            return 64
        }
        let lock = try takeRunLock(args, command: "user login", wait: waitSeconds(args))
        let outcome = try withExtendedLifetime(lock) { try store().accounts.login(words[0], password: password, now: now) }
        if outcome == .accepted {
            emit(args, json: { .object([("username", .string(words[0])), ("accepted", .bool(true))]) }, text: { "accepted\n" })
            return 0
        }
        console.err("rejected: \(outcome.reason)\n")
        return 1
    }
}

/// `user import FILE.csv`: adds or updates users.
struct UserImportCommand: ControlSubcommand {
    static let name = "user import"
    static let arguments: [CommandArgument] = [.required("FILE.csv")]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Adds or updates users from a CSV file with the columns username, email (required), approved, student_id, \
        household_id and donor_id (lists with ;). The whole file is checked before anything is written; existing \
        users are updated and listed attachments added; no user is removed. Links and roles follow on the next run.
        """
    static let example = "sisyncctl user import users.csv"
    let call: CommandCall

    func run() throws -> Int32 {
        let now = Date()
        let rows = try UserImport.read(path: words[0])
        let s = try store()
        let result = try s.accounts.importUsers(rows, file: words[0], actor: actor, now: now, normalizer: keyNormalizer(args))
        if args.flag("json") {
            console.out(JSONValue.object([("added", .int(result.added)), ("updated", .int(result.updated)), ("unchanged", .int(result.unchanged))]).rendered() + "\n")
        } else {
            console.out("\(words[0]): \(result.added) added, \(result.updated) updated, \(result.unchanged) unchanged; links and roles follow on the next run\n")
        }
        return 0
    }
}

extension ControlSubcommand {
    /// The store of the user commands. Writes go to the configured database; `user add`
    /// creates it if needed, like a first sync.
    fileprivate func store() throws -> RosterStore {
        try RosterStore(configuration: rulesConfiguration(args), mustExist: Self.name != "user add")
    }

    /// `user approve|unapprove|unlock U`.
    fileprivate func setUserFlag(_ verb: String) throws -> Int32 {
        let now = Date()
        let s = try store()
        let field = verb == "unlock" ? "locked" : "approved"
        try s.accounts.setFlag(words[0], field: field, to: verb == "approve", actor: actor, now: now)
        return try show(s, words[0], args)
    }

    /// `user attach|detach U --student ID | --household ID | --donor ID`.
    fileprivate func setAttachment(_ verb: String) throws -> Int32 {
        let now = Date()
        let given = AttachmentKind.allCases.compactMap { k in args.value(k.rawValue).map { (k, $0) } }
        guard given.count == 1, let (kind, id) = given.first else {
            return usageError()
        }
        let s = try store()
        try s.accounts.setAttachment(words[0], kind: kind, recordID: id, attached: verb == "attach", actor: actor, now: now)
        return try show(s, words[0], args)
    }

    /// `user role add|remove U ROLE`.
    fileprivate func setManualRole(granted: Bool) throws -> Int32 {
        let now = Date()
        let s = try store()
        try s.accounts.setManualRole(words[0], role: words[1], granted: granted, actor: actor, now: now)
        return try show(s, words[0], args)
    }

    /// `user school|ledger add|remove U VALUE`.
    fileprivate func setListEntry(_ list: UserList, present: Bool) throws -> Int32 {
        let now = Date()
        let s = try store()
        try s.accounts.setListEntry(words[0], list: list, value: words[1], present: present, actor: actor, now: now)
        return try show(s, words[0], args)
    }

    /// The R6 email normalizer of the configuration, to key new emails as the daemon
    /// would; nil with `--db` alone (the next run keys them).
    fileprivate func keyNormalizer(_ args: Arguments) -> EmailNormalizer? {
        if args.value("db") != nil && args.value("config") == nil { return nil }
        return (try? rulesConfiguration(args)).map { EmailNormalizer(aliases: $0.emailDomainAliases) }
    }

    fileprivate func show(_ store: RosterStore, _ username: String, _ args: Arguments) throws -> Int32 {
        guard let p = try store.accounts.profiles(username: username).first else { throw AccountError.noSuchUser(username) }
        let u = p.user
        let whole = try store.auditTrail.userHistory(u.username)
        // The newest entries: what an administrator looks for first.
        let history = try ListLimit.parse(args.value("limit")).map { Array(whole.suffix($0)) } ?? whole
        emitUser(args, json: { ControlCommand.userJSON(p, history: history) }, text: {
            var out = "\(u.username) <\(u.email)>\(u.name.isEmpty ? "" : " \(u.name)")\n"
            out += "  approved: \(u.approved ? "yes" : "no"), locked: \(u.locked ? "yes" : "no"), created \(LocalTime.text(stored: u.createdAt))\n"
            if let l = u.link {
                out += "  linked to staff \(l.staffID) (\(l.kind.rawValue)\(l.reason.map { ": \($0)" } ?? "")\(l.until.map { ", until \($0)" } ?? ""))\n"
            } else {
                out += "  not linked to a staff record (may look, may not record)\n"
            }
            for k in AttachmentKind.allCases { if let ids = p.attachments[k] { out += "  \(k.rawValue)s: \(ids.joined(separator: ", "))\n" } }
            out += "  roles: \((p.manualRoles + p.calculatedRoles.map { $0.label + " (calculated)" }).joined(separator: ", ").ifEmpty("none"))\n"
            if !p.schools.isEmpty { out += "  schools: \(p.schools.joined(separator: ", "))\n" }
            if !p.ledgers.isEmpty { out += "  ledgers: \(p.ledgers.joined(separator: ", "))\n" }
            if !p.pairedStudents.isEmpty { out += "  paired through the parent portal with: \(p.pairedStudents.joined(separator: ", "))\n" }
            for r in p.permissionRoles {
                out += "  form permission role \(r.role)\(r.buildings.isEmpty ? " (all buildings: none/owner)" : " in buildings \(r.buildings.joined(separator: ", "))")\n"
            }
            out += "  history:\n" + ListLimit.more(whole.count - history.count, indent: "    ", word: "earlier")
            for h in history { out += "    " + ControlCommand.historyLine(h) }
            return out
        })
        return 0
    }

    fileprivate func emitUser(_ args: Arguments, json: () throws -> JSONValue, text: () throws -> String) rethrows {
        if args.flag("json") { console.out(try json().rendered() + "\n") } else { console.out(try text()) }
    }
}

extension ControlCommand {
    /// The user as `--json` shows it (docs/json.md); the API shows the same without history.
    static func userJSON(_ p: UserProfile, history: [StoredChange]? = nil) -> JSONValue {
        JSONShapes.user(p, history: history)
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
