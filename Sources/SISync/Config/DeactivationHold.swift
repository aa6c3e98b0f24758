import Foundation

/// A window of the year in which absent records are marked missing but not deactivated
/// (`[sync] hold_deactivations = 06-15..08-31`): SIS summer roll-over empties rosters for
/// weeks, and deactivating half the students then would take their accounts' roles away
/// until September. A window may wrap the year end (`12-20..01-05`). Days are UTC, as the
/// school year's start is.
public struct DeactivationHold: Sendable, Equatable {
    public var start: (month: Int, day: Int)
    public var end: (month: Int, day: Int)

    public init(start: (month: Int, day: Int), end: (month: Int, day: Int)) {
        self.start = start
        self.end = end
    }

    public static func == (a: DeactivationHold, b: DeactivationHold) -> Bool {
        a.start == b.start && a.end == b.end
    }

    /// `MM-DD..MM-DD`; nil if it is not one.
    public init?(parsing text: String) {
        let sides = text.components(separatedBy: "..").map { $0.trimmingCharacters(in: .whitespaces) }
        guard sides.count == 2, let s = Self.day(sides[0]), let e = Self.day(sides[1]) else { return nil }
        self.init(start: s, end: e)
    }

    private static func day(_ text: String) -> (month: Int, day: Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let m = Int(parts[0]), let d = Int(parts[1]),
              (1...12).contains(m), d >= 1, d <= [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] else { return nil }
        return (m, d)
    }

    /// The last day of the window `date` falls in (as `YYYY-MM-DD`), or nil outside it.
    public func lastDay(containing date: Date) -> String? {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let p = cal.dateComponents([.year, .month, .day], from: date)
        let today = (p.month!, p.day!)
        let wraps = end < start
        let inside = wraps ? (today >= start || today <= end) : (today >= start && today <= end)
        guard inside else { return nil }
        let year = wraps && today >= start ? p.year! + 1 : p.year!
        return String(format: "%04d-%02d-%02d", year, end.month, end.day)
    }

    /// The latest last day of the windows `date` falls in (windows may overlap), or nil.
    public static func lastDay(of holds: [DeactivationHold], containing date: Date) -> String? {
        holds.compactMap { $0.lastDay(containing: date) }.max()
    }
}
