import Foundation

/// The events of one write transaction (docs/events.md): written beside the change they tell
/// of, so that they commit and roll back with it. Made by `EventStore.batch`; with the feed
/// off every write is nothing (the batch only marked the gap). `finish` announces the last
/// id (PostgreSQL `NOTIFY sisync_events`) and must come last, inside the transaction.
///
/// Events are stored a block at a time (`EventStore` reads them back one by one): up to
/// `blockSize` consecutive events of one type in one row, their lines in `packed`. A row
/// per event cost a first run's roles and a user import a quarter of their time.
final class EventBatch {
    let database: any StoreDatabase
    let isOn: Bool
    /// A run's events leave `at` and `actor` to the run's record.
    let runID: Int64?
    let actor: String?
    let at: String?
    /// The id the next event gets: the head + 1, read once this writer holds `events`.
    fileprivate var nextID: Int64 = 0
    private var started = false
    /// The channel a commit that wrote events announces its last id on (PostgreSQL).
    static let channel = "sisync_events"
    static let columns = ["event_id", "type", "at", "run_id", "actor", "subject", "data", "span", "packed"]
    /// Events per stored row at most.
    static let blockSize = 1024

    init(database: any StoreDatabase, isOn: Bool, runID: Int64?, actor: String?, at: String?) {
        self.database = database
        self.isOn = isOn
        self.runID = runID
        self.actor = actor
        self.at = at
    }

    /// Before the first event: other writers of `events` wait until this transaction ends
    /// (ids visible in order), the ids go on from the head, and a feed that was off gets
    /// its `feed.started` event.
    private func start() throws {
        guard !started else { return }
        started = true
        try database.serializeAppends(to: "events")
        nextID = Int64(try database.int(EventStore.headQuery) ?? 0) + 1
        let since = try database.query("SELECT writing_since FROM event_feed WHERE id = 1")
        let off = try since.step() ? since.isNull(0) : true
        since.reset()
        guard off else { return }
        // (A run's, like its other events, takes the run's time and actor.)
        try database.run("""
            INSERT INTO events (event_id, type, at, run_id, actor, subject, data) VALUES (\(nextID), 'feed.started', \(at), \(runID), \(actor), '{}', '{}')
            """)
        nextID += 1
        try database.run("UPDATE event_feed SET writing_since = \(at ?? Timestamp.format(Date())) WHERE id = 1")
    }

    /// Streams events (COPY on PostgreSQL): `body` fills the sink's `subject` and `data`
    /// and calls `add(type)` for each (or `addBlock` for a run's additions).
    func write(_ body: (EventSink) throws -> Void) throws {
        guard isOn else { return }
        try start()
        try database.insertRows(into: "events", columns: Self.columns) { rows in
            let sink = EventSink(rows: rows, batch: self)
            try body(sink)
            try sink.flush()
        }
    }

    /// Writes one event per row `rows` selects, set-based, a block of `blockSize` per stored
    /// row: `rows` gives `seq` (1, 2, … in any order: a fresh table's `rowid`, which
    /// PostgreSQL reads as `row_number() OVER ()`) and `item`, the event's line in `format`.
    func write(_ type: String, lines format: PackedLines = .json, selecting rows: SQLQuery) throws {
        guard isOn else { return }
        try start()
        try database.run("""
            INSERT INTO events (event_id, type, at, run_id, actor, subject, data, span, packed)
            SELECT \(nextID - 1) + min(e.seq), \(type), \(at), \(runID), \(actor), \(format.rawValue), NULL, count(*), group_concat(e.item, char(10))
            FROM (\(sql: rows)) AS e GROUP BY (e.seq - 1) / \(Int64(Self.blockSize))
            """)
        nextID = Int64(try database.int(EventStore.headQuery) ?? 0) + 1
    }

    /// Writes one `type` event (`role.granted`, `role.revoked`) per calculated role `query`
    /// gives (`username`, `role`, `school_year`, in the order they are numbered), as
    /// `PackedLines.calculatedRole` lines, a block of `blockSize` per stored row. The lines
    /// are made here, from the rows' bytes (`CalculatedRoleLines`): made by SQL
    /// (`json_quote`, three `||` and a `group_concat` sorted by block) they cost a district's
    /// first run, 294,716 grants, 0.4 s. SQLite writes each block as soon as it is made, in
    /// the room of one block, while it reads on: gathered first, a district's first grants'
    /// 7 MB of lines made the kernel hand out and clear about 4,000 new pages, a fifth of
    /// what the events cost that run in time (`perf`), which no count of instructions shows.
    /// PostgreSQL answers no query in the middle of a COPY, so there all rows are read first.
    func writeCalculatedRoles(_ type: String, reading query: SQLQuery) throws {
        guard isOn else { return }
        let lines = CalculatedRoleLines()
        let rows = try database.query(query)
        defer { rows.reset() }
        if let rows = rows as? SQLiteStatement {
            // Nothing is written (not even `feed.started`) when there is no role.
            guard try rows.step() else { return }
            try write { sink in
                repeat {
                    // Its columns' bytes read in place: through `withText`'s closures, three
                    // per row, they cost a tenth of the events' instructions.
                    lines.add(username: rows.unsafeText(0), role: rows.unsafeText(1), schoolYear: rows.unsafeText(2))
                    if lines.hasFullBlock { try write(lines, type, into: sink) }
                } while try rows.step()
                try write(lines, type, into: sink)
            }
            return
        }
        while try rows.step() {
            rows.withText(0) { u in rows.withText(1) { r in rows.withText(2) { y in lines.add(username: u, role: r, schoolYear: y) } } }
        }
        // The rows read go before the COPY (their lines are made).
        rows.reset()
        guard !lines.isEmpty else { return }
        try write { sink in try write(lines, type, into: sink) }
    }

