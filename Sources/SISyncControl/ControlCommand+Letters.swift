import Foundation
import SISync
import SISyncLetters

extension ControlCommand {
    /// `access instructions STUDENT [--pdf FILE [--force]]`: one family's letter, as text on
    /// stdout or as a one-page PDF. The code appears only there, never in a log.
    func accessInstructions(_ args: Arguments, student id: String, configuration c: Configuration, store: RosterStore, now: Date) throws -> Int32 {
        let template = try c.portal.template()
        guard let student = try store.accessCodes.letterStudent(id) else { throw AccessError.noSuchStudent(id) }
        guard let code = student.code else { throw AccessError.noCode(id) }
        let letter = Self.letter(student, code: code, portal: c.portal, date: ParentLetter.dateText(now))
        guard let pdf = args.value("pdf") else {
            console.out(letter.text(template))
            return 0
        }
        warnMissingGlyphs(try Self.writeLetters([template.fill(letter, isolating: true)], to: pdf, replace: args.flag("force"), paper: c.portal.paper), pdf)
        log.log(LogEvent(.portalAccess, .notice, "\(actor) made the parent letter of student \(id)",
                         fields: [("SISYNC_ACTOR", actor), ("SISYNC_STUDENT_ID", id)]))
        console.out("wrote the letter for \(student.name) (\(id)) to \(pdf)\n")
        return 0
    }

    /// `access letters [--school ID] [--grade G] [--without-pairing] --pdf FILE [--force]`:
    /// one page per enrolled student, sorted by school, grade and name, for an office to
    /// print and hand out. Students without a code get one first, as `enable --all` does.
    func accessLetters(_ args: Arguments, configuration c: Configuration, store: RosterStore, now: Date, logged: (String) -> Void) throws -> Int32 {
        guard let pdf = args.value("pdf") else {
            console.err("sisyncctl: access letters needs --pdf FILE (the codes go only into that file)\n")
            return 64
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
        let pages = students.map { template.fill(Self.letter($0, code: $0.code ?? "", portal: c.portal, date: date), isolating: true) }
        warnMissingGlyphs(try Self.writeLetters(pages, to: pdf, replace: args.flag("force"), paper: c.portal.paper), pdf)
        logged("\(actor) made \(pages.count) parent letters\(scope)")
        emit(args, json: { .object([("letters", .int(pages.count)), ("codes_created", .int(created.count)), ("file", .string(pdf))]) },
             text: { "wrote \(pages.count) letter\(pages.count == 1 ? "" : "s") (one page each)\(scope) to \(pdf); created access codes for \(created.count) students who had none\n" })
        return 0
    }

    static func letter(_ s: LetterStudent, code: String, portal: PortalSettings, date: String) -> ParentLetter {
        ParentLetter(studentID: s.studentID, studentName: s.name, schoolID: s.schoolID, school: portal.schoolName(s.schoolID), grade: s.grade,
                     code: code, portalURL: portal.portalURL ?? "", districtName: portal.districtName ?? "", contact: portal.contact ?? "",
                     date: date)
    }

    /// What went wrong on paper while the pages were written (nothing, usually).
    struct LetterDefects {
        var missingGlyphs = 0
        var overflowingPages = 0
    }

    /// Writes the pages; returns what would not show on paper.
    @discardableResult
    static func writeLetters(_ pages: [[ParentLetter.Line]], to path: String, replace: Bool, paper: PortalSettings.Paper) throws -> LetterDefects {
        let file = try PrivateFile(path: path, replace: replace)
        let pdf = try LetterPDF(output: file, paper: paper, title: "Parent portal access")
        for page in pages { try pdf.addPage(page) }
        try pdf.finish()
        try file.commit()
        return LetterDefects(missingGlyphs: pdf.missingGlyphs, overflowingPages: pdf.overflowingPages)
    }

    /// Says so when a letter has characters no installed font could show, or runs off the page.
    func warnMissingGlyphs(_ defects: LetterDefects, _ path: String) {
        var messages: [String] = []
        let count = defects.missingGlyphs
        if count > 0 {
            messages.append("\(path): \(count) character\(count == 1 ? "" : "s") could not be set in any installed font and print as boxes; install the fonts the README lists (fonts-noto-core, fonts-noto-cjk)")
        }
        if defects.overflowingPages > 0 {
            messages.append("\(path): the text of \(defects.overflowingPages) page\(defects.overflowingPages == 1 ? "" : "s") runs past the bottom margin and is cut off on paper; shorten [portal] letter_template")
        }
        for message in messages {
            console.err("sisyncctl: warning: \(message)\n")
            log.log(LogEvent(.portalAccess, .warning, message, fields: [("SISYNC_ACTOR", actor)]))
        }
    }
}
