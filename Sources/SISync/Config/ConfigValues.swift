import Foundation

/// A length of time written as `90s`, `15m` or `2h` in the configuration.
public struct ConfigDuration: Sendable, Equatable, CustomStringConvertible {
    public let seconds: Double
    public init(seconds: Double) { self.seconds = seconds }

    /// The longest duration a configuration may give (10 years): longer is a typo, and
    /// would overflow the timers and curl's millisecond timeouts.
    public static let maximum = ConfigDuration(seconds: 87_600 * 3600)

    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = t.last, let number = Double(t.dropLast()), number >= 0, number.isFinite else { return nil }
        switch unit {
        case "s": seconds = number
        case "m": seconds = number * 60
        case "h": seconds = number * 3600
        default: return nil
        }
        guard seconds <= Self.maximum.seconds else { return nil }
    }

    public var description: String {
        // Beyond Int's range (only a duration built in code can be) it is shown as it is.
        guard seconds.isFinite, seconds.magnitude < 1e15 else { return "\(seconds)s" }
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}

/// A byte count written as `1G`, `512M`, `64K` or a plain number (powers of 1024).
public func parseByteSize(_ text: String) -> Int64? {
    let t = text.trimmingCharacters(in: .whitespaces).uppercased()
    guard let last = t.last else { return nil }
    var multiplier: Int64 = 1
    var digits = Substring(t)
    switch last {
    case "K": multiplier = 1024; digits = digits.dropLast()
    case "M": multiplier = 1024 * 1024; digits = digits.dropLast()
    case "G": multiplier = 1024 * 1024 * 1024; digits = digits.dropLast()
    default: break
    }
    guard let n = Int64(digits), n > 0 else { return nil }
    let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : product
}

/// `max_invalid_rows`: either an absolute count or a percentage of each file's rows.
public enum InvalidRowLimit: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Double)

    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p >= 0, p <= 100 else { return nil }
            self = .percent(p)
        } else {
            guard let n = Int(t), n >= 0 else { return nil }
            self = .count(n)
        }
    }

    /// How many bad rows a file of `rows` data rows may have before the run fails
    /// (a percentage is rounded down, and is at least 1).
    public func allowed(rows: Int) -> Int {
        switch self {
        case .count(let n): return n
        case .percent(let p): return max(1, Int((Double(rows) * p / 100).rounded(.down)))
        }
    }

    public var description: String {
        switch self {
        case .count(let n): return "\(n)"
        case .percent(let p): return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        }
    }
}

/// Booleans as the export format accepts them (docs/export-format.md).
public func parseBoolean(_ text: String) -> Bool? {
    switch UserImport.trimmed(text).lowercased() {
    case "true", "yes", "1", "on": return true
    case "false", "no", "0", "off": return false
    default: return nil
    }
}
