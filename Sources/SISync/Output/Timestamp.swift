import Foundation

/// RFC 3339 UTC times, as stored in the database and shown in JSON (docs/json.md).
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let year = Int(parts.tm_year) + 1900
        guard (0...9999).contains(year) else {
            return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", year, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        }
        // Digit by digit: `String(format:)` cost a user import of 207k users 3 s.
        var out = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int, _ at: Int, _ width: Int) {
            var v = value
            for i in stride(from: at + width - 1, through: at, by: -1) { out[i] = UInt8(48 + v % 10); v /= 10 }
        }
        put(year, 0, 4); out[4] = 45
        put(Int(parts.tm_mon) + 1, 5, 2); out[7] = 45
        put(Int(parts.tm_mday), 8, 2); out[10] = 84
        put(Int(parts.tm_hour), 11, 2); out[13] = 58
        put(Int(parts.tm_min), 14, 2); out[16] = 58
        put(Int(parts.tm_sec), 17, 2); out[19] = 90
        return String(decoding: out, as: UTF8.self)
    }

    /// `08:15` in `timeZone`, for STATUS lines ("next 08:30", "since 08:15").
    public static func clock(_ date: Date, timeZone: TimeZone = .current) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timeZone
        f.dateFormat = "HH:mm"
        return f.string(from: date)
    }

    public static func parse(_ text: String) -> Date? {
        // The form `format` writes (what SQLite stores), read without a formatter: making an
        // ISO8601DateFormatter per call was most of a SCIM user lookup (two times a user).
        if let d = canonical(text) { return d }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` exactly, a real time of day on a real day; nil for anything
    /// else (the formatter then decides, as before).
    static func canonical(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b[19] == 90 else { return nil }
        func number(_ at: Int, _ width: Int) -> Int? {
            var v = 0
            for i in at..<(at + width) {
                guard (48...57).contains(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        var t = timegm(&parts)
        // timegm normalizes (February 30 is March 2): a time that does not come back the
        // same is not a real one.
        var back = tm()
        gmtime_r(&t, &back)
        guard back.tm_year == Int32(year - 1900), back.tm_mon == Int32(month - 1), back.tm_mday == Int32(day),
              back.tm_hour == Int32(hour), back.tm_min == Int32(minute), back.tm_sec == Int32(second) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(t))
    }
}
