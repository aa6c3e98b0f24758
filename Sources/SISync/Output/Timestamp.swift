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
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}
