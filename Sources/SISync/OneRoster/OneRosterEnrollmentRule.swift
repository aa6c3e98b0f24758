/// Whether a OneRoster enrollment makes its student enrolled this school year: an active
/// student enrollment, not ended before today, in one of this year's academic sessions (or,
/// with no term to go by, dated within the year). A reader that knows the rule when the
/// enrollments arrive (`OneRosterCSVBundle`, after the classes and sessions it needs) judges
/// each one as it is read and keeps only the verdicts, not the enrollments: a district's
/// 920,000 enrollments held as values were a fifth of what its translation held.
public struct OneRosterEnrollmentRule: Sendable, Equatable {
    /// The ending year of the current school year (`2027` for `2026-2027`).
    public var endingYear: Int
    /// The first day of the school year, and the first day of the next.
    public var yearFirst: OneRosterDay
    public var yearNext: OneRosterDay
    public var today: OneRosterDay

    public init(schoolYear: String, yearStart: (month: Int, day: Int), today: OneRosterDay) {
        endingYear = Int(schoolYear.suffix(4)) ?? today.year
        yearFirst = OneRosterDay(year: endingYear - 1, month: yearStart.month, day: yearStart.day)
        yearNext = OneRosterDay(year: endingYear, month: yearStart.month, day: yearStart.day)
        self.today = today
    }

    /// Adds `e`'s verdict to `current`: a student enrollment mentions its student, and an
    /// enrollment in force this year enrols it at its school (the first that names one).
    /// `roster` holds the classes and sessions read so far.
    func judge(_ e: OneRosterRoster.Enrollment, in roster: OneRosterRoster, into current: inout OneRosterCurrentEnrollments) {
        guard e.role.isEmpty || e.role == "student" else { return }
        // Only a delta (users or enrollments) asks who was mentioned: a bulk export's set
        // would hold every student for nothing.
        if roster.mode(.users) == .delta || roster.mode(.enrollments) == .delta { current.mentioned.insert(e.userID) }
        guard !e.deleted else { return }
        if let end = e.end, end < today { return }
        let cls = roster.classes[e.classID]
        if cls?.deleted == true { return }
        let terms = (cls?.terms ?? []).compactMap { roster.sessions[$0] }.filter { !$0.deleted }
        let inYear: Bool
        if !terms.isEmpty {
            inYear = terms.contains { $0.schoolYear == endingYear }
        } else if cls?.terms.isEmpty == false && roster.mode(.academicSessions) == .bulk {
            inYear = false  // its terms are not sessions of this export
        } else {
            // No term to go by: the enrollment's own dates, if any, must meet this year.
            inYear = (e.begin.map { $0 < yearNext } ?? true) && (e.end.map { $0 >= yearFirst } ?? true)
        }
        if inYear { current.enrol(e.userID, at: e.schoolID.isEmpty ? (cls?.schoolID ?? "") : e.schoolID) }
    }
}

/// The verdicts of a roster's enrollments: the students enrolled this year (with their
/// school, possibly empty), and, when users or enrollments are a delta, every student a
/// student enrollment mentions.
///
/// Each verdict goes through a `RowSorter` keyed by the student's id (sorted runs in the
/// run's private directory), and the translation reads them in that order beside its
/// students, sorted the same way: as a table of the enrolled students' ids, five times the
/// bench district's 1.5 million enrolled students with UUID ids took about 100 MB, growing
/// with the district (issue 34). Ids are compared by their bytes.
///
/// A value: a copy changed is copied first (its verdicts sorted and given to a sorter of
/// its own), and verdicts may be added after a look-up (the sorted ones go first).
public struct OneRosterCurrentEnrollments: @unchecked Sendable {
    private var verdicts: Verdicts?
    private let directory: RunDirectory?
    private let budget: Int
    private let source: String
    public var mentioned = OneRosterIDSet()

    /// `directory`: where the sorted runs go (the run's own); nil keeps them in memory.
    /// `source`: where the enrollments come from (`enrollments.csv`, the REST URL), for
    /// messages.
    public init(directory: RunDirectory? = nil, source: String = "enrollments.csv") {
        self.init(directory: directory, budget: RowSorter.defaultBudget, source: source)
    }

    /// `budget`: the sorter's buffer (tests make it small).
    init(directory: RunDirectory?, budget: Int, source: String = "enrollments.csv") {
        self.directory = directory
        self.budget = budget
        self.source = source
    }

    /// How many sorted runs went to the directory (tests).
    var spilledRuns: Int { verdicts?.spilledRuns ?? 0 }

