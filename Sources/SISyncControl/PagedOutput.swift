import SISync

/// A command's standard output kept for the pager (`Pager`), which starts once the output
/// is complete; errors, prompts and the terminal's width stay the terminal's.
final class PagedOutput: Console {
    private(set) var text = ""
    private let terminal: Console

    init(terminal: Console) { self.terminal = terminal }

    func out(_ text: String) { self.text += text }
    func err(_ text: String) { terminal.err(text) }
    func readSecret(prompt: String) throws -> String? { try terminal.readSecret(prompt: prompt) }
    var readsSecretsFromTerminal: Bool { terminal.readsSecretsFromTerminal }
    var outputColumns: Int? { terminal.outputColumns }
}
