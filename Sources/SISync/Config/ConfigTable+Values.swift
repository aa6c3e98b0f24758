import Foundation

/// The checks of the keys whose values have a shape of their own (a list of windows, of
/// entities, of alias pairs), named so that their lines in the table stay one line.
extension ConfigKey {
    /// `auto` or `2026-2027`.
    static func schoolYear(_ l: ConfigLine) throws(ConfigError) -> SchoolYearSetting {
        let v = l.value.lowercased()
        if v == "auto" { return .auto }
        let parts = v.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 4,
              let a = Int(parts[0]), let b = Int(parts[1]), b == a + 1 else { throw l.bad("`auto` or a year such as 2026-2027") }
        return .fixed(v)
    }

    /// `MM-DD`.
    static func schoolYearStart(_ l: ConfigLine) throws(ConfigError) -> (month: Int, day: Int) {
        let parts = l.value.split(separator: "-")
        guard parts.count == 2, let m = Int(parts[0]), let d = Int(parts[1]), (1...12).contains(m), (1...31).contains(d) else {
            throw l.bad("a month and day as MM-DD, such as 07-01")
        }
        return (m, d)
    }

    /// `06-15..08-31, 12-20..01-05`.
    static func holdDeactivations(_ l: ConfigLine) throws(ConfigError) -> [DeactivationHold] {
        var holds: [DeactivationHold] = []
        for window in l.list() {
            guard let hold = DeactivationHold(parsing: window) else {
                throw l.bad("windows of the year as MM-DD..MM-DD, comma-separated, such as 06-15..08-31 (a window may wrap the year end: 12-20..01-05)")
            }
            holds.append(hold)
        }
        return holds
    }

    /// `staff, students`: in the order of `EntityKind`, and always with staff.
    static func entities(_ l: ConfigLine) throws(ConfigError) -> [EntityKind] {
        var kinds: [EntityKind] = []
        for name in l.list() {
            guard let k = EntityKind(rawValue: name.lowercased()) else {
                throw l.bad("a comma-separated list of " + EntityKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            if !kinds.contains(k) { kinds.append(k) }
        }
        guard kinds.contains(.staff) else { throw l.bad("a list that includes staff (staff is always required)") }
        return EntityKind.allCases.filter { kinds.contains($0) }
    }

    /// `alias.domain = domain, ...`, lower-cased.
    static func emailDomainAliases(_ l: ConfigLine) throws(ConfigError) -> [String: String] {
        var aliases: [String: String] = [:]
        for pair in l.list() {
            let sides = pair.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty else {
                throw l.bad("a comma-separated list of `alias.domain = domain` pairs")
            }
            aliases[sides[0]] = sides[1]
        }
        return aliases
    }
}
