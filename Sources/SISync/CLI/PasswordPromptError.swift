/// Why a password could not be read at the terminal. The terminal is restored before any
/// of these is thrown.
public enum PasswordPromptError: Error, Equatable, CustomStringConvertible, Sendable {
    /// tcgetattr/tcsetattr failed: echo could not be turned off, so nothing was read.
    case settings(call: String, reason: String)
    case read(reason: String)

    public var description: String {
        switch self {
        case .settings(let call, let reason):
            return "cannot turn off echo on the terminal (\(call): \(reason)), so the password was not read; pipe it in instead (sisyncctl user passwd U < file)"
        case .read(let reason):
            return "cannot read the password from the terminal: \(reason)"
        }
    }
}
