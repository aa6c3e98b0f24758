import Foundation
import SISync

extension LetterTemplate {
    /// The letter's lines for one student, placeholders filled in. `isolating` wraps each
    /// value in Unicode isolates (FSI … PDI), so that a name in Hebrew or Arabic is set right
    /// to left inside the template's sentence without turning the sentence around.
    public func fill(_ letter: ParentLetter, isolating: Bool = false) -> [ParentLetter.Line] {
        lines.map { line in
            switch line {
            case .code: return .code(AccessCode.display(letter.code))
            case .text(let pieces):
                return .text(pieces.map { piece in
                    switch piece {
                    case .literal(let s): return s
                    case .placeholder(let name): return isolating ? "\u{2068}" + letter.value(of: name) + "\u{2069}" : letter.value(of: name)
                    }
                }.joined())
            }
        }
    }
}
