import Foundation

/// `[portal]`: what a parent letter says besides the student and the code, so that an office
/// can send it as it is: the district, the portal's address, whom to ask, the schools'
/// names, the paper, and optionally the office's own wording.
public struct PortalSettings: Sendable, Equatable {
    public enum Paper: String, Sendable, CaseIterable {
        case letter, a4

        /// Width and height in PostScript points.
        public var size: (width: Double, height: Double) {
            switch self {
            case .letter: return (612, 792)
            case .a4: return (595, 842)
            }
        }
    }

    public var districtName: String?
    public var portalURL: String?
    public var contact: String?
    /// `school.101 = Riverside Elementary`.
    public var schoolNames: [String: String] = [:]
    public var paper: Paper = .letter
    /// `letter_template`: a plain-text file with `{placeholders}`; nil: the built-in text.
    public var letterTemplate: String?

    public init() {}

    /// The school's name, or `school 103` when `[portal]` does not name it.
    public func schoolName(_ id: String) -> String {
        schoolNames[id] ?? (id.isEmpty ? "" : "school \(id)")
    }

    /// The template letters are made from: the configured file, checked line by line, or
    /// the built-in text with the lines whose settings are missing left out. In the engine so
    /// that `sisyncd --check-config` reads it as `access letters` will.
    public func template() throws(ConfigError) -> LetterTemplate {
        guard let path = letterTemplate else { return LetterTemplate.builtIn(for: self) }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription) ([portal] letter_template; is it UTF-8 text, readable by this user?)")
        }
        return try LetterTemplate(text: text, file: path)
    }
}
