/// Why a run failed, which decides the exit code (README, the exit codes under "Commands"; sysexits).
public enum FailureClass: Sendable, Equatable {
    case badData          // 65
    case unavailable      // 69
    case cannotCreate     // 73
    case temporary        // 75
    case configuration    // 78
    case software         // 70
    /// A failed run read back from the store, which keeps its message but not its class.
    case unrecorded       // 70, as `software`: no exit code is made from a record

    public var exitCode: Int32 {
        switch self {
        case .badData: return 65
        case .unavailable: return 69
        case .cannotCreate: return 73
        case .temporary: return 75
        case .configuration: return 78
        case .software, .unrecorded: return 70
        }
    }
}
