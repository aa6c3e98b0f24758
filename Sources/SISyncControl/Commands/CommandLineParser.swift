import SISync

/// What a `sisyncctl` command line asks for.
enum CommandRequest {
    case version
    /// Help on `topic` (no words: every command). `asked` is false for a bare `sisyncctl`,
    /// which is a usage error that shows the help.
    case help(topic: [String], asked: Bool)
    case command(any ControlSubcommand.Type, Arguments, words: [String])
}

/// A command line that cannot run: exit 64, with what is wrong and how it is used.
struct CommandLineError: Error, CustomStringConvertible {
    let description: String
}

/// Reads a command line against the registry: the command is the longest run of leading
/// words that names one; global options go before or after it; anything the command does
/// not take is refused, naming it, with the nearest name when it looks like a typo.
enum CommandLineParser {
    static func parse(_ argv: [String], registry: [any ControlSubcommand.Type] = CommandRegistry.commands,
                      global: [CommandOption] = CommandRegistry.globalOptions) throws -> CommandRequest {
        // Which names take a value is the same in every command, so the words can be told
        // from option values before the command is known.
        let everyOption = global + registry.flatMap { $0.options }
        let valued = Set(everyOption.filter { $0.value != nil }.map(\.name))
        var words: [String] = [], given: [String] = [], help = false, version = false
        var i = 0, onlyWords = false
        while i < argv.count {
            let a = argv[i]
            i += 1
            if onlyWords || !a.hasPrefix("-") || a == "-" { words.append(a); continue }
            switch a {
            case "--": onlyWords = true
            case "-h", "--help": help = true
            case "-V", "--version": version = true
            default:
                guard a.hasPrefix("--") else { words.append(a); continue }
                let name = String(a.dropFirst(2).prefix { $0 != "=" })
                if valued.contains(name) && !a.contains("=") { i += 1 }
                given.append(name)
            }
        }
        if version { return .version }
        if words.first == "help" { return .help(topic: Array(words.dropFirst()), asked: true) }
        if help { return .help(topic: words, asked: true) }
        if words.isEmpty {
            if let unknown = given.first(where: { name in !global.contains { $0.name == name } }) {
                throw CommandLineError(description: "sisyncctl: unknown option --\(unknown)\(suggestion(unknown, among: global.map(\.name), prefix: "--"))\n"
                                       + "`sisyncctl --help` lists the commands and options\n")
            }
            return .help(topic: [], asked: false)
        }
        guard case .command(let command, let argumentWords) = try resolve(words, registry: registry) else {
            throw missingSubcommand(words, registry: registry)
        }
        let allowed = global + command.options
        for name in given where !allowed.contains(where: { $0.name == name }) {
            let known = everyOption.contains { $0.name == name }
            // An option of other commands is no typo: the nearest name would only mislead.
            let problem = known ? "`\(command.name)` takes no option --\(name)"
                : "unknown option --\(name)" + suggestion(name, among: allowed.map(\.name), prefix: "--")
            throw usage(command, problem)
        }
        try checkCount(argumentWords, of: command)
        let args: Arguments
        do {
            args = try Arguments(argv, valued: Set(allowed.filter { $0.value != nil }.map(\.name)),
                                 flags: Set(allowed.filter { $0.value == nil }.map(\.name)),
                                 repeatable: Set(allowed.filter(\.repeatable).map(\.name)))
        } catch {
            throw usage(command, error.description)
        }
        if let problem = command.usageProblem(args, words: argumentWords) { throw usage(command, problem) }
        return .command(command, args, words: argumentWords)
    }

    /// What some words name: a command (and the words after its name), or a group of
    /// commands (`user`, `user role`).
    enum Resolution {
        case command(any ControlSubcommand.Type, arguments: [String])
        case group([String], [any ControlSubcommand.Type])
    }

    static func resolve(_ words: [String], registry: [any ControlSubcommand.Type] = CommandRegistry.commands) throws -> Resolution {
        let named = registry.map { (command: $0, words: CommandRegistry.words(of: $0)) }
        if let match = named.filter({ words.starts(with: $0.words) }).max(by: { $0.words.count < $1.words.count }) {
            return .command(match.command, arguments: Array(words.dropFirst(match.words.count)))
        }
        // The longest leading words some command's name begins with; the next word is the wrong one.
        var known = 0
        while known < words.count, named.contains(where: { $0.words.count > known && $0.words.starts(with: words.prefix(known + 1)) }) { known += 1 }
        let group = named.filter { $0.words.starts(with: words.prefix(known)) }
        if known == words.count { return .group(words, group.map(\.command)) }
        let next = Array(Set(group.map { $0.words[known] })).sorted()
        let wrong = words.prefix(known + 1).joined(separator: " ")
        let guess = ConfigKey.closest(to: words[known], among: next).map { (words.prefix(known) + [$0]).joined(separator: " ") }
        throw CommandLineError(description: "sisyncctl: unknown command `\(wrong)`\(guess.map { "; did you mean `\($0)`?" } ?? "")\n"
                               + "`sisyncctl \(known == 0 ? "" : words.prefix(known).joined(separator: " ") + " ")--help` lists the commands\n")
    }

    /// `sisyncctl user`: which commands it could have been.
    private static func missingSubcommand(_ words: [String], registry: [any ControlSubcommand.Type]) -> CommandLineError {
        let group = registry.filter { CommandRegistry.words(of: $0).starts(with: words) }
        let next = group.map { CommandRegistry.words(of: $0)[words.count] }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let prefix = words.joined(separator: " ")
        return CommandLineError(description: "sisyncctl \(prefix): missing command: \(next.joined(separator: ", "))\n"
                                + "`sisyncctl \(prefix) --help` shows each\n")
    }

    private static func checkCount(_ words: [String], of command: any ControlSubcommand.Type) throws {
        let required = command.arguments.filter { $0.count != .optional }
        if words.count < required.count { throw usage(command, "missing \(required[words.count].name)") }
        let unbounded = command.arguments.contains { $0.count == .oneOrMore }
        if !unbounded && words.count > command.arguments.count {
            throw usage(command, "unexpected argument `\(words[command.arguments.count])`")
        }
    }

    /// `sisyncctl run show: missing ID`, then how the command is used.
    static func usage(_ command: any ControlSubcommand.Type, _ problem: String) -> CommandLineError {
        CommandLineError(description: "sisyncctl \(command.name): \(problem)\n" + CommandHelp.usageLines(command))
    }

    /// `; did you mean --inactive?`, or nothing when no name is near enough.
    static func suggestion(_ word: String, among names: [String], prefix: String) -> String {
        ConfigKey.closest(to: word, among: names).map { "; did you mean \(prefix)\($0)?" } ?? ""
    }
}
