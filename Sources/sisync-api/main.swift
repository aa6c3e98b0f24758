import Foundation
import SISync
import SISyncAPI

// Under systemd, entries go to the journal with their fields; elsewhere, lines on stderr.
let log: EventLog = JournalLog.forStderr(identifier: "sisync-api") ?? StderrLog()
exit(APICommand(console: ProcessConsole(), log: log).run(Array(CommandLine.arguments.dropFirst())))
