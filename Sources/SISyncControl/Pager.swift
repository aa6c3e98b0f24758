import Foundation
import SISync
#if canImport(Glibc)
import Glibc
#endif

/// Long output at a terminal goes through the administrator's pager, as git's does:
/// `$PAGER`, else `less -FRX` (which prints output that fits the screen and quits). Never
/// when standard output is not a terminal (a pipe, a file, a test), with `--no-pager`,
/// or when `PAGER` is empty or `cat`.
struct Pager {
    static let defaultCommand = "less -FRX"

    /// The command line: run directly, or by `/bin/sh -c` when it has shell syntax.
    let command: String
    let environment: [String: String]

    /// The pager to use, or nil to write directly. Pure, so that tests can check each case.
    static func chosen(environment: [String: String], outputIsTerminal: Bool, disabled: Bool) -> Pager? {
        guard outputIsTerminal, !disabled else { return nil }
        let command = (environment["PAGER"] ?? defaultCommand).trimmingCharacters(in: .whitespaces)
        guard !command.isEmpty, command != "cat" else { return nil }
        return Pager(command: command, environment: environment)
    }

    /// The program and its arguments: the words of a plain command line, or `sh -c` for
    /// one with quotes, variables, pipes or redirections (git does the same).
    var argv: [String] {
        let shellSyntax = CharacterSet(charactersIn: "|&;<>()$`\\\"' *?[#~=%{}").subtracting(CharacterSet(charactersIn: " "))
        if command.unicodeScalars.contains(where: shellSyntax.contains) { return ["/bin/sh", "-c", command] }
        return command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// Shows `text` in the pager, waiting until it ends; writes it to `console` instead
    /// when the pager cannot be started.
    func show(_ text: String, otherwise console: Console) {
        guard !text.isEmpty else { return }
        if !run(text) { console.out(text) }
    }

    /// Starts the pager with `text` on its standard input and waits for it; false, having
    /// written nothing, when it could not be started.
    private func run(_ text: String) -> Bool {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return false }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])   // else the pager never sees the end
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The pager gets the default actions of the signals ignored here while it runs.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var env = environment
        if env["LESS"] == nil { env["LESS"] = "FRX" }   // as git sets it, for PAGER=less
        let words = self.argv
        guard let program = words.first else { close(fds[0]); close(fds[1]); return false }
        let argv = words.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // Ctrl-C and Ctrl-\ at the pager reach this process too (one process group): the
        // output is made already, so it waits for the pager to end rather than leave it
        // behind on the terminal. A pager that quits early closes the pipe (EPIPE, no SIGPIPE).
        let previous = [SIGINT, SIGQUIT, SIGPIPE].map { ($0, signal($0, SIG_IGN)) }
        defer { for (s, handler) in previous { signal(s, handler) } }
        var child: pid_t = 0
        let spawned = posix_spawnp(&child, program, &actions, &attributes, argv, envp)
        close(fds[0])
        guard spawned == 0 else { close(fds[1]); return false }
        Self.write(fds[1], text)
        close(fds[1])
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        return true
    }

    private static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }   // EPIPE: the pager was quit
                off += n
            }
        }
    }
}
