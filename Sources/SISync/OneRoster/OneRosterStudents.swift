/// The students of a OneRoster translation, held back until their enrollments are known:
/// each goes through a `RowSorter` keyed by its id (sorted runs in the run's private
/// directory), and is then read beside the enrollment verdicts, which are sorted the same
/// way (`OneRosterCurrentEnrollments`). Looked up student by student, the verdicts would
/// have to be a table of every enrolled student's id, which grows with the district
/// (issue 34).
struct OneRosterStudents {
    private var sorter: RowSorter
    private var count: UInt32 = 0

    /// `directory`: where the sorted runs go (the run's own); nil keeps them in memory.
    /// `budget`: the sorter's buffer (tests make it small).
    /// `source`: where the users come from, for messages.
    init(directory: RunDirectory?, valueCount: Int, budget: Int = RowSorter.defaultBudget, source: String = "users.csv") {
        sorter = RowSorter(valueCount: valueCount, label: "oneroster-students", directory: directory)
        sorter.budget = budget
        sorter.source = source
    }

    /// Lowers the largest record (tests).
    mutating func limitRecords(to bytes: Int) { sorter.recordLimit = bytes }

    /// How many sorted runs went to the directory so far (tests).
    var spilledRuns: Int { sorter.spilledRuns }

    /// A student user, with the values of its record as far as the user row gives them.
    mutating func add(_ u: OneRosterRoster.User, values: [String]) {
        // Equal ids (a held roster may give a user twice) in the order given.
        let sequence = count
        count &+= 1
        sorter.add(key: u.id, values: values, sequence: sequence, line: u.line, inactive: u.deleted)
    }

    /// Calls `body` with each student in key order (`KeyOrder`): its id, values, whether it
    /// is deleted, its line, and the school of its verdict in `verdicts` (empty: none
    /// named; nil: not enrolled).
    mutating func forEach(beside verdicts: SortedRows,
                          _ body: (_ id: String, _ values: [String], _ deleted: Bool, _ line: Int, _ enrolledAt: String?) throws -> Void) throws {
        let students = try SortedRowsWalk(rows: try sorter.finishKeepingAll())
        let enrolled = try SortedRowsWalk(rows: verdicts)
        while let s = students.current {
            let school = try enrolled.skip(before: s.key).map { String(decoding: $0.value(0), as: UTF8.self) }
            let id = String(decoding: s.key, as: UTF8.self)
            let values = (0..<s.valueCount).map { String(decoding: s.value($0), as: UTF8.self) }
            let deleted = s.isInactive, line = Int(s.line)
            try students.advance()
            try body(id, values, deleted, line, school)
        }
    }
}
