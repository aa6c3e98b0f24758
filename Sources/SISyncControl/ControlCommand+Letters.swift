import Foundation
import SISync
import SISyncLetters

extension ControlCommand {
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
