import Foundation

/// How `sisyncctl status` shows what the probe found: the same facts in text and JSON.
extension DaemonProbe.Daemon {
    /// `"daemon": {"running", "pid", "since", "host", "standby", "state"}` (times in UTC;
    /// `state` as `DaemonState` spells it, null when the daemon did not say).
    public var json: JSONValue {
        .object([("running", .bool(running)), ("pid", pid.map { .int(Int64($0)) } ?? .null), ("since", .string(since.map(Timestamp.format))),
                 ("host", .string(host)), ("standby", .bool(standby)), ("state", .string(state?.rawValue))])
    }

    /// The `daemon:` and `next run:` lines of the status. `store` names where the lock is.
    public func statusLines(store: String) -> String {
        var out = ""
        if running {
            let who = "sisyncd pid \(pid.map(String.init) ?? "?")" + (host.map { " on \($0)" } ?? "")
            out += "daemon: \(who) is running" + (since.map { " since \(LocalTime.text($0))" } ?? "") + (state.map { "; now \($0)" } ?? "") + "\n"
            if standby { out += "this host: standby; it takes over when \(who) lets go of the store\n" }
            if let nextRunAt {
                out += "next run: \(LocalTime.text(nextRunAt)) (as \(who) scheduled it)\n"
            } else {
                out += "next run: \(host == nil ? "as the daemon schedules it" : "as \(who) schedules it (not known here)")\n"
            }
        } else {
            out += "daemon: not running (no sisyncd holds \(store))\n"
            out += "next run: no daemon\n"
        }
        return out
    }
}

extension RunReport {
    /// A run blocked while another was held says "still held: run N"; once that hold is over
    /// (discarded, approved, expired), the status says so instead of repeating it.
    public static func withEndedHold(_ s: RunSummary, standing: Int64?) -> RunSummary {
        guard s.outcome == .blocked, let error = s.error, error.hasPrefix("still held: run ") else { return s }
        let rest = error.dropFirst("still held: run ".count)
        let held = Int64(rest.prefix { $0.isNumber })
        guard let held, held != standing else { return s }
        var out = s
        out.ending = .blocked(reason: "blocked while run \(held) was held for review; that hold has ended (`sisyncctl run show \(held)`), and the next run plans the export again")
        return out
    }
}
