import SISync

/// Standard error of a command given `--json`: a script reads one JSON document whether the
/// command succeeded (stdout) or failed (`{"error": {"message", "exit"}}` on stderr, with
/// the exit code). Whatever a command says on stderr is held until it ends, so that every
/// way of failing, present and future, comes out as that one document.
final class JSONFailureConsole: Console {
    private let console: Console
    private var said = ""
    private var wroteDocument = false

    init(_ console: Console) { self.console = console }

    func out(_ text: String) {
        wroteDocument = true
        console.out(text)
    }
    func err(_ text: String) { said += text }
    func readSecret(prompt: String) throws -> String? { try console.readSecret(prompt: prompt) }
    var readsSecretsFromTerminal: Bool { console.readsSecretsFromTerminal }
    var outputColumns: Int? { console.outputColumns }

    /// After the command: its words on stderr as they were when it succeeded (warnings),
    /// else the error document. A failure whose document on stdout tells it (a run that
    /// the guard blocked, with its outcome) and that said nothing more gets no second one.
    func finish(exit code: Int32) {
        guard code != 0 else {
            if !said.isEmpty { console.err(said) }
            return
        }
        let message = said.split(separator: "\n").map { line in
            line.hasPrefix("sisyncctl: ") ? String(line.dropFirst("sisyncctl: ".count)) : String(line)
        }.joined(separator: "\n")
        if message.isEmpty && wroteDocument { return }
        let error = JSONValue.object([("message", .string(message.isEmpty ? "failed with exit code \(code)" : message)), ("exit", .int(Int64(code)))])
        console.err(JSONValue.object([("error", error)]).rendered() + "\n")
    }
}
