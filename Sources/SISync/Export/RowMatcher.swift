/// Finds the export's row of each stored record while the planner scans a mirror table.
/// SQLite scans a mirror table in its key's order, the order the rows are sorted in
/// (`KeyOrder`), so the rows are walked once beside the scan, as a merge does, instead of
/// searched once per record (a search was a tenth of a day on which every file changed).
/// A key that does not come after the one before (PostgreSQL's heap order, a table read
/// through an index) is searched for, and the walk goes on from there: any order is
/// answered correctly, key order only faster.
///
/// The walk reads the rows one after another (`SortedRowsWalk`) once keys have come in
/// order for a while; until then, and after every key out of order, rows are looked up
/// through `SortedRows`' block cache, so that keys in no order never re-read the file.
struct RowMatcher {
    /// The row a stored record's key has in the export, and what the planner compares.
    struct Match: Equatable {
        var row: Int
        var inactive: Bool
        var fingerprint: UInt64
    }

    /// Keys in order in a row before the walk is (re)started.
    static let walkAfter = 64

    let rows: EntityRows
    /// Every row before `next` has a key at most `previous`.
    private var next = 0
    private let previous = ByteBuffer()
    private var started = false
    /// Reading on from `next` while keys come in order; nil after a key out of order.
    private var walk: SortedRowsWalk?
    private var inOrderRun = 0

    init(rows: EntityRows) { self.rows = rows }

    /// The row with `key`, if there is one.
    mutating func row(forKey key: UnsafeBufferPointer<UInt8>) throws -> Int? {
        try match(key)?.row
    }

    /// The row with `key`, its activity and fingerprint, if there is one.
    mutating func match(_ key: UnsafeBufferPointer<UInt8>) throws -> Match? {
        let inOrder = started && KeyOrder.compare(previous.bytes, key) < 0
        defer {
            previous.removeAll()
            previous.append(key)
            started = true
        }
        if inOrder {
            inOrderRun += 1
            if walk == nil && inOrderRun >= Self.walkAfter { walk = try rows.walk(from: next) }
        } else {
            inOrderRun = 0
            walk = nil
        }
        if let walk {
            while let r = walk.current, KeyOrder.compare(r.key, key) < 0 { try walk.advance() }
            guard let r = walk.current, KeyOrder.compare(r.key, key) == 0 else {
                next = walk.index
                return nil
            }
            next = walk.index + 1
            return Match(row: walk.index, inactive: r.isInactive, fingerprint: r.fingerprint)
        }
        let found = inOrder ? rows.position(of: key, from: next) : rows.position(of: key)
        next = found.found ? found.index + 1 : found.index
        guard found.found else { return nil }
        return rows.withRow(found.index) { Match(row: found.index, inactive: $0.isInactive, fingerprint: $0.fingerprint) }
    }
}
