/// What a source's saved validators (ETag, Last-Modified: R3) are kept under, in
/// `source_state` and in a held plan: the SHA-256 of the source's URL, not the URL. A
/// source URL may carry a credential in its query (a token, a signature), and the database
/// is read by more people and programs than the configuration file (`store copy`,
/// backups, a standby); the digest still tells one URL from another, which is all the
/// next run's lookup needs.
public enum SourceStateKey {
    public static let prefix = "sha256:"

    public static func of(_ url: String) -> String { prefix + SHA256.hex(of: Array(url.utf8)) }
}
