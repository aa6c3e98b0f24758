import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a command writes: stdout for results, stderr for errors. Tests capture both.
public protocol Console: AnyObject {
    func out(_ text: String)
    func err(_ text: String)
    /// One line from standard input (a password), without its line ending; nil at end of input.
    func readSecretLine() -> String?
}

/// The process's own stdout and stderr.
public final class ProcessConsole: Console {
    public init() {}
    public func out(_ text: String) { Self.write(STDOUT_FILENO, text) }
    public func err(_ text: String) { Self.write(STDERR_FILENO, text) }
    public func readSecretLine() -> String? { readLine(strippingNewline: true) }

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
    public init() {}
    public func readSecretLine() -> String? { input.isEmpty ? nil : input.removeFirst() }
    public func out(_ text: String) { stdout += text }
    public func err(_ text: String) { stderr += text }
}
