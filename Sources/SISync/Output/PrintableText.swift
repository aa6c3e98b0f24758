/// Text from outside (an export's header, a server's answer) made safe to print on a
/// terminal: control characters written as escapes, so that an export cannot move the
/// cursor, recolour or clear an administrator's screen, and one line however long it was.
public enum PrintableText {
    /// The most characters of an error or problem shown on one line: room for the guard's
    /// own advice (some 500), not for an export's whole header quoted back; the whole text
    /// stays in the database and in `--json`.
    public static let defaultLimit = 1000

    /// `text` with every control character (C0, DEL, C1) escaped as `\n`, `\t`, `\r` or
    /// `\u{1B}`, then cut to `limit` characters ending in `…`.
    public static func line(_ text: String, limit: Int = defaultLimit) -> String {
        clipped(escaped(text), to: limit)
    }

    /// `text` with its control characters escaped, whole (log lines clip it their way).
    public static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value):
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` cut to `limit` characters, its last one `…` when anything was cut.
    public static func clipped(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        guard limit > 0 else { return "" }
        return String(text.prefix(limit - 1)) + "…"
    }
}
