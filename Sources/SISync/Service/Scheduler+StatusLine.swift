import Foundation

/// The STATUS lines systemd shows (`systemctl status sisync`) for a schedule.
extension Scheduler {
    /// An error's first line, cut to `limit` characters, for a STATUS line.
    static func firstLine(_ text: String, at limit: Int) -> String {
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        return line.count > limit ? String(line.prefix(limit - 3)) + "..." : line
    }

    /// "standby: sisync held by db-a.district.org pid 812 since 08:15"
    static func standbyLine(_ holder: (holder: String, since: Date?), timeZone: TimeZone = .current) -> String {
        var who = holder.holder
        if who.hasPrefix("sisyncd on ") { who.removeFirst("sisyncd on ".count) }
        var line = "standby: sisync held by \(who)"
        if let since = holder.since { line += " since \(Timestamp.clock(since, timeZone: timeZone))" }
        return line
    }

    /// "last run 42 applied 08:15: +3 staff, -1 staff, 2 links, 5 roles; next 08:30", and
    /// "; deactivations on hold until 2027-08-31" inside a `hold_deactivations` window.
    static func statusLine(_ s: RunSummary, next: Date, heldUntil: String? = nil, timeZone: TimeZone = .current) -> String {
        let at = Timestamp.parse(s.startedAt).map { Timestamp.clock($0, timeZone: timeZone) } ?? s.startedAt
        let outcome = s.outcome == .blocked && s.standingHold != nil && s.standingHold == s.runID ? "held" : s.outcome.rawValue
        var line = "last run \(s.runID.map(String.init) ?? "-") \(outcome) \(at): "
        switch s.outcome {
        case .failed, .blocked:
            line += Self.firstLine(s.error ?? "no reason recorded", at: 160)
        default:
            var parts = ["+\(s.staff.added) staff", "-\(s.staff.deactivated) staff"]
            if s.staff.reactivated > 0 { parts.append("\(s.staff.reactivated) staff back") }
            parts.append("\(s.linksMade + s.linksRemoved) links")
            parts.append("\(s.rolesGranted + s.rolesRevoked) roles")
            line += parts.joined(separator: ", ")
        }
        // A blocked run's own error says that it is held, or which run still is.
        if let held = s.standingHold, s.outcome != .blocked { line += "; run \(held) held for review (sisyncctl run approve \(held))" }
        return line + "; next \(Timestamp.clock(next, timeZone: timeZone))" + (heldUntil.map { "; deactivations on hold until \($0)" } ?? "")
    }
}
