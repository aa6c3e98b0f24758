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

    static let columns = "e.event_id, e.type, coalesce(e.at, r.started_at), e.run_id, coalesce(e.actor, r.actor), e.subject, e.data, e.span, e.packed"

    /// The head: the last id of the newest row (a block's last), or the highest id pruned
    /// when that is higher (every event pruned); 0 for an empty feed.
    static let headQuery: SQLQuery = """
        SELECT CASE WHEN newest > pruned_through THEN newest ELSE pruned_through END
        FROM (SELECT coalesce((SELECT event_id + span - 1 FROM events ORDER BY event_id DESC LIMIT 1), 0) AS newest, pruned_through
              FROM event_feed WHERE id = 1) AS h
        """

    /// One stored row: an event (`data`), a block of events' lines (`packed`), or a block of
    /// a run's additions (neither: read from the records).
    private struct StoredRow {
        var id: Int64, type: String, at: String, runID: Int64?, actor: String, subject: String, data: String?, span: Int64, packed: String?
    }

    /// The events after `cursor`, oldest first, at most `limit`, of the types `filter` takes.
    /// The rows, the head and the pruned mark come from one statement, so one snapshot (a
    /// reader never skips an event that commits while it reads); a block of additions is
    /// then read from its records (`expand`).
    public func events(after cursor: Int64, limit: Int, filter: EventTypeFilter = EventTypeFilter()) throws -> EventPage {
        let s = try database.query("""
            SELECT 0, \(unescaped: Self.columns) FROM (
              SELECT e.* FROM events e
              WHERE e.event_id >= coalesce((SELECT max(event_id) FROM events WHERE event_id <= \(cursor + 1)), 0)
                AND e.event_id + e.span - 1 > \(cursor) AND \(sql: filter.condition)
              ORDER BY e.event_id LIMIT \(Int64(max(0, limit)))
            ) AS e LEFT JOIN runs r ON r.run_id = e.run_id
            UNION ALL
            SELECT 1, (\(sql: Self.headQuery)), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM event_feed f WHERE f.id = 1
            UNION ALL
            SELECT 2, pruned_through, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM event_feed WHERE id = 1
            ORDER BY 1, 2
            """)
        var rows: [StoredRow] = []
        var head: Int64 = 0, prunedThrough: Int64 = 0
        try s.forEachRow { r in
            switch r.int64(0) {
            case 1: head = r.int64(1)
            case 2: prunedThrough = r.int64(1)
            default:
                rows.append(StoredRow(id: r.int64(1), type: r.text(2), at: r.text(3), runID: r.isNull(4) ? nil : r.int64(4),
                                      actor: r.text(5), subject: r.text(6), data: r.string(7), span: r.int64(8), packed: r.string(9)))
            }
        }
        if cursor < prunedThrough { throw EventFeedError.pruned(cursor: cursor, prunedThrough: prunedThrough, head: head) }
        if cursor > head { throw EventFeedError.beyondHead(cursor: cursor, head: head) }
        var events: [FeedEvent] = []
        for row in rows where events.count < limit {
            if let data = row.data {
                events.append(FeedEvent(id: row.id, type: row.type, at: row.at, runID: row.runID, actor: row.actor, subject: row.subject, data: data))
            } else if let packed = row.packed {
                let from = max(cursor + 1, row.id)
                let lines = packed.split(separator: "\n", omittingEmptySubsequences: false)
                var data = CompactJSON()
                for (i, line) in lines.enumerated().dropFirst(Int(from - row.id)).prefix(limit - events.count) {
                    let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                    let subject: String, text: String
                    if row.subject == PackedLines.calculatedRole.rawValue, parts.count == 3 {
                        data.start()
                        data.string("role", parts[1]); data.string("school_year", parts[2]); data.string("source", "calculated")
                        subject = "{\"username\":" + parts[0] + "}"
                        text = data.text
                    } else if row.subject == PackedLines.userAdded.rawValue, let event = UserAddedLines.event(parts) {
                        (subject, text) = event
                    } else {
                        subject = parts[0]
                        text = parts.count > 1 ? parts[1...].joined(separator: "\t") : "{}"
                    }
                    events.append(FeedEvent(id: row.id + Int64(i), type: row.type, at: row.at, runID: row.runID, actor: row.actor,
                                            subject: subject, data: text))
                }
            } else {
                let from = max(cursor + 1, row.id)
                events += try expand(row, skipping: from - row.id, count: min(Int64(limit - events.count), row.id + row.span - from))
            }
        }
        let next = events.count >= limit ? events.last?.id ?? cursor : max(events.last?.id ?? cursor, head)
        return EventPage(events: events, next: next, head: head)
    }

    /// The events of a block of a run's additions (`RunEvents.records`): its records, in key
    /// order from the block's first, as they were when the run added them. A record changed
    /// since (`updated_run` past the run) is taken back through the change log: each value
    /// (and `active`) as the first change after the run found it.
    private func expand(_ row: StoredRow, skipping skip: Int64, count: Int64) throws -> [FeedEvent] {
        guard count > 0, let runID = row.runID, let dot = row.type.firstIndex(of: "."),
              let kind = EntityKind(rawValue: String(row.type[..<dot])),
              let first = try JSONSerialization.jsonObject(with: Data(row.subject.utf8)) as? [String: String] else {
            throw StoreError.notFound(what: "the records of event block \(row.id) (\(row.type))")
        }
        let keys = kind.keyColumns, values = kind.valueColumns
        let start = keys.map { first[$0] ?? "" }
        var from: SQLQuery = "\(unescaped: keys[0]) >= \(start[0])"
        if keys.count > 1 {
            var tuple: SQLQuery = "\(start[0])"
            for v in start.dropFirst() { tuple = "\(sql: tuple), \(v)" }
            from = "(\(unescaped: keys.joined(separator: ", "))) >= (\(sql: tuple))"
        }
        let columns = (keys + values + ["active", "updated_run"]).joined(separator: ", ")
        var records: [(keys: [String], values: [String], active: Bool, changed: Bool)] = []
        try database.forEachRow("""
            SELECT \(unescaped: columns) FROM \(unescaped: kind.table) WHERE added_run = \(runID) AND \(sql: from)
            ORDER BY \(unescaped: keys.joined(separator: ", ")) LIMIT \(count) OFFSET \(skip)
            """) { r in
            let n = Int32(keys.count), m = Int32(values.count)
            records.append(((0..<n).map { r.text($0) }, (n..<n + m).map { r.text($0) }, r.bool(n + m), r.int64(n + m + 1) > runID))
        }
        var out: [FeedEvent] = []
        var subject = CompactJSON(), data = CompactJSON()
        for (i, var record) in records.enumerated() {
            if record.changed {
                // Read after the record, so a change that commits in between is seen.
                var seen = Set<String>()
                try database.forEachRow("""
                    SELECT field, old_value FROM changes WHERE entity = \(kind.rawValue) AND record_id = \(record.keys.joined(separator: "/")) AND run_id > \(runID)
                    ORDER BY change_id
                    """) { c in
                    let field = c.text(0)
                    guard seen.insert(field).inserted else { return }
                    if let k = values.firstIndex(of: field) { record.values[k] = c.text(1) }
                    if field == "active" { record.active = c.text(1) == "true" }
                }
            }
            subject.start(); data.start()
            for (k, v) in zip(keys, record.keys) { subject.string(k, v) }
            for (k, v) in zip(values, record.values) { data.string(k, v) }
            data.bool("active", record.active)
            out.append(FeedEvent(id: row.id + skip + Int64(i), type: row.type, at: row.at, runID: runID, actor: row.actor,
                                 subject: subject.text, data: data.text))
        }
        return out
    }

    /// Writes out, as the lines they read as now, the blocks of additions of `kinds` (issue 33):
    /// such a block is read back from the records by their keys, so renaming a record would
    /// take its addition out of the block (or move another's in) and a replay of the feed
    /// would never see it added. Called in a rekey's transaction before the renames; a block
    /// written out stays so.
    func keepAdditionBlocks(of kinds: [EntityKind]) throws {
        guard !kinds.isEmpty else { return }
        var types: SQLQuery = "\(kinds[0].rawValue + ".added")"
        for k in kinds.dropFirst() { types = "\(sql: types), \(k.rawValue + ".added")" }
        var blocks: [StoredRow] = []
        try database.forEachRow("""
            SELECT \(unescaped: Self.columns) FROM events e LEFT JOIN runs r ON r.run_id = e.run_id
            WHERE e.data IS NULL AND e.packed IS NULL AND e.type IN (\(sql: types)) ORDER BY e.event_id
            """) { r in
            blocks.append(StoredRow(id: r.int64(0), type: r.text(1), at: r.text(2), runID: r.isNull(3) ? nil : r.int64(3),
                                    actor: r.text(4), subject: r.text(5), data: r.string(6), span: r.int64(7), packed: r.string(8)))
        }
        for block in blocks {
            let lines = try expand(block, skipping: 0, count: block.span).map { $0.subject + "\t" + $0.data }.joined(separator: "\n")
            try database.run("UPDATE events SET subject = \(PackedLines.json.rawValue), packed = \(lines) WHERE event_id = \(block.id)")
        }
    }

    /// The newest event id (or the highest pruned one when none is kept); 0 for an empty feed.
    public func head() throws -> Int64 {
        Int64(try database.int(Self.headQuery) ?? 0)
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
            // Whole rows only: a block with ids on both sides of the boundary stays.
            let gone = try database.int("SELECT coalesce(sum(span), 0) FROM events WHERE event_id < \(keepFrom) AND event_id + span - 1 < \(keepFrom)") ?? 0
            guard gone > 0 else { return 0 }
            try database.run("DELETE FROM events WHERE event_id < \(keepFrom) AND event_id + span - 1 < \(keepFrom)")
            try database.run("UPDATE event_feed SET pruned_through = \(keepFrom - 1) WHERE id = 1 AND pruned_through < \(keepFrom - 1)")
            return gone
        }
    }
}
