import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a command writes: stdout for results, stderr for errors. Tests capture both.
public protocol Console: AnyObject {
    func out(_ text: String)
    func err(_ text: String)
    /// A password: at a terminal asked for with `prompt` and read without echo; from a pipe
    /// or a file one line of standard input, without its line ending. nil at end of input.
    func readSecret(prompt: String) throws -> String?
    /// Whether secrets are typed by a person at a terminal, who is asked twice for a new
    /// password (a typo there would lock them out).
    var readsSecretsFromTerminal: Bool { get }
    /// The width of the terminal that standard output is, or nil when it is not a terminal
    /// (a pipe, a file): long output is paged and tables fitted only at a terminal.
    var outputColumns: Int? { get }
}

/// The process's own stdout and stderr.
public final class ProcessConsole: Console {
    public init() {}
    public func out(_ text: String) { Self.write(STDOUT_FILENO, text) }
    public func err(_ text: String) { Self.write(STDERR_FILENO, text) }
    public var readsSecretsFromTerminal: Bool { isatty(STDIN_FILENO) == 1 }
    public var outputColumns: Int? {
        guard isatty(STDOUT_FILENO) == 1 else { return nil }
        var size = winsize()
        // A terminal that does not say its size (a serial line) is taken as 80 wide.
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
    public func readSecret(prompt: String) throws -> String? {
        guard let terminal = PasswordPrompt() else { return readLine(strippingNewline: true) }
        return try terminal.read(prompt: prompt)
    }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
                off += n
            }
        }
    }
}

/// A console that keeps what was written, for tests.
public final class CapturedConsole: Console {
    public private(set) var stdout = ""
    public private(set) var stderr = ""
    /// Lines the command reads from "standard input".
    public var input: [String] = []
    /// Whether the command is to behave as at a terminal; the prompts it showed.
    public var readsSecretsFromTerminal = false
    /// Set to behave as if standard output were a terminal this wide (paging, tables).
    public var outputColumns: Int?
    public private(set) var prompts: [String] = []
    public init() {}
    public func readSecret(prompt: String) -> String? {
        if readsSecretsFromTerminal { prompts.append(prompt) }
        return input.isEmpty ? nil : input.removeFirst()
    }
    public func out(_ text: String) { stdout += text }
    public func err(_ text: String) { stderr += text }
}
