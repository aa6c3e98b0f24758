import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How wide the terminal on standard output is, for text wrapped to it (help). Output that
/// goes to a file or a pipe is 80 columns wide, so that what a script or a test reads does
/// not depend on the window it ran in.
public enum TerminalWidth {
    public static func columns(of fd: Int32 = STDOUT_FILENO, environment: [String: String]) -> Int {
        guard isatty(fd) == 1 else { return 80 }
        // $COLUMNS, when exported, is what the user asks for; else the terminal's size.
        if let text = environment["COLUMNS"], let n = Int(text), n > 0 { return max(n, 40) }
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return max(Int(size.ws_col), 40) }
        return 80
    }
}
