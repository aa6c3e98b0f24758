/// The name of how a run ended, as the run's record, `--json`, the STATUS line and the
/// metrics spell it (docs/json.md, "A run"). `RunEnding` is the ending with its payload.
public enum RunOutcome: String, Sendable, Codable {
    case running, applied, unchanged, blocked, failed
}
