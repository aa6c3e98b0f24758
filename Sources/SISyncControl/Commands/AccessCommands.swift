import Foundation
import SISync
import SISyncLetters

// `sisyncctl access ...`: parent-portal access codes and pairings. Codes are never logged.

/// `access enable STUDENT | --all [--school ID]`.
struct AccessEnableCommand: ControlSubcommand {
    static let name = "access enable"
    static let arguments: [CommandArgument] = [.optional("STUDENT")]
    static let options: [CommandOption] = [.flag("all"), .value("school", "ID")]
    static let synopsis = ["access enable STUDENT", "access enable --all [--school ID]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Gives a student an access code (8 characters such as 7KQ4-M9TX, from the system's random source), or \
        shows the one they have; with --all, codes for every active student without one (of one school with \
        --school).
        """
    static let example = "sisyncctl access enable --all --school 101"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        words.isEmpty && !args.flag("all") ? "missing STUDENT (or --all)" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let (now, _, store) = try portal()
        if args.flag("all") && words.isEmpty {
            let n = try store.accessCodes.enableAccessForAll(school: args.value("school"), actor: actor, now: now)
            logged("\(actor) created access codes for \(n) students\(args.value("school").map { " of school \($0)" } ?? "")")
            emit(args, json: { .object([("created", .int(n))]) }, text: { "created access codes for \(n) students\n" })
            return 0
        }
        guard words.count == 1 else {
            return usageError()
        }
        let (code, created) = try store.accessCodes.enableAccess(student: words[0], actor: actor, now: now)
        if created { logged("\(actor) created the access code of student \(words[0])", student: words[0]) }
        emit(args, json: { codeJSON(words[0], code) }, text: { "\(words[0]): \(AccessCode.display(code))\(created ? " (new)" : "")\n" })
        return 0
    }
}

/// `access reset STUDENT`.
struct AccessResetCommand: ControlSubcommand {
    static let name = "access reset"
    static let arguments: [CommandArgument] = [.required("STUDENT")]
    static let storeAccess = StoreAccess.writes
    static let help = "Makes a new code for a student; the old one no longer pairs, existing pairings stay."
    static let example = "sisyncctl access reset 3001"
    let call: CommandCall

    func run() throws -> Int32 {
        let (now, _, store) = try portal()
        let code = try store.accessCodes.resetAccess(student: words[0], actor: actor, now: now)
        logged("\(actor) reset the access code of student \(words[0]); the old code no longer pairs", student: words[0])
        emit(args, json: { codeJSON(words[0], code) }, text: { "\(words[0]): \(AccessCode.display(code)) (the old code no longer pairs; existing pairings stay)\n" })
        return 0
    }
}

/// `access pair --user U --code CODE`.
struct AccessPairCommand: ControlSubcommand {
    static let name = "access pair"
    static let options: [CommandOption] = [.value("user", "U"), .value("code", "CODE")]
    static let synopsis = ["access pair --user U --code CODE"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Pairs an approved user with the active student of a code and grants Parent at once (R7), as the portal \
        does when a family types it. A code of an inactive student is answered and counted as a wrong code; five \
        failed attempts by a user within 15 minutes refuse further attempts for 15 minutes.
        """
    static let example = "sisyncctl access pair --user fitzgerald --code 7KQ4-M9TX"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("user") == nil || args.value("code") == nil ? "missing --user U and --code CODE" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let (now, c, store) = try portal()
        guard let user = args.value("user"), let code = args.value("code") else {
            return usageError()
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
    }
}

/// `access list STUDENT`: who is paired with the student.
struct AccessListCommand: ControlSubcommand {
    static let name = "access list"
    static let arguments: [CommandArgument] = [.required("STUDENT")]
    static let help = "Lists the users paired with a student."
    static let example = "sisyncctl access list 3001"
    let call: CommandCall

