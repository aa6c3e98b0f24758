import Foundation
import SISync

let code = DaemonCommand(console: ProcessConsole(), log: StderrLog()).run(Array(CommandLine.arguments.dropFirst()))
exit(code)
