import Foundation
import SISync

// Under systemd, entries go to the journal with their fields; elsewhere, lines on stderr.
let log: EventLog = JournalLog.forStderr() ?? StderrLog()
let code = DaemonCommand(console: ProcessConsole(), log: log).run(Array(CommandLine.arguments.dropFirst()))
exit(code)
