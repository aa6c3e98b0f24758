/// Finds the export's row of each stored record while the planner scans a mirror table.
/// SQLite scans a mirror table in its key's order, the order the rows are sorted in
/// (`KeyOrder`), so the rows are walked once beside the scan, as a merge does, instead of
/// searched once per record (a search was a tenth of a day on which every file changed).
/// A key that does not come after the one before (PostgreSQL's heap order, a table read
/// through an index) is searched for, and the walk goes on from there: any order is
/// answered correctly, key order only faster.
struct RowMatcher {
    let rows: EntityRows
    /// Every row before `next` has a key at most `previous`.
    private var next = 0
    private var previous: [UInt8] = []
    private var started = false

    init(rows: EntityRows) { self.rows = rows }

    /// The row with `key`, if there is one.
    mutating func row(forKey key: UnsafeBufferPointer<UInt8>) -> Int? {
        let inOrder = started && previous.withUnsafeBufferPointer { KeyOrder.compare($0, key) < 0 }
        let found = inOrder ? rows.position(of: key, from: next) : rows.position(of: key)
        next = found.found ? found.index + 1 : found.index
        previous.removeAll(keepingCapacity: true)
        previous.append(contentsOf: key)
        started = true
        return found.found ? found.index : nil
    }
}
