import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal with a built executable on its other side, for tests that type at
/// sisyncctl as a person at a terminal would. The child starts a session of its own with
/// the terminal as its controlling terminal (POSIX_SPAWN_SETSID, then the slave opened as
/// its standard input, output and error), so Ctrl-C typed here is a SIGINT there. The
/// test keeps the slave open too, to read the terminal's settings after the child ends.
final class PseudoTerminal {
    enum Ending: Equatable { case exited(Int32), signalled(Int32) }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let master: Int32
    private let slave: Int32
    private let slavePath: String
    private var child: pid_t = 0
    private var ending: Ending?
    /// Everything the child wrote to the terminal so far (and the terminal echoed).
    private(set) var output = ""

    init() throws {
        master = Self.posixOpenpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw Self.failure("posix_openpt") }
        guard Self.grantpt(master) == 0, Self.unlockpt(master) == 0 else { close(master); throw Self.failure("grantpt/unlockpt") }
        var name = [CChar](repeating: 0, count: 128)
        guard Self.ptsnameR(master, &name, name.count) == 0 else { close(master); throw Self.failure("ptsname_r") }
        slavePath = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else { close(master); throw Self.failure("open \(slavePath)") }
    }

    // Swift's Glibc module is built without _XOPEN_SOURCE/_GNU_SOURCE, so it lacks the
    // pseudo-terminal calls and POSIX_SPAWN_SETSID; they are looked up in the C library.
    private static func libc<T>(_ name: String, as type: T.Type) -> T {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("\(name) is not in the C library") }
        return unsafeBitCast(symbol, to: type)
    }
    private static let posixOpenpt = libc("posix_openpt", as: (@convention(c) (Int32) -> Int32).self)
    private static let grantpt = libc("grantpt", as: (@convention(c) (Int32) -> Int32).self)
    private static let unlockpt = libc("unlockpt", as: (@convention(c) (Int32) -> Int32).self)
    private static let ptsnameR = libc("ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32).self)
    /// <spawn.h>: glibc's value of POSIX_SPAWN_SETSID (2.26 and later).
    private static let spawnSetsid: Int32 = 0x80

    deinit {
        if child > 0 && ending == nil { kill(child, SIGKILL); var status: Int32 = 0; waitpid(child, &status, 0) }
        close(slave)
        close(master)
    }

    /// Starts `path` with `arguments` on the terminal, with default signal actions.
    func spawn(_ path: String, _ arguments: [String], environment: [String: String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // After setsid (the spawn attribute), the first terminal a session leader opens
        // becomes its controlling terminal.
        posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(Self.spawnSetsid | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw Failure(description: "posix_spawn \(path): \(String(cString: strerror(rc)))") }
    }

    /// Types `text` at the terminal.
    func type(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Whether the output comes to contain `text` within `timeout`.
    func waitFor(_ text: String, timeout: TimeInterval = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !output.contains(text) {
            guard Date() < deadline else { return false }
            drain(waitingMilliseconds: 50)
        }
        return true
    }

    /// How the child ended, waiting at most `timeout`; nil if it is still running.
    func waitForEnd(timeout: TimeInterval = 20) -> Ending? {
        let deadline = Date().addingTimeInterval(timeout)
        while ending == nil {
            var status: Int32 = 0
            let r = waitpid(child, &status, WNOHANG)
            if r == child {
                // WIFEXITED / WTERMSIG are macros Swift does not import.
                ending = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
            } else {
                guard Date() < deadline else { return nil }
                drain(waitingMilliseconds: 20)
            }
        }
        drain(waitingMilliseconds: 0)
        return ending
    }

    /// The terminal's local flags now (ECHO, ICANON, ...).
    func localFlags() throws -> tcflag_t {
        var settings = termios()
        guard tcgetattr(slave, &settings) == 0 else { throw Self.failure("tcgetattr") }
        return settings.c_lflag
    }

    /// Reads what the child wrote, waiting up to `waitingMilliseconds` for the first bytes.
    private func drain(waitingMilliseconds: Int32) {
        var wait = waitingMilliseconds
        while true {
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, wait) > 0, p.revents & Int16(POLLIN) != 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(master, &buffer, buffer.count)
            guard n > 0 else { return }
            output += String(decoding: buffer[..<n], as: UTF8.self)
            wait = 0
        }
    }

    private static func failure(_ call: String) -> Failure {
        Failure(description: "\(call): \(String(cString: strerror(errno)))")
    }
}
