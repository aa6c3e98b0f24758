import Foundation
import SISync
import SISyncControl

// Problems on the terminal; administrators' actions also in the journal when there is one.
let terminal = StderrLog(minimum: .warning)
let log: EventLog = JournalLog.direct(identifier: "sisyncctl").map { TeeLog([$0, terminal]) } ?? terminal
var command = ControlCommand(console: ProcessConsole(), environment: ProcessInfo.processInfo.environment, log: log)
command.stopsOnSignals = true
let code = command.run(Array(CommandLine.arguments.dropFirst()))
exit(code)
