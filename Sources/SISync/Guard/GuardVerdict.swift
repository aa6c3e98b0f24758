/// The verdict on a plan (R5).
public enum GuardVerdict: Sendable, Equatable {
    case allowed
    /// Allowed only because the administrator said `--allow-mass-deactivation`.
    case overridden(reason: String)
    case blocked(reason: String)
}
