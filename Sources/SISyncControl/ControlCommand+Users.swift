import Foundation
import SISync

extension ControlCommand {
    /// `sisyncctl user ...`: login accounts and their links.
    func userCommand(_ args: Arguments, _ words: [String]) throws -> Int32 {
        let now = Date()
        func store() throws -> RosterStore {
            // Writes go to the configured database; it is created if needed, like a first sync.
            try RosterStore(location: rulesConfiguration(args).store, mustExist: words.first != "add")
        }
        switch (words.first ?? "", words.count) {
        case ("add", 1):
            guard let username = args.value("username"), let email = args.value("email") else {
                console.err("sisyncctl: user add needs --username U and --email E\n")
                return 64
            }
            let s = try store()
            try s.accounts.addUser(username: username, email: email, name: args.value("name") ?? "", approved: args.flag("approved"), actor: actor, now: now,
                          normalizer: keyNormalizer(args))
            return try show(s, username, args)
        case ("list", 1):
            let list = try store().accounts.profiles()
            emitUser(args, json: { .array(list.map { Self.userJSON($0) }) }, text: {
                var t = TextTable(["username", "email", "name", "approved", "locked", "link", "roles"])
                for p in list {
                    let u = p.user
                    t.add([u.username, u.email, u.name, u.approved ? "yes" : "no", u.locked ? "yes" : "no",
                           u.link.map { "\($0.staffID) (\($0.kind.rawValue))" } ?? "-",
                           (p.manualRoles + p.calculatedRoles.map(\.label)).joined(separator: ", ")])
                }
                return t.rendered() + "\(list.count) user\(list.count == 1 ? "" : "s")\n"
            })
            return 0
        case ("show", 2):
            return try show(store(), words[1], args)
        case ("approve", 2), ("unapprove", 2), ("unlock", 2):
            let s = try store()
            let field = words[0] == "unlock" ? "locked" : "approved"
            try s.accounts.setFlag(words[1], field: field, to: words[0] == "approve", actor: actor, now: now)
            return try show(s, words[1], args)
        case ("remove", 2):
            try store().accounts.removeUser(words[1], actor: actor, now: now)
            if !args.flag("json") { console.out("user \(words[1]) removed\n") } else { console.out("{}\n") }
            return 0
        case ("link", 3):
            guard let reason = args.value("reason"), !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                console.err("sisyncctl: a manual link needs --reason TEXT (why this user records for this staff member)\n")
                return 64
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
            try s.accounts.linkManually(words[1], staffID: words[2], reason: reason, until: args.value("until"), actor: actor, now: now)
            return try show(s, words[1], args)
        case ("unlink", 2):
            let s = try store()
            try s.accounts.unlink(words[1], actor: actor, now: now)
            return try show(s, words[1], args)
        case ("attach", 2), ("detach", 2):
            let given = AttachmentKind.allCases.compactMap { k in args.value(k.rawValue).map { (k, $0) } }
            guard given.count == 1, let (kind, id) = given.first else {
                console.err("sisyncctl: user \(words[0]) U takes one of --student ID, --household ID or --donor ID\n")
                return 64
            }
            let s = try store()
            try s.accounts.setAttachment(words[1], kind: kind, recordID: id, attached: words[0] == "attach", actor: actor, now: now)
            return try show(s, words[1], args)
        case ("role", 4) where words[1] == "add" || words[1] == "remove":
            let s = try store()
            try s.accounts.setManualRole(words[2], role: words[3], granted: words[1] == "add", actor: actor, now: now)
            return try show(s, words[2], args)
        case ("school", 4) where words[1] == "add" || words[1] == "remove",
             ("ledger", 4) where words[1] == "add" || words[1] == "remove":
            let s = try store()
            try s.accounts.setListEntry(words[2], list: UserList(rawValue: words[0])!, value: words[3], present: words[1] == "add", actor: actor, now: now)
            return try show(s, words[2], args)
        case ("assign", 2), ("assign", 3), ("unassign", 3):
            return try assignCommand(args, words)
        case ("passwd", 2):
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
                    console.err("sisyncctl: the two passwords differ; nothing was changed (run user passwd \(words[1]) again)\n")
                    return 1
                }
            }
            let hash = try PasswordHash.make(password)
            // The run lock only now: never while someone types a password.
            let lock = try takeRunLock(args, command: "user passwd", wait: waitSeconds(args))
            let s = try store()
            try withExtendedLifetime(lock) { try s.accounts.setPassword(words[1], hash: hash, actor: actor, now: now) }
            if !args.flag("json") { console.out("password of \(words[1]) set; the account is unlocked\n") } else { console.out("{}\n") }
            return 0
        case ("login", 2):
            guard let password = try console.readSecret(prompt: "Password: ") else {
                console.err("sisyncctl: user login reads the password from standard input\n")
                return 64
            }
            let lock = try takeRunLock(args, command: "user login", wait: waitSeconds(args))
            let outcome = try withExtendedLifetime(lock) { try store().accounts.login(words[1], password: password, now: now) }
            if outcome == .accepted {
                console.out("accepted\n")
                return 0
            }
            console.err("rejected: \(outcome.reason)\n")
            return 1
        case ("import", 2):
            let rows = try UserImport.read(path: words[1])
            let s = try store()
            let result = try s.accounts.importUsers(rows, file: words[1], actor: actor, now: now, normalizer: keyNormalizer(args))
            if args.flag("json") {
                console.out(JSONValue.object([("added", .int(result.added)), ("updated", .int(result.updated)), ("unchanged", .int(result.unchanged))]).rendered() + "\n")
            } else {
                console.out("\(words[1]): \(result.added) added, \(result.updated) updated, \(result.unchanged) unchanged; links and roles follow on the next run\n")
            }
            return 0
        default:
            console.err("sisyncctl: unknown command `user \(words.joined(separator: " "))`\n\(Self.commandHelp["user"]!)")
            return 64
        }
    }

    /// The R6 email normalizer of the configuration, to key new emails as the daemon
    /// would; nil with `--db` alone (the next run keys them).
    private func keyNormalizer(_ args: Arguments) -> EmailNormalizer? {
        if args.value("db") != nil && args.value("config") == nil { return nil }
        return (try? rulesConfiguration(args)).map { EmailNormalizer(aliases: $0.emailDomainAliases) }
    }

    private func show(_ store: RosterStore, _ username: String, _ args: Arguments) throws -> Int32 {
        guard let p = try store.accounts.profiles(username: username).first else { throw AccountError.noSuchUser(username) }
        let u = p.user
        let history = try store.auditTrail.userHistory(u.username)
        emitUser(args, json: { Self.userJSON(p, history: history) }, text: {
            var out = "\(u.username) <\(u.email)>\(u.name.isEmpty ? "" : " \(u.name)")\n"
            out += "  approved: \(u.approved ? "yes" : "no"), locked: \(u.locked ? "yes" : "no"), created \(u.createdAt)\n"
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
            out += "  history:\n"
            for h in history { out += "    \(h.at) \(h.runID.map { "run \($0)" } ?? "by hand") (\(h.actor)): " + RunReport.changeLine(h.change) + "\n" }
            return out
        })
        return 0
    }

    private func emitUser(_ args: Arguments, json: () throws -> JSONValue, text: () throws -> String) rethrows {
        if args.flag("json") { console.out(try json().rendered() + "\n") } else { console.out(try text()) }
    }

    /// The user as `--json` shows it (docs/json.md); the API shows the same without history.
    static func userJSON(_ p: UserProfile, history: [StoredChange]? = nil) -> JSONValue {
        JSONShapes.user(p, history: history)
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
