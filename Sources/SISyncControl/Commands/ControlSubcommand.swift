import Foundation
import SISync

/// One `sisyncctl` command (`run show`, `user add`): everything about it in one type, as
/// swift-argument-parser has one type per subcommand. Its help, its options, its arguments
/// and whether it takes the run lock are read from here by the parser, `--help`, the man
/// page and completion tests; a command registered in `CommandRegistry` cannot lack them.
protocol ControlSubcommand {
    /// The words that name it: `run show`.
    static var name: String { get }
    /// Its usage lines after `sisyncctl `; by default the name, the arguments and the options.
    static var synopsis: [String] { get }
    /// What it does and what it refuses; the first sentence is its line in the command list.
    static var help: String { get }
    /// A whole command line an administrator could type.
    static var example: String { get }
    /// The options it takes besides the global ones; any other is exit 64.
    static var options: [CommandOption] { get }
    /// Its positional arguments; too few is `missing NAME`, too many is exit 64.
    static var arguments: [CommandArgument] { get }
    /// Whether it writes the store, and so waits for a run in progress (R9).
    static var storeAccess: StoreAccess { get }
    /// A long listing: at a terminal its text goes through `$PAGER` (unless `--no-pager`).
    static var pages: Bool { get }
    /// What is missing from a command line the parser accepted (an option it cannot do
    /// without, one of several), said before any configuration is read or lock taken.
    static func usageProblem(_ args: Arguments, words: [String]) -> String?

    var call: CommandCall { get }
    init(call: CommandCall)
    func run() throws -> Int32
}

/// How a command uses the store, which decides the run lock (R9, docs/rules.md).
enum StoreAccess {
    /// Reads never wait for a run.
    case reads
    /// Takes the run lock before `run`, waiting up to `--wait` for a run in progress.
    case writes
    /// Writes, but takes the lock inside `run`: `sync` in its run, `user passwd` and
    /// `user login` after the password is read (never while someone types it).
    case writesTakingTheLockItself

    var writes: Bool { self != .reads }
}

/// An option: a flag (`--all`) or one with a value (`--limit N`).
struct CommandOption: Hashable, Sendable {
    let name: String
    /// The value's placeholder (`N`); nil for a flag.
    let value: String?
    /// May be given several times (`--student A --student B`).
    let repeatable: Bool
    /// Its line in the help (the global options have one).
    let summary: String

    static func flag(_ name: String, _ summary: String = "") -> CommandOption {
        CommandOption(name: name, value: nil, repeatable: false, summary: summary)
    }
    static func value(_ name: String, _ placeholder: String, _ summary: String = "") -> CommandOption {
        CommandOption(name: name, value: placeholder, repeatable: false, summary: summary)
    }
    static func repeated(_ name: String, _ placeholder: String) -> CommandOption {
        CommandOption(name: name, value: placeholder, repeatable: true, summary: "")
    }

    /// `--limit N`, `--all`.
    var usage: String { "--" + name + (value.map { " " + $0 } ?? "") }
}

/// A positional argument.
struct CommandArgument: Sendable {
    enum Count: Sendable { case one, optional, oneOrMore }
    let name: String
    let count: Count

    static func required(_ name: String) -> CommandArgument { CommandArgument(name: name, count: .one) }
    static func optional(_ name: String) -> CommandArgument { CommandArgument(name: name, count: .optional) }
    static func oneOrMore(_ name: String) -> CommandArgument { CommandArgument(name: name, count: .oneOrMore) }

    var usage: String {
        switch count {
        case .one: return name
        case .optional: return "[\(name)]"
        case .oneOrMore: return name + "..."
        }
    }
}

/// One command as given: the options (global and its own) and its argument words.
struct CommandCall {
    let control: ControlCommand
    let args: Arguments
    /// The positional words after the command's name (`42` of `run show 42`).
    let words: [String]
}

extension ControlSubcommand {
    static var options: [CommandOption] { [] }
    static var arguments: [CommandArgument] { [] }
    static var storeAccess: StoreAccess { .reads }
    static var pages: Bool { false }
    static func usageProblem(_ args: Arguments, words: [String]) -> String? { nil }
    static var synopsis: [String] {
        [([name] + arguments.map(\.usage) + options.map { "[\($0.usage)]" }).joined(separator: " ")]
    }

    /// The first sentence of the help: the command's line in the list of commands.
    static var summary: String {
        guard let end = help.range(of: ". ") else { return help }
        return String(help[..<end.lowerBound]) + "."
    }

    // What the commands' bodies use of `sisyncctl` itself, so that they read as they did
    // when they were its methods.
    var args: Arguments { call.args }
    var words: [String] { call.words }
    var console: Console { call.control.console }
    var log: EventLog { call.control.log }
    var actor: String { call.control.actor }

    func emit(_ args: Arguments, json: () throws -> JSONValue, text: () throws -> String) rethrows {
        try call.control.emit(args, json: json, text: text)
    }
    func openStore(_ args: Arguments) throws -> RosterStore { try call.control.openStore(args) }
    func rulesConfiguration(_ args: Arguments) throws -> Configuration { try call.control.rulesConfiguration(args) }
    func configuration(_ args: Arguments) throws -> Configuration { try call.control.configuration(args) }
    func takeRunLock(_ args: Arguments, command: String, wait: Double) throws -> RunLock? {
        try call.control.takeRunLock(args, command: command, wait: wait)
    }
    func waitSeconds(_ args: Arguments) -> Double { call.control.waitSeconds(args) }

    /// A usage error found by the command itself (`sisyncctl access pair: needs --code`),
    /// then its usage: exit 64.
    /// The usage error `usageProblem` finds (the parser has already refused such a line;
    /// a command's own guard that unwraps the same options says the same).
    func usageError() -> Int32 { usageError(Self.usageProblem(args, words: words) ?? "incomplete command line") }

    func usageError(_ problem: String) -> Int32 {
        console.err(CommandLineParser.usage(Self.self, problem).description)
        return 64
    }
}
