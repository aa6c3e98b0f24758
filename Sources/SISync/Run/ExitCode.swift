/// The one table from how a run or a command ended to the process's exit code (README,
/// the exit codes under "Commands"; sysexits). `sisyncd` (at start, `--once`), each tenant's
/// run, `sisyncctl` (its commands, `sync` and `run approve`) and `sisync-bench` all ask it,
/// so that the same failure exits the same way whoever met it.
public enum ExitCode {
    /// How a run's ending ends the process: 0 applied or unchanged, 65 blocked or held by
    /// the guard, a failure's class otherwise.
    public static func of(_ ending: RunEnding) -> Int32 {
        switch ending {
        case .applied, .unchanged, .running: return 0
        case .held, .blocked: return 65
        case .failed(let failure, _): return failure.exitCode
        }
    }

    /// An error that ended a run or a command before it had an outcome (no database, no
    /// lock, a refused request), by its class (`FailureClass.init(_:)`).
    public static func of(_ error: any Error) -> Int32 {
        FailureClass(error).exitCode
    }
}