    func run() throws -> Int32 {
        let (_, _, store) = try portal()
        let list = try store.accessCodes.pairings(student: words[0])
        emit(args, json: { .array(list.map { .object([("username", .string($0.username)), ("name", .string($0.name)),
                                                      ("email", .string($0.email)), ("paired_at", .string($0.pairedAt))]) }) },
             text: {
                 var t = TextTable(["username", "name", "email", "paired"])
                 for p in list { t.add([p.username, p.name, p.email, LocalTime.text(stored: p.pairedAt)]) }
                 return t.rendered() + "\(list.count) paired user\(list.count == 1 ? "" : "s")\n"
             })
        return 0
    }
}

/// `access revoke --user U --student S ...`.
struct AccessRevokeCommand: ControlSubcommand {
    static let name = "access revoke"
    static let options: [CommandOption] = [.value("user", "U"), .repeated("student", "S")]
    static let synopsis = ["access revoke --user U --student S [--student S2 ...]"]
    static let storeAccess = StoreAccess.writes
    static let help = "Ends a user's pairings with the students named and resets those students' codes."
    static let example = "sisyncctl access revoke --user fitzgerald --student 3001"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("user") == nil || args.values("student").isEmpty ? "missing --user U and one or more --student S" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let (now, c, store) = try portal()
        let students = args.values("student")
        guard let user = args.value("user"), !students.isEmpty else {
            return usageError()
        }
        try store.accessCodes.revokeAccess(username: user, students: students, actor: actor, now: now)
        logged("\(actor) ended the pairing of user \(user) with \(students.joined(separator: ", ")) and reset their codes", user: user)
        _ = try store.roles.refreshRoles(of: [user], settings: c.roleSettings(on: now), actor: actor, now: now)
        emit(args, json: { .object([("username", .string(user)), ("students", .array(students.map { .string($0) }))]) },
             text: { "ended the pairing of \(user) with \(students.joined(separator: ", ")); their codes were reset\n" })
        return 0
    }
}

/// `access instructions STUDENT [--pdf FILE [--force]]`: one family's letter, as text on
/// stdout or as a one-page PDF. The code appears only there, never in a log.
struct AccessInstructionsCommand: ControlSubcommand {
    static let name = "access instructions"
    static let arguments: [CommandArgument] = [.required("STUDENT")]
    static let options: [CommandOption] = [.value("pdf", "FILE"), .flag("force")]
    static let synopsis = ["access instructions STUDENT [--pdf FILE [--force]]"]
    static let help = """
        Prints a family's letter with the student's code ([portal] settings and letter_template), or writes it \
        as a one-page PDF, created mode 0600 and never replacing a file without --force.
        """
    static let example = "sisyncctl access instructions 3001 --pdf letter.pdf"
    let call: CommandCall

    func run() throws -> Int32 {
        let (now, c, store) = try portal()
        let id = words[0]
        let template = try c.portal.template()
        guard let student = try store.accessCodes.letterStudent(id) else { throw AccessError.noSuchStudent(id) }
        guard let code = student.code else { throw AccessError.noCode(id) }
        let letter = ControlCommand.letter(student, code: code, portal: c.portal, date: ParentLetter.dateText(now))
        guard let pdf = args.value("pdf") else {
            emit(args, json: {
                .object([("student_id", .string(id)), ("name", .string(student.name)), ("school_id", .string(student.schoolID)),
                         ("code", .string(AccessCode.display(code))), ("letter", .string(letter.text(template)))])
            }, text: { letter.text(template) })
            return 0
        }
        call.control.warnMissingGlyphs(try ControlCommand.writeLetters([template.fill(letter, isolating: true)], to: pdf, replace: args.flag("force"), paper: c.portal.paper), pdf)
        log.log(LogEvent(.portalAccess, .notice, "\(actor) made the parent letter of student \(id)",
                         fields: [("SISYNC_ACTOR", actor), ("SISYNC_STUDENT_ID", id)]))
        emit(args, json: { .object([("student_id", .string(id)), ("name", .string(student.name)), ("file", .string(pdf))]) }, text: { "wrote the letter for \(student.name) (\(id)) to \(pdf)\n" })
        return 0
    }
}

