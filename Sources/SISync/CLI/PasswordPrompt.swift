import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Asks for a password at a terminal without showing it (issue 26 item 18). It owns the
/// terminal's settings while it reads: echo goes off before the prompt is shown and comes
/// back however the read ends, a SIGINT, SIGTERM, SIGHUP or SIGQUIT included (their
/// handler restores the settings, then lets the signal end the process as it would have).
/// The prompt goes to the controlling terminal (`/dev/tty`), or to standard error when
/// there is none, never to standard output, which stays the command's result.
final class PasswordPrompt {
    private let input: Int32
    private let output: Int32
    private let ownsOutput: Bool

    /// The settings to restore from a signal handler, which can reach only global state.
    /// Set before the handlers are installed and cleared after they are removed; sisyncctl
    /// reads one password at a time.
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var savedDescriptor: Int32 = -1
    nonisolated(unsafe) private static var savedOutput: Int32 = STDERR_FILENO
    /// Signals whose default action ends the process with the terminal left silent.
    private static let endingSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// nil when `input` is not a terminal (a pipe, a file): then a line is read as it comes.
    init?(input: Int32 = STDIN_FILENO) {
        guard isatty(input) == 1 else { return nil }
        self.input = input
        let tty = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)
        output = tty >= 0 ? tty : STDERR_FILENO
        ownsOutput = tty >= 0
    }

    deinit { if ownsOutput { close(output) } }

    /// Shows `prompt`, reads one line with echo off (without its line ending); nil at the
    /// end of input (Ctrl-D on an empty line).
    func read(prompt: String) throws(PasswordPromptError) -> String? {
        var original = termios()
        guard tcgetattr(input, &original) == 0 else { throw .settings(call: "tcgetattr", reason: Self.lastError()) }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO | ECHONL)
        Self.saved = original
        Self.savedDescriptor = input
        Self.savedOutput = output
        let previous = Self.installHandlers()
        // TCSAFLUSH drops what was typed before the prompt, while it was still shown.
        guard tcsetattr(input, TCSAFLUSH, &silent) == 0 else {
            let reason = Self.lastError()
            Self.removeHandlers(previous)
            Self.savedDescriptor = -1
            throw .settings(call: "tcsetattr", reason: reason)
        }
        defer {
            var restore = original
            _ = tcsetattr(input, TCSANOW, &restore)
            Self.removeHandlers(previous)
            Self.savedDescriptor = -1
            // The Enter that ended the line was not echoed either.
            write("\n")
        }
        write(prompt)
        var line: [UInt8] = []
        while true {
            var byte: UInt8 = 0
            let n = Glibc.read(input, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw .read(reason: Self.lastError())
            }
            if n == 0 { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(output, $0.baseAddress, $0.count) }
    }

    /// Installs the restoring handler for each ending signal whose action is the default
    /// (an ignored signal stays ignored); returns the actions to put back.
    private static func installHandlers() -> [(Int32, sigaction)] {
        var replaced: [(Int32, sigaction)] = []
        for signal in endingSignals {
            var current = sigaction()
            guard sigaction(signal, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = restoreAndEnd
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            if sigaction(signal, &action, nil) == 0 { replaced.append((signal, current)) }
        }
        return replaced
    }

    private static func removeHandlers(_ replaced: [(Int32, sigaction)]) {
        for (signal, action) in replaced {
            var action = action
            _ = sigaction(signal, &action, nil)
        }
    }

    /// Async-signal-safe: tcsetattr, write, signal and raise only. The signal is blocked
    /// while the handler runs, so the raised one arrives, with the default action, when
    /// it returns.
    private static let restoreAndEnd: @convention(c) (Int32) -> Void = { signal in
        if PasswordPrompt.savedDescriptor >= 0 {
            _ = tcsetattr(PasswordPrompt.savedDescriptor, TCSANOW, &PasswordPrompt.saved)
        }
        var newline = UInt8(ascii: "\n")
        _ = Glibc.write(PasswordPrompt.savedOutput, &newline, 1)
        _ = Glibc.signal(signal, SIG_DFL)
        _ = raise(signal)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
