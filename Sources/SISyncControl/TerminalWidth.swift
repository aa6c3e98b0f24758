import Foundation

/// How wide text output may be: `$COLUMNS` when it is set to a number (as git and
/// systemctl read it), else the width of the terminal standard output is, else 80, so that
/// what a script or a test reads does not depend on the window it ran in.
enum TerminalWidth {
    static let fallback = 80

    static func columns(environment: [String: String], terminalColumns: Int?) -> Int {
        if let text = environment["COLUMNS"], let n = Int(text.trimmingCharacters(in: .whitespaces)), n > 0 { return n }
        if let n = terminalColumns, n > 0 { return n }
        return fallback
    }
}
