import Foundation

/// How a link came about: `auto` links follow emails and are maintained by sync; `manual`
/// links are an administrator's decision (an intern recording for a teacher) and sync never
/// changes them, except that one made with `--until` ends after that day.
public enum LinkKind: String, Sendable, Codable {
    case auto, manual
}

/// A user's tie to one staff record: only a linked user may record data, and the data is
/// tied to the staff record. A wrong link puts John's entries under Jane's name, so every
/// link is in the audit trail with its reason.
public struct Link: Sendable, Equatable {
    public var staffID: String
    public var kind: LinkKind
    public var reason: String?
    /// The last day of a manual link made with `--until` (YYYY-MM-DD).
    public var until: String?

    public init(staffID: String, kind: LinkKind, reason: String? = nil, until: String? = nil) {
        self.staffID = staffID
        self.kind = kind
        self.reason = reason
        self.until = until
    }

    /// Whether a link with `until` has ended at `now`: it ends when that day is over (UTC).
    public func hasEnded(at now: Date) -> Bool {
        guard let until, let day = Timestamp.parse(until + "T00:00:00Z") else { return false }
        return now >= day.addingTimeInterval(86_400)
    }
}
