/// The version reported in `--version` and the HTTP User-Agent.
public enum SisyncVersion {
    public static let current = "0.3.0"
}
