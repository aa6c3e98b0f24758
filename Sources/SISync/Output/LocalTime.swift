import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Times as people read them: in the local zone (`TZ`, as `date` reads it) with the zone's
/// name, to the minute (`2026-12-06 10:18 CET`). The database and `--json` keep RFC 3339
/// UTC (`Timestamp`); only text output for people goes through here.
public enum LocalTime {
    /// A stored RFC 3339 time in local time; text that is not a time (a date such as a
    /// link's `until`, "-") is shown as it is.
    public static func text(stored: String) -> String {
        guard let date = Timestamp.parse(stored) else { return stored }
        return text(date)
    }

    public static func text(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        // localtime_r reads TZ (tzset) as the C library does for `date`, POSIX rules
        // ("EST5EDT") and ":Area/City" included, which Foundation's TimeZone does not.
        tzset()
        guard localtime_r(&t, &parts) != nil else { return Timestamp.format(date) }
        let zone = parts.tm_zone.map { String(cString: $0) } ?? ""
        return format(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                      hour: Int(parts.tm_hour), minute: Int(parts.tm_min), zone: zone, offset: Int(parts.tm_gmtoff))
    }

    /// The text of a local time: the zone's abbreviation, or its offset from UTC when the
    /// zone has none (tzdata names some zones only `-03`; a bare `TZ=XYZ` none at all).
    static func format(year: Int, month: Int, day: Int, hour: Int, minute: Int, zone: String, offset: Int) -> String {
        let name: String
        if !zone.isEmpty && zone.contains(where: { $0.isLetter }) {
            name = zone
        } else {
            let sign = offset < 0 ? "-" : "+"
            let minutes = abs(offset) / 60
            name = String(format: "UTC%@%02d:%02d", sign, minutes / 60, minutes % 60)
        }
        return String(format: "%04d-%02d-%02d %02d:%02d ", year, month, day, hour, minute) + name
    }
}
