import Foundation
import SISync

let code = ControlCommand(console: ProcessConsole(), environment: ProcessInfo.processInfo.environment,
                          log: StderrLog(minimum: .warning)).run(Array(CommandLine.arguments.dropFirst()))
exit(code)