    /// Writes the blocks `lines` holds (the last one also when not full) and empties it.
    private func write(_ lines: CalculatedRoleLines, _ type: String, into sink: EventSink) throws {
        try lines.forEachBlock { count, block in try sink.addLines(type, format: .calculatedRole, count: count, lines: block) }
        lines.removeAll()
    }

    /// Announces the last id written (PostgreSQL `NOTIFY`, delivered at commit); returns it.
    @discardableResult
    func finish() throws -> Int64? {
        guard isOn, started else { return nil }
        let last = nextID - 1
        try database.announce(channel: Self.channel, payload: String(last))
        return last
    }
}

/// Where `EventBatch.write` takes its events: fill `subject` and `data`, then `add(type)`.
/// Consecutive events of one type are kept until a block is full, then written as one row.
final class EventSink {
    private let rows: any RowSink
    private let batch: EventBatch
    var subject = CompactJSON()
    var data = CompactJSON()
    /// The block being filled: its type, its events' lines, how many.
    private var blockType = ""
    private var lines: [UInt8] = []
    private var firstSubject: [UInt8] = []
    private var firstData: [UInt8] = []
    private var count = 0

    init(rows: any RowSink, batch: EventBatch) {
        self.rows = rows
        self.batch = batch
    }

    func add(_ type: String) throws {
        try subject.withFinished { s in try data.withFinished { d in try add(type, subject: s, data: d) } }
        discard()
    }

    /// One event whose subject and data are given as the JSON `subject` and `data` would
    /// hold (a run's new links, whose data is one object for all of them: made member by
    /// member, a district's first 17,830 links cost 112 million instructions).
    func add(_ type: String, subject s: UnsafeBufferPointer<UInt8>, data d: UnsafeBufferPointer<UInt8>) throws {
        if count == EventBatch.blockSize || (count > 0 && type != blockType) { try flush() }
        blockType = type
        if count == 0 { firstSubject = Array(s); firstData = Array(d) }
        if count > 0 { lines.append(0x0A) }
        lines.append(contentsOf: s)
        lines.append(0x09)
        lines.append(contentsOf: d)
        count += 1
    }

    /// Writes the block being filled: one event as a row of its own, more in `packed`.
    func flush() throws {
        guard count > 0 else { return }
        try startRow(blockType)
        if count == 1 {
            try firstSubject.withUnsafeBufferPointer { try rows.add(utf8: $0) }
            try firstData.withUnsafeBufferPointer { try rows.add(utf8: $0) }
            try rows.add(Int64(1))
            try rows.add(nil as String?)
        } else {
            try rows.add(PackedLines.json.rawValue)
            try rows.add(nil as String?)
            try rows.add(Int64(count))
            try lines.withUnsafeBufferPointer { try rows.add(utf8: $0) }
        }
        try rows.endRow()
        batch.nextID += Int64(count)
        count = 0
        lines.removeAll(keepingCapacity: true)
    }

    /// `count` events of `type` in one row whose `packed` holds their `lines` in `format`
    /// (made by the caller, as `EventBatch.writeCalculatedRoles` does).
    func addLines(_ type: String, format: PackedLines, count: Int, lines: UnsafeBufferPointer<UInt8>) throws {
        try flush()
        try startRow(type)
        try rows.add(format.rawValue)
        try rows.add(nil as String?)
        try rows.add(Int64(count))
        try rows.add(utf8: lines)
        try rows.endRow()
        batch.nextID += Int64(count)
        discard()
    }

    /// `span` events of `type` in one row without data, read back from the records a run
    /// added (`EventStore.expand`); `subject` is the first one's.
    func addBlock(_ type: String, span: Int) throws {
        try flush()
        try startRow(type)
        try subject.withFinished { try rows.add(utf8: $0) }
        try rows.add(nil as String?)
        try rows.add(Int64(span))
        try rows.add(nil as String?)
        try rows.endRow()
        batch.nextID += Int64(span)
        discard()
    }

    /// A stored row's first columns: its first id, the type, and the batch's time, run and actor.
    private func startRow(_ type: String) throws {
        try rows.add(batch.nextID)
        try rows.add(type)
        try rows.add(batch.at)
        try rows.add(batch.runID)
        try rows.add(batch.actor)
    }

    /// Drops what was filled in for an event that is not written.
    func discard() {
        subject.start()
        data.start()
    }
}

/// How a block's lines are written (`events.subject` of a block row names it).
enum PackedLines: String {
    /// The event's subject JSON, a tab, its data JSON.
    case json
    /// A calculated role, as the role tables give it (the first run grants 300,000): the
    /// username as a JSON string, a tab, the role, a tab, the school year. Roles and school
    /// years are export keys, which hold no control characters (R2).
    case calculatedRole = "calculated-role"
    /// A `user import`'s new user (a district's first import adds 200,000): the username and
    /// the email as JSON strings, `true` or `false` (approved), and the attachments as the
    /// JSON object of the event's data, tab-separated (`UserAddedLines`).
    case userAdded = "user-added"
}

