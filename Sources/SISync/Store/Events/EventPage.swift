/// What one read of the feed returns: the events after the cursor (at most the limit asked
/// for), the cursor to ask with next, and the head when they were read.
public struct EventPage: Sendable, Equatable {
    public var events: [FeedEvent]
    /// The last event returned or, when the page is not full, the head: a filtered read
    /// need not scan again what it found nothing in.
    public var next: Int64
    /// The newest event id (or the highest pruned one, when every event was pruned).
    public var head: Int64
}
