import Foundation

/// A run the guard held (R5): its plan waits for an administrator to approve or discard it.
/// A hold stands until it is approved, discarded, superseded by a later run that applies,
/// or expires (`[guard] held_plan_days`); only one stands at a time.
public struct RunHold: Sendable, Equatable {
    /// How a hold ended.
    public enum End: String, Sendable {
        case approved, discarded, superseded
    }

    public var runID: Int64
    public var heldAt: String
    public var expiresAt: String
    /// The last change-log entry when the run was held: an administrator's change to the
    /// users after it makes the plan's links stale.
    public var changeMark: Int64
    /// `Configuration.settingsDigest` of the run that was held.
    public var settingsDigest: String?
    public var ended: End?
    public var endedAt: String?
    public var endedBy: String?
    /// The run that approved or superseded it.
    public var endedRun: Int64?

    public func isStanding(at now: Date) -> Bool {
        ended == nil && !isExpired(at: now)
    }

    public func isExpired(at now: Date) -> Bool {
        guard let expiry = Timestamp.parse(expiresAt) else { return false }
        return ended == nil && expiry <= now
    }

    /// `held`, `expired`, `approved`, `discarded` or `superseded`.
    public func state(at now: Date) -> String {
        if let ended { return ended.rawValue }
        return isExpired(at: now) ? "expired" : "held"
    }

    /// "approved by alice in run 43 at …", for `run show`.
    public func describe(at now: Date) -> String {
        // Said to people (`run show`, a refused approve): times in local time.
        let expires = LocalTime.text(stored: expiresAt), at = endedAt.map(LocalTime.text(stored:)) ?? "?"
        switch ended {
        case nil:
            return isExpired(at: now) ? "the hold expired at \(expires)" : "held until \(expires)"
        case .approved?:
            return "approved by \(endedBy ?? "?") at \(at)\(endedRun.map { ", applied as run \($0)" } ?? "")"
        case .discarded?:
            return "discarded by \(endedBy ?? "?") at \(at)"
        case .superseded?:
            return "ended at \(at) by run \(endedRun.map(String.init) ?? "?")"
        }
    }
}
