/// Finds a user given twice (R2: refused, with the place of its first): every user's id
/// goes through a `RowSorter` (sorted runs in the run's private directory), and once all
/// are read the sorted ids are walked for equal neighbours. Checked as they were read, the
/// ids had to be a table of every user's, the largest thing a OneRoster run held: about
/// 170 MB for five times the bench district (2.85 million users with UUID ids; issue 34).
///
/// The duplicate reported is the one a check in reading order would have stopped at: of
/// the ids given twice, the one whose second giving was read first.
///
/// One reader at a time adds to it, and a copy shares the sorter's buffers: it is
/// handed over (a roster's, from page to page), never copied and used twice.
struct OneRosterDuplicateIDs: @unchecked Sendable {
    private var sorter: RowSorter
    private var count: UInt32 = 0

    /// `directory`: where the sorted runs go (the run's own); nil keeps them in memory.
    /// `budget`: the sorter's buffer (tests make it small).
    /// `source`: where the users come from, for messages.
    init(directory: RunDirectory?, budget: Int = RowSorter.defaultBudget, source: String = "users.csv") {
        sorter = RowSorter(valueCount: 1, label: "oneroster-user-ids", directory: directory)
        sorter.budget = budget
        sorter.source = source
    }

    /// How many sorted runs went to the directory so far (tests).
    var spilledRuns: Int { sorter.spilledRuns }

    /// A user's id as read, at `place` (a line of users.csv, an index in the REST
    /// collection); `detail` is kept for the message (a REST page's URL).
    mutating func add(_ id: String, place: Int, detail: String = "") {
        let sequence = count
        count &+= 1
        sorter.add(key: id, values: [detail], sequence: sequence, line: place)
    }

    /// The first id given twice, in the order read: the id, the place and detail of its
    /// second giving, and the place of its first; nil when every id is given once. Ends the
    /// check: nothing may be added after.
    mutating func first() throws -> (id: String, place: Int, detail: String, firstPlace: Int)? {
        let walk = try SortedRowsWalk(rows: try sorter.finishKeepingAll())
        let key = ByteBuffer(capacity: 64)
        var groupFirst: Int32 = 0, groupSize = 0
        var found: (sequence: UInt32, id: String, place: Int, detail: String, firstPlace: Int)?
        while let r = walk.current {
            if groupSize > 0 && key.equals(r.key) {
                groupSize += 1
                // Equal ids come in the order read: the second is where a check in reading
                // order would have stopped.
                if groupSize == 2 && (found == nil || r.sequence < found!.sequence) {
                    found = (r.sequence, String(decoding: r.key, as: UTF8.self), Int(r.line), String(decoding: r.value(0), as: UTF8.self), Int(groupFirst))
                }
            } else {
                key.removeAll()
                key.append(r.key)
                groupFirst = r.line
                groupSize = 1
            }
            try walk.advance()
        }
        return found.map { ($0.id, $0.place, $0.detail, $0.firstPlace) }
    }
}
