import Foundation

/// The change feed (issue 31, docs/events.md): the `events` table and its one-row state,
/// `event_feed`. Events are written through an `EventBatch` inside the transaction that
/// makes the change, read by cursor, and pruned after runs.
public final class EventStore {
    let database: any StoreDatabase
    /// `[events]`: set by whoever opened the store with the configuration (a run,
    /// `sisyncctl`, `sisync-api`); off until then, so a store opened without one writes none.
    public var settings = EventSettings()

    init(database: any StoreDatabase) {
        self.database = database
    }

    /// The events of one write transaction. With the feed off it writes none and marks the
    /// gap: the next event written after this change is `feed.started`, so a reader knows
    /// the feed missed changes. `runID` for a run's events (their time and actor are the
    /// run's), else the administrator's `actor` and `at`.
    func batch(runID: Int64?, actor: String? = nil, at: String? = nil) throws -> EventBatch {
        if !settings.isOn {
            try database.run("UPDATE event_feed SET writing_since = NULL WHERE id = 1 AND writing_since IS NOT NULL")
        }
        return EventBatch(database: database, isOn: settings.isOn, runID: runID, actor: runID == nil ? actor : nil, at: runID == nil ? at : nil)
    }

    /// A batch that writes nothing and marks nothing (a dry run's rolled-back transaction).
    func none() -> EventBatch { EventBatch(database: database, isOn: false, runID: nil, actor: nil, at: nil) }

    // MARK: reading

    static let columns = "e.event_id, e.type, coalesce(e.at, r.started_at), e.run_id, coalesce(e.actor, r.actor), e.subject, e.data"

    /// The events after `cursor`, oldest first, at most `limit`, of the types `filter` takes.
    /// One statement, so one snapshot: the head and the pruned mark agree with the events
    /// (a reader never skips an event that commits between two reads).
    public func events(after cursor: Int64, limit: Int, filter: EventTypeFilter = EventTypeFilter()) throws -> EventPage {
        let s = try database.query("""
            SELECT 0, \(unescaped: Self.columns) FROM (
              SELECT e.* FROM events e WHERE e.event_id > \(cursor) AND \(sql: filter.condition) ORDER BY e.event_id LIMIT \(Int64(max(0, limit)))
            ) AS e LEFT JOIN runs r ON r.run_id = e.run_id
            UNION ALL
            SELECT 1, (SELECT coalesce(max(event_id), 0) FROM events), NULL, NULL, f.pruned_through, NULL, NULL, NULL FROM event_feed f WHERE f.id = 1
            ORDER BY 1, 2
            """)
        var events: [FeedEvent] = []
        var head: Int64 = 0, prunedThrough: Int64 = 0
        try s.forEachRow { r in
            if r.int64(0) == 1 {
                head = r.int64(1)
                prunedThrough = r.int64(4)
                return
            }
            events.append(FeedEvent(id: r.int64(1), type: r.text(2), at: r.text(3), runID: r.isNull(4) ? nil : r.int64(4),
                                    actor: r.text(5), subject: r.text(6), data: r.text(7)))
        }
        head = max(head, prunedThrough)
        if cursor < prunedThrough { throw EventFeedError.pruned(cursor: cursor, prunedThrough: prunedThrough, head: head) }
        if cursor > head { throw EventFeedError.beyondHead(cursor: cursor, head: head) }
        let next = events.count >= limit ? events.last?.id ?? cursor : max(events.last?.id ?? cursor, head)
        return EventPage(events: events, next: next, head: head)
    }

    /// The newest event id (or the highest pruned one when none is kept); 0 for an empty feed.
    public func head() throws -> Int64 {
        Int64(try database.int("""
            SELECT CASE WHEN newest > pruned_through THEN newest ELSE pruned_through END
            FROM (SELECT coalesce((SELECT max(event_id) FROM events), 0) AS newest, pruned_through FROM event_feed WHERE id = 1) AS h
            """) ?? 0)
    }

    /// Waits until an event newer than `cursor` has committed, or `timeout` passes, or
    /// `stopping` says so: the long poll of `GET /v1/events?wait=` and `sisyncctl events
    /// --follow`. True when something newer is there. On PostgreSQL it listens on
    /// `sisync_events` and wakes at the commit's `NOTIFY` (the socket is polled, no query
    /// runs meanwhile); on SQLite, which has no notifications, it asks for the head every
    /// `every` seconds (one lookup of the last row).
    public func waitForEvents(after cursor: Int64, timeout: Double, every: Double = 0.1, stopping: () -> Bool = { false }) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        let listener = (database as? PostgresDatabase)?.connection
        if let listener { try listener.executeScript("LISTEN \(EventBatch.channel)") }
        defer { if let listener, listener.isConnected { try? listener.executeScript("UNLISTEN \(EventBatch.channel)") } }
        while true {
            // Asked after LISTEN: a commit between the two is seen here or notified.
            if try head() > cursor { return true }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || stopping() { return false }
            if let listener {
                _ = try listener.nextNotification(timeout: min(left, 1))
            } else {
                Thread.sleep(forTimeInterval: min(every, left))
            }
        }
    }

    // MARK: retention

    /// Deletes the events older than `keep_days` and beyond `max_events` (after runs, as
    /// history is pruned), and remembers the highest id pruned. Returns how many went.
    @discardableResult
    public func prune(now: Date) throws -> Int {
        let cutoff = Timestamp.format(now.addingTimeInterval(-Double(settings.keepDays) * 86_400))
        return try database.transaction {
            let head = try self.head()
            // Ids grow with time: the first event young enough is the boundary.
            let young = try database.query("""
                SELECT e.event_id FROM events e LEFT JOIN runs r ON r.run_id = e.run_id
                WHERE coalesce(e.at, r.started_at) >= \(cutoff) ORDER BY e.event_id LIMIT 1
                """)
            var keepFrom = try young.step() ? young.int64(0) : head + 1
            young.reset()
            if let cap = settings.maxEvents { keepFrom = max(keepFrom, head - Int64(cap) + 1) }
            guard try database.int("SELECT 1 FROM events WHERE event_id < \(keepFrom) LIMIT 1") != nil else { return 0 }
            try database.run("DELETE FROM events WHERE event_id < \(keepFrom)")
            let pruned = database.changes
            try database.run("UPDATE event_feed SET pruned_through = \(keepFrom - 1) WHERE id = 1 AND pruned_through < \(keepFrom - 1)")
            return pruned
        }
    }
}
