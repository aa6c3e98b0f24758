import Foundation
import SISync

extension ControlCommand {
    /// `sisyncctl access ...`: parent-portal access codes and pairings.
    func accessCommand(_ args: Arguments, _ words: [String]) throws -> Int32 {
        let now = Date()
        let c = try rulesConfiguration(args)
        let store = try RosterStore(location: c.store, mustExist: true)
        func logged(_ message: String, user: String? = nil, student: String? = nil) {
            var fields: [(String, String)] = [("SISYNC_ACTOR", actor)]
            if let user { fields.append(("SISYNC_USERNAME", user)) }
            if let student { fields.append(("SISYNC_STUDENT_ID", student)) }
            log.log(LogEvent(.portalAccess, .notice, message, fields: fields))
        }
        func codeJSON(_ student: String, _ code: String) -> JSONValue {
            .object([("student_id", .string(student)), ("code", .string(AccessCode.display(code)))])
        }
        switch (words.first ?? "", words.count) {
        case ("enable", 1) where args.flag("all"):
            let n = try store.accessCodes.enableAccessForAll(school: args.value("school"), actor: actor, now: now)
            logged("\(actor) created access codes for \(n) students\(args.value("school").map { " of school \($0)" } ?? "")")
            emit(args, json: { .object([("created", .int(n))]) }, text: { "created access codes for \(n) students\n" })
            return 0
        case ("enable", 2):
            let (code, created) = try store.accessCodes.enableAccess(student: words[1], actor: actor, now: now)
            if created { logged("\(actor) created the access code of student \(words[1])", student: words[1]) }
            emit(args, json: { codeJSON(words[1], code) }, text: { "\(words[1]): \(AccessCode.display(code))\(created ? " (new)" : "")\n" })
            return 0
        case ("reset", 2):
            let code = try store.accessCodes.resetAccess(student: words[1], actor: actor, now: now)
            logged("\(actor) reset the access code of student \(words[1]); the old code no longer pairs", student: words[1])
            emit(args, json: { codeJSON(words[1], code) }, text: { "\(words[1]): \(AccessCode.display(code)) (the old code no longer pairs; existing pairings stay)\n" })
            return 0
        case ("pair", 1):
            guard let user = args.value("user"), let code = args.value("code") else {
                console.err("sisyncctl: access pair needs --user U and --code CODE\n")
                return 64
            }
            let student: String, roles: RolePlan
            do { (student, roles) = try store.pairParent(username: user, typedCode: code, roles: c.roleSettings(on: now), actor: actor, now: now) } catch let e as AccessError {
                logged("pairing refused for user \(user): \(e)", user: user)
                throw e
            }
            logged("user \(user) paired with student \(student)", user: user, student: student)
            emit(args, json: { .object([("username", .string(user)), ("student_id", .string(student)),
                                        ("roles_granted", .array(roles.granted.map { .string($0.label) }))]) },
                 text: { "\(user) paired with student \(student)\(roles.granted.isEmpty ? "" : "; granted " + roles.granted.map(\.label).joined(separator: ", "))\n" })
            return 0
        case ("list", 2):
            let list = try store.accessCodes.pairings(student: words[1])
            emit(args, json: { .array(list.map { .object([("username", .string($0.username)), ("name", .string($0.name)),
                                                          ("email", .string($0.email)), ("paired_at", .string($0.pairedAt))]) }) },
                 text: {
                     var t = TextTable(["username", "name", "email", "paired"])
                     for p in list { t.add([p.username, p.name, p.email, p.pairedAt]) }
                     return t.rendered() + "\(list.count) paired user\(list.count == 1 ? "" : "s")\n"
                 })
            return 0
        case ("revoke", 1):
            let students = args.values("student")
            guard let user = args.value("user"), !students.isEmpty else {
                console.err("sisyncctl: access revoke needs --user U and one or more --student S\n")
                return 64
            }
            try store.accessCodes.revokeAccess(username: user, students: students, actor: actor, now: now)
            logged("\(actor) ended the pairing of user \(user) with \(students.joined(separator: ", ")) and reset their codes", user: user)
            _ = try store.roles.refreshRoles(of: [user], settings: c.roleSettings(on: now), actor: actor, now: now)
            emit(args, json: { .object([("username", .string(user)), ("students", .array(students.map { .string($0) }))]) },
                 text: { "ended the pairing of \(user) with \(students.joined(separator: ", ")); their codes were reset\n" })
            return 0
        case ("instructions", 2):
            return try accessInstructions(args, student: words[1], configuration: c, store: store, now: now)
        case ("letters", 1):
            return try accessLetters(args, configuration: c, store: store, now: now, logged: { logged($0) })
        case ("export", 1):
            // Names come from the SIS: quoted and neutralised for spreadsheets (issue 26 item 11).
            var csv = CSVWriter(header: ["student_id", "name", "school_id", "code"])
            for r in try store.accessCodes.list() { csv.add([r.studentID, r.name, r.school, AccessCode.display(r.code)]) }
            logged("\(actor) exported the access codes")
            console.out(csv.text)
            return 0
        default:
            console.err("sisyncctl: unknown command `access \(words.joined(separator: " "))`\n\(Self.commandHelp["access"]!)")
            return 64
        }
    }
}