    /// Enrols `student` at `school`, unless an earlier enrollment named its school: the
    /// first enrollment that names one gives it.
    mutating func enrol(_ student: String, at school: String) {
        if verdicts == nil {
            verdicts = Verdicts(directory: directory, budget: budget, source: source)
        } else if !isKnownUniquelyReferenced(&verdicts!) {
            verdicts = Verdicts(copying: verdicts!)
        }
        verdicts!.add(student, school: school)
    }

    /// Each enrolled student once, in key order (`KeyOrder`), with its school (value 0,
    /// possibly empty). Sorted on the first call, and kept until another is enrolled.
    func sorted() throws -> SortedRows {
        guard let verdicts else { return SortedRows.empty(valueCount: 1) }
        return try verdicts.sorted()
    }

    /// The school `student` is enrolled at (empty: none named); nil when not enrolled.
    /// (A look-up in the sorted verdicts: for a delta's few, and tests.)
    public func school(of student: String) throws -> String? {
        let rows = try sorted()
        var id = student
        return id.withUTF8 { key in rows.row(forKey: key).map { rows.withValueBytes($0, 0) { String(decoding: $0, as: UTF8.self) } } }
    }

    /// The enrolled students, in key order.
    public func enrolledStudents() throws -> [String] {
        let rows = try sorted()
        return (0..<rows.count).map { i in rows.withKeyBytes(i) { String(decoding: $0, as: UTF8.self) } }
    }

    /// Calls `body` with each enrolled student and its school, in key order.
    func forEach(_ body: (_ student: String, _ school: String) throws -> Void) throws {
        let walk = try SortedRowsWalk(rows: try sorted())
        while let r = walk.current {
            let student = String(decoding: r.key, as: UTF8.self), school = String(decoding: r.value(0), as: UTF8.self)
            try walk.advance()
            try body(student, school)
        }
    }

    /// The sorter and, once sorted, its rows. A class, shared by copies until one of them
    /// enrols (`enrol` copies it then): the sorter's buffers cannot be copied as a value.
    private final class Verdicts: @unchecked Sendable {
        private let lock = NSLock()
        private var sorter: RowSorter?
        private var rows: SortedRows?
        private var count: UInt32 = 0
        private let directory: RunDirectory?
        private let budget: Int
        private let source: String
        /// Verdicts that could not be carried into this sorter (a copy's or a reopening's
        /// read failed): thrown when the verdicts are read.
        private var failure: Error?
        private var runs = 0

        init(directory: RunDirectory?, budget: Int, source: String) {
            self.directory = directory
            self.budget = budget
            self.source = source
            sorter = Self.sorter(directory, budget, source)
        }

        /// A copy to change: `other`'s verdicts sorted, and given to a sorter of its own.
        convenience init(copying other: Verdicts) {
            self.init(directory: other.directory, budget: other.budget, source: other.source)
            do { carry(try other.sorted()) } catch { failure = error }
        }

        private static func sorter(_ directory: RunDirectory?, _ budget: Int, _ source: String) -> RowSorter {
            var s = RowSorter(valueCount: 1, label: "oneroster-enrolled", directory: directory)
            s.budget = budget
            s.source = source
            return s
        }

        /// Gives the sorted verdicts to the sorter (the lock is held, or not yet shared),
        /// each before any added later with as much of a school.
        private func carry(_ sorted: SortedRows) {
            do {
                let walk = try SortedRowsWalk(rows: sorted)
                while let r = walk.current {
                    let school = String(decoding: r.value(0), as: UTF8.self)
                    add(unlocked: String(decoding: r.key, as: UTF8.self), school: school)
                    try walk.advance()
                }
            } catch {
                failure = failure ?? error
            }
        }

        var spilledRuns: Int {
            lock.lock()
            defer { lock.unlock() }
            return sorter?.spilledRuns ?? runs
        }

        func add(_ student: String, school: String) {
            lock.lock()
            defer { lock.unlock() }
            if sorter == nil, let sorted = rows {
                // Verdicts added after a look-up: the sorted ones go first, as they came.
                sorter = Self.sorter(directory, budget, source)
                rows = nil
                count = 0
                carry(sorted)
            }
            add(unlocked: student, school: school)
        }

        private func add(unlocked student: String, school: String) {
            // Equal keys come out in the order of `sequence`: a verdict naming a school
            // before any that names none, each in the order judged (an export holds fewer
            // enrollments than 2^31).
            let sequence = (school.isEmpty ? 1 << 31 : 0) | min(count, (1 << 31) - 1)
            count &+= 1
            sorter!.add(key: student, values: [school], sequence: sequence, line: 0)
        }

        func sorted() throws -> SortedRows {
            lock.lock()
            defer { lock.unlock() }
            if let failure { throw failure }
            if let rows { return rows }
            runs = sorter!.spilledRuns
            let sorted = try sorter!.finishKeepingFirstOfEachKey()
            sorter = nil
            rows = sorted
            return sorted
        }
    }
}

import Foundation
