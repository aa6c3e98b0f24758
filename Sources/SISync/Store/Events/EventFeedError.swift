/// A cursor the feed cannot continue from (docs/events.md, "Retention"). Both say what to
/// do: re-read the state, then continue from the head the error gives.
public enum EventFeedError: Error, Equatable, CustomStringConvertible {
    /// Events after the cursor were pruned (`[events] keep_days`, `max_events`).
    case pruned(cursor: Int64, prunedThrough: Int64, head: Int64)
    /// The cursor is beyond the newest event: it is not this store's (a restored backup,
    /// another tenant).
    case beyondHead(cursor: Int64, head: Int64)
    /// `types` names no event type (`staff.deactivated`, or a prefix such as `staff.*`).
    case unknownType(String)

    public var head: Int64? {
        switch self {
        case .pruned(_, _, let head), .beyondHead(_, let head): return head
        case .unknownType: return nil
        }
    }

    public var description: String {
        switch self {
        case .pruned(let cursor, let through, let head):
            return "events after \(cursor) are no longer kept (pruned through \(through) by [events] keep_days or max_events): re-read the current state, then continue from the head, \(head)"
        case .beyondHead(let cursor, let head):
            return "cursor \(cursor) is beyond the newest event, \(head): it is not from this store; re-read the current state, then continue from \(head)"
        case .unknownType(let name):
            return "`\(name)` is not an event type (docs/events.md lists them; a prefix is written `staff.*`)"
        }
    }
}
