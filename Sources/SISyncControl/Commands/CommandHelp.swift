import SISync

/// `sisyncctl --help`, `sisyncctl help run show`, `sisyncctl user --help`: written from the
/// registry, wrapped to the terminal's width.
enum CommandHelp {
    /// The help on `topic`: every command (no words), a group (`user`), or one command.
    static func text(topic: [String], width: Int, registry: [any ControlSubcommand.Type] = CommandRegistry.commands) throws -> String {
        if topic.isEmpty { return global(width: width, registry: registry) }
        switch try CommandLineParser.resolve(topic, registry: registry) {
        case .command(let command, _): return text(of: command, width: width)
        case .group(let words, let commands): return group(words, commands, width: width)
        }
    }

    /// `usage: sisyncctl run show ID`, one line a form.
    static func usageLines(_ command: any ControlSubcommand.Type) -> String {
        command.synopsis.enumerated().map { i, line in (i == 0 ? "usage: " : "       ") + "sisyncctl " + line + "\n" }.joined()
    }

    /// One command: its usage, what it does, an example, and where the global options are.
    static func text(of command: any ControlSubcommand.Type, width: Int) -> String {
        var out = command.synopsis.enumerated().map { i, line in wrap(line, width: width, indent: 11, prefix: (i == 0 ? "usage: " : "       ") + "sisyncctl ") }.joined()
        out += "\n" + wrap(command.help, width: width, indent: 2, prefix: "  ")
        // The example is not wrapped: it is a line to copy.
        out += "\nexample:\n  " + command.example + "\n"
        out += "\n" + wrap("global options, before or after the command: " + globalUsage + "; `sisyncctl --help` says what they do.", width: width, indent: 0)
        return out
    }

    /// The commands of a group (`sisyncctl user --help`): each one's usage and first sentence.
    static func group(_ words: [String], _ commands: [any ControlSubcommand.Type], width: Int) -> String {
        let name = words.joined(separator: " ")
        return "usage: sisyncctl \(name) COMMAND ...\n\ncommands:\n" + list(commands, width: width)
            + "\n" + wrap("`sisyncctl help \(name) COMMAND` or `sisyncctl \(name) COMMAND --help` for one command's help and an example.", width: width, indent: 0)
    }

    static func global(width: Int, registry: [any ControlSubcommand.Type] = CommandRegistry.commands) -> String {
        var out = wrap("[--config PATH | --db PATH|URL | --tenant NAME [--tenants DIR]] [--json] [--wait DURATION] COMMAND [ARGS ...]", width: width, indent: 17, prefix: "usage: sisyncctl ")
        out += "       sisyncctl help COMMAND    one command's help (or COMMAND --help)\n"
        out += "       sisyncctl --version\n\ncommands:\n" + list(registry, width: width)
        out += "\noptions (before or after the command):\n"
        let column = CommandRegistry.globalOptions.map { $0.usage.count }.max() ?? 0
        for option in CommandRegistry.globalOptions {
            let left = "  " + option.usage + String(repeating: " ", count: column - option.usage.count) + "  "
            out += wrap(option.summary, width: width, indent: left.count, prefix: left)
        }
        return out
    }

    private static func list(_ commands: [any ControlSubcommand.Type], width: Int) -> String {
        commands.map { c in
            c.synopsis.map { wrap($0, width: width, indent: 8, prefix: "  ") }.joined() + wrap(c.summary, width: width, indent: 6, prefix: "      ")
        }.joined()
    }

    private static var globalUsage: String {
        CommandRegistry.globalOptions.map(\.usage).joined(separator: ", ")
    }

    /// `text` in lines of at most `width` characters (a word longer than that stays whole):
    /// the first line starts with `prefix` as it is (an indent, `usage: `, an option's
    /// column), the others with `indent` spaces. Ends with a newline.
    static func wrap(_ text: String, width: Int, indent: Int, prefix: String = "") -> String {
        var lines: [String] = []
        var line = prefix
        var lineHasWord = false
        for word in text.split(separator: " ") {
            if lineHasWord && line.count + 1 + word.count > width {
                lines.append(line)
                line = String(repeating: " ", count: indent) + word
            } else {
                line += (lineHasWord ? " " : "") + word
            }
            lineHasWord = true
        }
        lines.append(line)
        return lines.joined(separator: "\n") + "\n"
    }
}
