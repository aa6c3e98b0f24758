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
/// student enrollment mentions. The enrolled students' ids are numbered (`OneRosterIDs`)
/// and each names its school by a number: as a dictionary of `String`s, a district's
/// 300,000 enrolled students with 36-character UUIDs for ids took about 30 MB.
public struct OneRosterCurrentEnrollments: Sendable {
    private var students = OneRosterIDs()
    /// By student number, the number of its school in `schools`.
    private var schoolOf = FlatArray<Int32>()
    private var schools = OneRosterIDs()
    public var mentioned = OneRosterIDSet()
    public init() {}

    /// How many students are enrolled.
    public var count: Int { schoolOf.count }

    /// The enrolled students, in the order they were first enrolled.
    public var enrolledStudents: [String] { students.all }

    /// The school `student` is enrolled at (empty: none named); nil when not enrolled.
    public func school(of student: String) -> String? {
        students.find(student).map { schools.id(schoolOf[Int($0)]) }
    }

    /// Enrols `student` at `school`, unless it is enrolled at a school already: the first
    /// enrollment that names one gives it.
    mutating func enrol(_ student: String, at school: String) {
        let n = Int(students.number(student))
        if n < schoolOf.count && !schools.isEmpty(schoolOf[n]) { return }
        let s = schools.number(school)
        if n == schoolOf.count { schoolOf.append(s) } else { schoolOf[n] = s }
    }

    /// Calls `body` with each enrolled student and its school, in the order they were first
    /// enrolled.
    func forEach(_ body: (_ student: String, _ school: String) throws -> Void) rethrows {
        for n in 0..<Int32(count) { try body(students.id(n), schools.id(schoolOf[Int(n)])) }
    }
}
