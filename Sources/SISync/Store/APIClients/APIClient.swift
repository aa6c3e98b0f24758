import Foundation

/// One application allowed to call the HTTP API: its name (the change log's actor is
/// `api:NAME`), its scopes and when it was made and last used. The token itself is not here:
/// the store keeps only its SHA-256.
public struct APIClient: Sendable, Equatable {
    public var name: String
    public var scopes: Set<APIScope>
    public var createdAt: String
    public var createdBy: String
    public var lastUsedAt: String?

    public init(name: String, scopes: Set<APIScope>, createdAt: String, createdBy: String, lastUsedAt: String? = nil) {
        self.name = name
        self.scopes = scopes
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.lastUsedAt = lastUsedAt
    }

    /// The change log's and the journal's name for what this client does.
    public var actor: String { "api:" + name }

    /// Names an administrator can type and that read unambiguously in `api:NAME`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}

/// A new client's bearer token: 256 bits from the system's cryptographic random source
/// (getrandom(2), as access codes are made), written as 64 hex digits after `sisync_`, so a
/// leaked one is recognisable in a log or a repository. It is shown once; only its SHA-256
/// is kept, and a request is matched by that digest (a fast hash is right for 256 random
/// bits: nobody can guess them, and a slow hash would cap the API at a few dozen requests a
/// second).
public enum APIToken {
    public static let prefix = "sisync_"

    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        return generate(using: &rng)
    }

    static func generate<R: RandomNumberGenerator>(using rng: inout R) -> String {
        let words = (0..<4).map { _ in rng.next() }
        return prefix + words.map { w in
            let hex = String(w, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// What the store keeps and looks a token up by.
    public static func digest(_ token: String) -> String {
        SHA256.hex(of: Array(token.utf8))
    }
}
