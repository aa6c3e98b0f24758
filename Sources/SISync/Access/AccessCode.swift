/// A parent-portal access code: 8 Crockford base32 characters (40 bits from the system's
/// cryptographic random source), shown as `7KQ4-M9TX`. The alphabet has no I, L, O or U, and
/// what a parent types is read generously: any case, spaces and dashes ignored, I and L
/// taken as 1, O as 0 (README, "Parent-portal access codes").
public enum AccessCode {
    public static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    public static let length = 8

    /// A new code (stored form, no dash).
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()  // getrandom(2): cryptographically secure
        return generate(using: &rng)
    }

    static func generate<R: RandomNumberGenerator>(using rng: inout R) -> String {
        let bits = rng.next() & ((1 << 40) - 1)
        return String((0..<length).map { i in alphabet[Int((bits >> (5 * UInt64(length - 1 - i))) & 31)] })
    }

    /// The stored form of what someone typed, or nil when it cannot be a code.
    public static func normalize(_ typed: String) -> String? {
        var out: [Character] = []
        for c in typed.uppercased() {
            switch c {
            case " ", "-", "\t": continue
            case "I", "L": out.append("1")
            case "O": out.append("0")
            default:
                guard alphabet.contains(c) else { return nil }
                out.append(c)
            }
        }
        return out.count == length ? String(out) : nil
    }

    /// `7KQ4M9TX` → `7KQ4-M9TX`.
    public static func display(_ code: String) -> String {
        code.count == length ? String(code.prefix(4)) + "-" + String(code.suffix(4)) : code
    }
}
