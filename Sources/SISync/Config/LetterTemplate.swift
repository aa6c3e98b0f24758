import Foundation

/// A parent letter's wording: plain text with `{placeholders}` that an office may replace
/// with its own (`[portal] letter_template`). In the engine, not with the letters, so that
/// `sisyncd --check-config` can read the template without linking pango and cairo; the
/// letters fill it in (`LetterTemplate+Fill.swift`). A line that is only `{code}` is where the
/// code is set large, with the line that says case and dashes do not matter. `{{` and `}}`
/// are literal braces.
public struct LetterTemplate: Sendable, Equatable {
    public static let placeholders = ["student_name", "student_id", "school", "grade", "code", "portal_url", "district_name", "contact", "date"]

    /// One line of the template: text with placeholders, or the code's own line.
    public enum Line: Sendable, Equatable {
        case text([Piece])
        case code
    }

    public enum Piece: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    public let lines: [Line]

    /// Parses a template; an unknown placeholder or an unclosed brace is a configuration
    /// error naming the file, the line and the placeholder.
    public init(text: String, file: String) throws(ConfigError) {
        var lines: [Line] = []
        var number = 0
        for raw in INIDocument.lines(of: text) {
            number += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.trimmingCharacters(in: .whitespaces) == "{code}" { lines.append(.code); continue }
            var pieces: [Piece] = []
            var literal = ""
            var i = line.startIndex
            while i < line.endIndex {
                let c = line[i]
                let next = line.index(after: i)
                if c == "{", next < line.endIndex, line[next] == "{" { literal.append("{"); i = line.index(after: next); continue }
                if c == "}", next < line.endIndex, line[next] == "}" { literal.append("}"); i = line.index(after: next); continue }
                if c == "{" {
                    guard let close = line[next...].firstIndex(of: "}") else {
                        throw .template(file: file, line: number, placeholder: String(line[i...]), message: "an opening brace without its closing one (write {{ for a literal brace)")
                    }
                    let name = String(line[next..<close])
                    guard Self.placeholders.contains(name) else {
                        throw .template(file: file, line: number, placeholder: "{\(name)}",
                                        message: "unknown placeholder; the placeholders are " + Self.placeholders.map { "{\($0)}" }.joined(separator: ", "))
                    }
                    if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
                    pieces.append(.placeholder(name))
                    i = line.index(after: close)
                    continue
                }
                if c == "}" {
                    throw .template(file: file, line: number, placeholder: "}", message: "a closing brace without its opening one (write }} for a literal brace)")
                }
                literal.append(c)
                i = next
            }
            if !literal.isEmpty { pieces.append(.literal(literal)) }
            lines.append(.text(pieces))
        }
        while case .text(let p)? = lines.last, p.isEmpty { lines.removeLast() }
        let hasCode = lines.contains { line in
            if case .text(let pieces) = line { return pieces.contains(.placeholder("code")) }
            return true
        }
        guard hasCode else {
            throw .template(file: file, line: max(1, number), placeholder: "{code}",
                            message: "the template never says the code: put {code} on a line of its own (where it is set large)")
        }
        self.lines = lines
    }

    /// The built-in wording: what `access instructions` always said, with the school's
    /// name, the portal's address and the contact where `[portal]` gives them.
    public static func builtIn(for settings: PortalSettings) -> LetterTemplate {
        var text = ""
        if settings.districtName != nil { text += "{district_name}\n" }
        text += "{school}\n{date}\n\n"
        text += "Parent portal access for {student_name} (student {student_id}, grade {grade})\n\n"
        text += "Your access code:\n{code}\n\n"
        if settings.portalURL != nil {
            text += "1. Go to {portal_url} and sign in with your own account (ask the school office for an account if you do not have one yet).\n"
        } else {
            text += "1. Sign in to the parent portal with your own account (ask the school office for an account if you do not have one yet).\n"
        }
        text += "2. Open \"Add a student\" and type the access code above.\n"
        text += "3. {student_name} then appears in your account. Keep this code private: anyone with it can pair with your child. If it was shared by mistake, ask the school office for a new one; the old code then stops working.\n"
        if settings.contact != nil { text += "\nQuestions? {contact}\n" }
        // The built-in text has only known placeholders and balanced braces.
        return try! LetterTemplate(text: text, file: "<built-in letter>")
    }
}