/// `access letters [--school ID] [--grade G] [--without-pairing] --pdf FILE [--force]`:
/// one page per enrolled student, sorted by school, grade and name, for an office to
/// print and hand out. Students without a code get one first, as `enable --all` does.
struct AccessLettersCommand: ControlSubcommand {
    static let name = "access letters"
    static let options: [CommandOption] = [.value("school", "ID"), .value("grade", "G"), .flag("without-pairing"), .value("pdf", "FILE"), .flag("force")]
    static let synopsis = ["access letters [--school ID] [--grade G] [--without-pairing] --pdf FILE [--force]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Writes one letter page per student enrolled this school year into a PDF, sorted by school, grade and \
        name, creating codes for students who have none. The PDF is created mode 0600 and never replaces a file \
        without --force.
        """
    static let example = "sisyncctl access letters --school 101 --pdf school101.pdf"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("pdf") == nil ? "missing --pdf FILE (the codes go only into that file)" : nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let (now, c, store) = try portal()
        guard let pdf = args.value("pdf") else {
            return usageError()
        }
        let template = try c.portal.template()
        let school = args.value("school"), grade = args.value("grade")
        let withoutPairing = args.flag("without-pairing")
        // (Before codes are created; PrivateFile checks again when it puts the file in place.)
        if !args.flag("force"), FileManager.default.fileExists(atPath: pdf) { throw LetterPDFError.exists(path: pdf) }
        var students = try store.accessCodes.letterStudents(schoolYear: c.currentSchoolYear(on: now), school: school, grade: grade,
                                                            withoutPairing: withoutPairing)
        var which: [String] = []
        which.append(school.map { "school \($0)" } ?? "all schools")
        if let grade { which.append("grade \(grade)") }
        if withoutPairing { which.append("not paired yet") }
        let scope = which.isEmpty ? "" : " (\(which.joined(separator: ", ")))"
        guard !students.isEmpty else {
            console.err("sisyncctl: no enrolled student of school year \(c.currentSchoolYear(on: now)) matches\(scope); nothing was written\n")
            return 1
        }
        let missing = students.filter { $0.code == nil }.map(\.studentID)
        let created = try store.accessCodes.createCodes(students: missing, actor: actor, now: now)
        for i in students.indices where students[i].code == nil { students[i].code = created[students[i].studentID] }
        if !created.isEmpty { logged("\(actor) created access codes for \(created.count) students for parent letters\(scope)") }
        let date = ParentLetter.dateText(now)
        let pages = students.map { template.fill(ControlCommand.letter($0, code: $0.code ?? "", portal: c.portal, date: date), isolating: true) }
        call.control.warnMissingGlyphs(try ControlCommand.writeLetters(pages, to: pdf, replace: args.flag("force"), paper: c.portal.paper), pdf)
        logged("\(actor) made \(pages.count) parent letters\(scope)")
        emit(args, json: { .object([("letters", .int(pages.count)), ("codes_created", .int(created.count)), ("file", .string(pdf))]) },
             text: { "wrote \(pages.count) letter\(pages.count == 1 ? "" : "s") (one page each)\(scope) to \(pdf); created access codes for \(created.count) students who had none\n" })
        return 0
    }
}

/// `access export`: every code, for a mail merge.
struct AccessExportCommand: ControlSubcommand {
    static let name = "access export"
    static let help = """
        Writes student_id, name, school_id and code as CSV for a mail merge: the codes of active, enrolled \
        students (a family whose student left gets no letter), every code with --all. A cell starting with =, +, -, @, tab or CR gets a leading ' so that spreadsheets show it as text.
        """
    static let example = "sisyncctl access export > codes.csv"
    static let options: [CommandOption] = [.flag("all")]
    let call: CommandCall

    func run() throws -> Int32 {
        let (_, _, store) = try portal()
        // Names come from the SIS: quoted and neutralised for spreadsheets (issue 26 item 11).
        let codes = try store.accessCodes.list(all: args.flag("all"))
        logged("\(actor) exported the access codes")
        emit(args, json: {
            .array(codes.map { .object([("student_id", .string($0.studentID)), ("name", .string($0.name)), ("school_id", .string($0.school)),
                                        ("code", .string(AccessCode.display($0.code)))]) })
        }, text: {
            var csv = CSVWriter(header: ["student_id", "name", "school_id", "code"])
            for r in codes { csv.add([r.studentID, r.name, r.school, AccessCode.display(r.code)]) }
            return csv.text
        })
        return 0
    }
}

extension ControlSubcommand {
    /// What every access command starts from: now, the configuration's rules, the store.
    fileprivate func portal() throws -> (now: Date, configuration: Configuration, store: RosterStore) {
        let c = try rulesConfiguration(args)
        return (Date(), c, try RosterStore(configuration: c, mustExist: true))
    }

    fileprivate func logged(_ message: String, user: String? = nil, student: String? = nil) {
        var fields: [(String, String)] = [("SISYNC_ACTOR", actor)]
        if let user { fields.append(("SISYNC_USERNAME", user)) }
        if let student { fields.append(("SISYNC_STUDENT_ID", student)) }
        log.log(LogEvent(.portalAccess, .notice, message, fields: fields))
    }

    fileprivate func codeJSON(_ student: String, _ code: String) -> JSONValue {
        .object([("student_id", .string(student)), ("code", .string(AccessCode.display(code)))])
    }
}
