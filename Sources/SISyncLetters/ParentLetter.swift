import Foundation
import SISync

/// One student's login instructions for the family: who, which school, the code, and where
/// to use it. A value: `access instructions` prints it, `access letters` sets one per page.
public struct ParentLetter: Sendable, Equatable {
    public var studentID: String
    public var studentName: String
    public var schoolID: String
    public var school: String
    public var grade: String
    /// The stored code (no dash).
    public var code: String
    public var portalURL: String
    public var districtName: String
    public var contact: String
    /// The day the letter is dated, as people write it (`December 1, 2026`).
    public var date: String

    package init(studentID: String, studentName: String, schoolID: String, school: String, grade: String, code: String,
                 portalURL: String, districtName: String, contact: String, date: String) {
        self.studentID = studentID
        self.studentName = studentName
        self.schoolID = schoolID
        self.school = school
        self.grade = grade
        self.code = code
        self.portalURL = portalURL
        self.districtName = districtName
        self.contact = contact
        self.date = date
    }

    /// A filled-in line: text, or the code set large.
    public enum Line: Sendable, Equatable {
        case text(String)
        case code(String)
    }

    /// Said under the code on every letter (codes are read generously: README, "Parent-portal access codes").
    public static let codeHint = "Letters may be typed in either case; the dash is optional."

    public func value(of placeholder: String) -> String {
        switch placeholder {
        case "student_name": return studentName
        case "student_id": return studentID
        case "school": return school
        case "grade": return grade
        case "code": return AccessCode.display(code)
        case "portal_url": return portalURL
        case "district_name": return districtName
        case "contact": return contact
        case "date": return date
        default: return ""
        }
    }

    /// The letter as plain text (`access instructions`).
    public func text(_ template: LetterTemplate) -> String {
        template.fill(self).map { line in
            switch line {
            case .text(let s): return s
            case .code(let code): return "    \(code)\n    (\(Self.codeHint))"
            }
        }.joined(separator: "\n") + "\n"
    }

    /// `December 1, 2026`.
    public static func dateText(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone.current
        f.dateFormat = "MMMM d, yyyy"
        return f.string(from: date)
    }
}
