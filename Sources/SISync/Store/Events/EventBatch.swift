import Foundation

/// The events of one write transaction (docs/events.md): written beside the change they tell
/// of, so that they commit and roll back with it. Made by `EventStore.batch`; with the feed
/// off every write is nothing (the batch only marked the gap). `finish` announces the last
/// id (PostgreSQL `NOTIFY sisync_events`) and must come last, inside the transaction.
final class EventBatch {
    let database: any StoreDatabase
    let isOn: Bool
    /// A run's events leave `at` and `actor` to the run's record.
    let runID: Int64?
    let actor: String?
    let at: String?
    private var started = false
    private var wrote = false
    /// The channel a commit that wrote events announces its last id on (PostgreSQL).
    static let channel = "sisync_events"
    static let columns = ["type", "at", "run_id", "actor", "subject", "data"]

    init(database: any StoreDatabase, isOn: Bool, runID: Int64?, actor: String?, at: String?) {
        self.database = database
        self.isOn = isOn
        self.runID = runID
        self.actor = actor
        self.at = at
    }

    /// Before the first event: other writers of `events` wait until this transaction ends
    /// (ids visible in order), and a feed that was off gets its `feed.started` event.
    private func start() throws {
        guard !started else { return }
        started = true
        try database.serializeAppends(to: "events")
        let since = try database.query("SELECT writing_since FROM event_feed WHERE id = 1")
        let off = try since.step() ? since.isNull(0) : true
        since.reset()
        guard off else { return }
        // (A run's, like its other events, takes the run's time and actor.)
        try database.run("""
            INSERT INTO events (type, at, run_id, actor, subject, data) VALUES ('feed.started', \(at), \(runID), \(actor), '{}', '{}')
            """)
        try database.run("UPDATE event_feed SET writing_since = \(at ?? Timestamp.format(Date())) WHERE id = 1")
    }

    /// Streams events (COPY on PostgreSQL): `body` fills the sink's `subject` and `data`
    /// and calls `add(type)` for each.
    func write(_ body: (EventSink) throws -> Void) throws {
        guard isOn else { return }
        try start()
        try database.insertRows(into: "events", columns: Self.columns) { rows in
            try body(EventSink(rows: rows, batch: self))
        }
        wrote = true
    }

    /// Writes one event per row `rows` selects, set-based: `rows` gives the columns
    /// `type, subject, data` (JSON built in SQL with `json_quote`), in event order.
    func write(selecting rows: SQLQuery) throws {
        guard isOn else { return }
        try start()
        try database.run("""
            INSERT INTO events (type, at, run_id, actor, subject, data)
            SELECT e.type, \(at), \(runID), \(actor), e.subject, e.data FROM (\(sql: rows)) AS e
            """)
        wrote = true
    }

    /// Announces the last id written (PostgreSQL `NOTIFY`, delivered at commit); returns it.
    @discardableResult
    func finish() throws -> Int64? {
        guard isOn, wrote else { return nil }
        let last = try database.int("SELECT max(event_id) FROM events") ?? 0
        try database.announce(channel: Self.channel, payload: String(last))
        return Int64(last)
    }
}

/// Where `EventBatch.write` takes its events: fill `subject` and `data`, then `add(type)`.
final class EventSink {
    private let rows: any RowSink
    private let batch: EventBatch
    var subject = CompactJSON()
    var data = CompactJSON()

    init(rows: any RowSink, batch: EventBatch) {
        self.rows = rows
        self.batch = batch
    }

    func add(_ type: String) throws {
        try rows.add(type)
        try rows.add(batch.at)
        try rows.add(batch.runID)
        try rows.add(batch.actor)
        try subject.withFinished { try rows.add(utf8: $0) }
        try data.withFinished { try rows.add(utf8: $0) }
        try rows.endRow()
        discard()
    }

    /// Drops what was filled in for an event that is not written.
    func discard() {
        subject.start()
        data.start()
    }
}
