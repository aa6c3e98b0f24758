import Foundation
import SISync

// In the letters, not beside `PortalSettings` in the engine: a template is made only to be
// drawn, and sisyncd, which links only the engine, never draws one.
extension PortalSettings {
    /// The template letters are made from: the configured file, checked line by line, or
    /// the built-in text with the lines whose settings are missing left out.
    public func template() throws(ConfigError) -> LetterTemplate {
        guard let path = letterTemplate else { return LetterTemplate.builtIn(for: self) }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription) ([portal] letter_template; is it UTF-8 text, readable by this user?)")
        }
        return try LetterTemplate(text: text, file: path)
    }
}
