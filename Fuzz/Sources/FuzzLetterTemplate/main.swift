// The parent letter template (`[portal] letter_template`): LetterTemplate(text:file:) reads
// an office's plain text with {placeholders}.
//
// It throws only ConfigError.template (caught by the typed throw); a finding is a crash, or
// a template that parses but whose filled-in letter loses the code: every letter must say
// it, in the code's own line or inline.
@testable import SISync
@testable import SISyncLetters
import FuzzSupport

let letter = ParentLetter(studentID: "ST1", studentName: "Kim Lima", schoolID: "101", school: "Riverside Elementary", grade: "5",
                          code: "7KQ4M9TX", portalURL: "https://portal.example.org", districtName: "Riverside USD",
                          contact: "Office", date: "December 1, 2026")

fuzzMain { data in
    let text = String(decoding: data, as: UTF8.self)
    guard let template = try? LetterTemplate(text: text, file: "letter.txt") else { return }
    let lines = template.fill(letter, isolating: true)
    let says = lines.contains { line in
        switch line {
        case .code(let c): return c == "7KQ4-M9TX"
        case .text(let t): return t.contains("7KQ4-M9TX")
        }
    }
    guard says else { finding("LetterTemplate: a template that parses does not say the code: \(text.debugDescription)") }
    _ = letter.text(template)
}
