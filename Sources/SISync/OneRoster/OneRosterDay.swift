import Foundation

/// A calendar day from a OneRoster date. Exports write `2023-05-06`, `2023-05-06T08:01:05Z`,
/// `2017-05-06 08:01:05` or `1/05/2023`; only the day matters for enrollments and roles.
public struct OneRosterDay: Sendable, Comparable, Hashable, CustomStringConvertible {
    /// yyyymmdd, so days compare as integers.
    public let value: Int

    public init(year: Int, month: Int, day: Int) { value = year * 10000 + month * 100 + day }

    public var year: Int { value / 10000 }
    public var description: String { String(format: "%04d-%02d-%02d", value / 10000, value / 100 % 100, value % 100) }
    public static func < (a: OneRosterDay, b: OneRosterDay) -> Bool { a.value < b.value }

    /// The day of `date` in UTC.
    public init(_ date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        self.init(year: c.year!, month: c.month!, day: c.day!)
    }

    /// Parses a date; nil for an empty or unreadable value (the caller reports it). Trimmed
    /// as Foundation's `.whitespaces` trims, without it (a district's 1.8 million dates spent
    /// a tenth of the run bridging to `NSString`).
    public static func parse(_ text: String) -> OneRosterDay? {
        let t = String(OneRosterRoster.trimmingSpaces(text[...]))
        guard !t.isEmpty else { return nil }
        let digits = Array(t.utf8)
        func number(_ r: Range<Int>) -> Int? {
            guard r.upperBound <= digits.count, !r.isEmpty else { return nil }
            var n = 0
            for i in r { guard digits[i] >= 48 && digits[i] <= 57 else { return nil }; n = n * 10 + Int(digits[i] - 48) }
            return n
        }
        var y: Int?, m: Int?, d: Int?
        if digits.count >= 10, digits[4] == UInt8(ascii: "-"), digits[7] == UInt8(ascii: "-") {
            // ISO 8601, with or without a time after `T` or a space.
            y = number(0..<4); m = number(5..<7); d = number(8..<10)
            if digits.count > 10, digits[10] != UInt8(ascii: "T"), digits[10] != UInt8(ascii: " ") { return nil }
        } else {
            // US style M/D/YYYY, as spreadsheets write it.
            let parts = t.split(separator: " ").first.map { $0.split(separator: "/", omittingEmptySubsequences: false) } ?? []
            guard parts.count == 3, parts[2].count == 4 else { return nil }
            m = Int(parts[0]); d = Int(parts[1]); y = Int(parts[2])
        }
        guard let y, let m, let d, (1...12).contains(m), (1...31).contains(d), y >= 1900 else { return nil }
        return OneRosterDay(year: y, month: m, day: d)
    }
}
