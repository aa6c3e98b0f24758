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
        if inYear, current.enrolled[e.userID] == nil || current.enrolled[e.userID] == "" {
            current.enrolled[e.userID] = e.schoolID.isEmpty ? (cls?.schoolID ?? "") : e.schoolID
        }
    }
}

/// The verdicts of a roster's enrollments: the students enrolled this year (with their
/// school, possibly empty), and, when users or enrollments are a delta, every student a
/// student enrollment mentions.
public struct OneRosterCurrentEnrollments: Sendable {
    public var enrolled: [String: String] = [:]
    public var mentioned: Set<String> = []
    public init() {}
}
