import CCrypt
import Foundation
import Synchronization

/// Why a password could not be set or hashed.
public enum PasswordError: Error, Equatable, CustomStringConvertible, Sendable {
    case empty
    case tooShort(minimum: Int)
    case hashing(String)

    public var description: String {
        switch self {
        case .empty: return "the password is empty; type it on standard input"
        case .tooShort(let n): return "the password is shorter than \(n) characters; choose a longer one (a passphrase is easiest)"
        case .hashing(let why): return "could not hash the password: \(why)"
        }
    }
}

/// Slow salted password hashes through libcrypt: yescrypt (`$y$`) with cost 5, libxcrypt's
/// default (about 50 ms and 8 MiB here), a salt from the system's random source. Only the
/// hash is stored; comparing re-hashes with the stored setting.
public enum PasswordHash {
    public static let prefix = "$y$"
    public static let cost: UInt = 5
    public static let minimumLength = 10

    /// What a login is checked against when there is no usable hash (an unknown user, a user
    /// without a password), so that every login costs exactly one hash of the same cost and
    /// timing does not tell who exists (issue 26 item 7). Made once with `make` at `cost`
    /// from a random phrase nobody kept; a constant, so nothing is computed at first use.
    /// A test checks that its parameters are those `make` uses today.
    public static let placeholder = "$y$j9T$EUxsfoE58mswX/6NEfDRU0$97u59aI06zYl5zS6S6aP7U0MU8IVb04tak8igOOE9w3"

    /// Hashes this process has computed, and the parameters of the last one: how the tests
    /// count the hashes a login costs, without measuring time.
    struct Tally: Sendable, Equatable {
        var count = 0
        var lastParameters = ""
    }
    static let tally = Mutex(Tally())

    /// The cost part of a crypt hash (`$y$j9T` of `$y$j9T$salt$hash`): two hashes with the
    /// same parameters cost the same to compute.
    static func parameters(of hash: String) -> String {
        hash.split(separator: "$", omittingEmptySubsequences: false).prefix(3).joined(separator: "$")
    }

    public static func validate(_ password: String) throws(PasswordError) {
        guard !password.isEmpty else { throw .empty }
        guard password.count >= minimumLength else { throw .tooShort(minimum: minimumLength) }
    }

    /// A new hash; libcrypt draws the salt from the kernel's random source.
    public static func make(_ password: String) throws(PasswordError) -> String {
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn(prefix, cost, nil, 0, &setting, Int32(setting.count)) != nil else {
            throw .hashing("crypt_gensalt_rn failed: \(String(cString: strerror(errno)))")
        }
        return try hash(password, setting: setting)
    }

    /// Whether `password` matches `stored` (a full crypt hash).
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard let computed = try? hash(password, setting: Array(stored.utf8CString)) else { return false }
        // Constant-time comparison of the two strings.
        let a = Array(computed.utf8), b = Array(stored.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    private static func hash(_ password: String, setting: [CChar]) throws(PasswordError) -> String {
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer {
            // The work area holds the password: clear it before freeing.
            memset(data, 0, MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        let parameters = parameters(of: setting.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        tally.withLock { $0.count += 1; $0.lastParameters = parameters }
        guard let out = crypt_r(password, setting, data) else {
            throw .hashing("crypt_r failed: \(String(cString: strerror(errno)))")
        }
        let result = String(cString: out)
        // libxcrypt signals failure with a string starting with `*`.
        guard !result.hasPrefix("*") else { throw .hashing("libcrypt rejected the setting") }
        return result
    }
}
