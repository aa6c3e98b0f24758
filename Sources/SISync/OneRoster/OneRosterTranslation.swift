/// Turns a OneRoster roster into sisync's own records, so that planning, the guard, the
/// store, linking and roles work exactly as for a native export:
/// - staff roles (teacher, administrator, aide; in 1.2 also principal, site, district and
///   system administrators, counselors and proctors) become staff members;
/// - students become students, `Enrolled` for the current school year when active with an
///   active enrollment in one of that year's academic sessions;
/// - parents, guardians and relatives become one household each (id = their sourcedId),
///   related to the students `agentSourcedIds` names on either side.
public struct OneRosterTranslation {
    /// The current school year (`2026-2027`); OneRoster's `schoolYear` is its ending year.
    public var schoolYear: String
    public var yearStart: (month: Int, day: Int)
    public var today: OneRosterDay
    public var entities: Set<EntityKind>
    public var limit: InvalidRowLimit
    /// A stored record (delta exports change records they do not list in full).
    public var stored: (EntityKind, String) throws -> (values: [String], active: Bool)?
    /// The buffer of each sorter the translation keeps its own (the students, the
    /// relationships, held enrollments' verdicts); tests make it small.
    var runBudget = RowSorter.defaultBudget

    public init(schoolYear: String, yearStart: (month: Int, day: Int), today: OneRosterDay, entities: Set<EntityKind>,
                limit: InvalidRowLimit, stored: @escaping (EntityKind, String) throws -> (values: [String], active: Bool)?) {
        self.schoolYear = schoolYear
        self.yearStart = yearStart
        self.today = today
        self.entities = entities
        self.limit = limit
        self.stored = stored
    }

    /// Entities a OneRoster export can carry.
    public static let kinds: [EntityKind] = [.staff, .students, .households, .householdRelationships]

    static let staffTitles: [String: String] = [
        "teacher": "Teacher", "administrator": "Administrator", "aide": "Aide", "principal": "Principal",
        "siteadministrator": "Site Administrator", "districtadministrator": "District Administrator",
        "systemadministrator": "System Administrator", "counselor": "Counselor", "proctor": "Proctor",
    ]
    static let staffRoles11: Set<String> = ["teacher", "administrator", "aide"]
    static let staffRoles12: Set<String> = ["teacher", "aide", "principal", "siteadministrator", "districtadministrator",
                                            "systemadministrator", "counselor", "proctor"]
    static let guardianRoles: [String: String] = ["parent": "Parent", "guardian": "Guardian", "relative": "Relative"]
    /// Orgs above a building: not schools, so not in a staff member's `school_ids`.
    static let nonSchoolOrgTypes: Set<String> = ["district", "local", "state", "national"]

    public static let enrolled = "Enrolled"
    public static let notEnrolled = "Not enrolled"

    /// `spill`: the run's private directory, where the rows are sorted (`EntityRows`), as a
    /// native export's are; nil: in memory. (Held in memory, a district's 870,000 records
    /// were a third of what its translation held.)
    public func translate(_ roster: OneRosterRoster, spill: RunDirectory? = nil) throws -> (rows: [EntityKind: EntityRows], notices: OneRosterNotices) {
        var notices = roster.notices
        guard roster.mode(.users) != .absent else {
            if roster.mode(.enrollments) != .absent { notices.add("enrollments without users (nothing to apply them to)", "users absent") }
            return ([:], notices)
        }
        let delta = roster.mode(.users) == .delta
        let source = roster.usersSource
        var rows: [EntityKind: EntityRows] = [:]
        for kind in Self.kinds where entities.contains(kind) {
            var r = EntityRows(kind: kind, source: source, spill: spill)
            r.isDelta = delta
            rows[kind] = r
        }
        let staffRoles = roster.version == .v1_1 ? Self.staffRoles11 : Self.staffRoles12
        func isStudent(_ u: OneRosterRoster.User) -> Bool { u.roles.contains { $0.name == "student" } }
        func guardianRole(_ u: OneRosterRoster.User) -> String? { u.roles.lazy.compactMap { Self.guardianRoles[$0.name] }.first }
        func staffRole(_ u: OneRosterRoster.User) -> String? { u.roles.first { staffRoles.contains($0.name) }?.name }

        let current = try currentEnrollments(roster, spill: spill)
        let enrollmentsKnown = roster.mode(.enrollments) != .absent
        let enrollmentsDelta = roster.mode(.enrollments) == .delta

        // Skipped user rows (R2): reported once, their records protected in every entity.
        var problems = roster.problems
        var protected = roster.protectedUserIDs
        func skip(_ u: OneRosterRoster.User, column: String, _ message: String) {
            problems.append(RowProblem(file: source, location: String(u.line), column: column, id: u.id, message: message))
            protected.insert(u.id)
        }
        // The relationships are found on disk (`OneRosterRelationships`): the one pass over
        // the users (a bundle's are read from the file, not held) gives it every user and
        // every agent list.
        var relationships = rows[.householdRelationships] != nil ? OneRosterRelationships(directory: spill, budget: runBudget, source: source) : nil
        // The students wait for their enrollments, read beside them in id order.
        var students = rows[.students] != nil ? OneRosterStudents(directory: spill, valueCount: EntityKind.students.valueColumns.count, budget: runBudget, source: source) : nil
        // A delta enrols students whose user row did not change: those it did not list.
        var listed = OneRosterIDSet()
        try roster.forEachUser { u in
            let student = isStudent(u)
            if delta { listed.insert(u.id) }
            // Every user is known to the relationships, skipped or not, as what its row says
            // (a guardian only once it is made a household).
            var relationship: String?
            defer { relationships?.addUser(u.id, isStudent: student, deleted: u.deleted, relationship: relationship, line: u.line) }
            // An id holding a control character is no usable id (R2), and a unit separator
            // would split the relationship keys it becomes part of: such a student names
            // no one either (a REST page can carry one; users.csv rows never do).
            if u.id.utf8.contains(where: RowRules.isControl) {
                problems.append(RowProblem(file: source, location: String(u.line), column: "sourcedId", id: nil, message: "the id holds a control character"))
                return
            }
            if student, !u.agents.isEmpty { relationships?.addStudent(u.id, deleted: u.deleted, line: u.line, agents: u.agents) }
            let staff = staffRole(u), guardian = guardianRole(u)
            if staff == nil && guardian == nil && !student {
                let names = u.roles.map(\.name)
                notices.add(names.isEmpty ? "users without a role" : "users whose roles sisync does not map",
                            names.isEmpty ? u.id : "\(u.id) (\(names.joined(separator: ", ")))")
                return
            }
            if u.givenName.isEmpty || u.familyName.isEmpty {
                skip(u, column: u.givenName.isEmpty ? "givenName" : "familyName", "required field `\(u.givenName.isEmpty ? "givenName" : "familyName")` is empty")
                return
            }
            if !u.email.isEmpty && !RowRules.isPlausibleEmail(u.email) {
                skip(u, column: "email", "invalid email `\(u.email)`")
                return
            }
            let name = "\(u.givenName) \(u.familyName)"
            if let staff, rows[.staff] != nil {
                let schools = u.orgs.filter { !Self.nonSchoolOrgTypes.contains(roster.orgTypes[$0] ?? "") }
                try append(&rows[.staff]!, u, [u.givenName, u.familyName, u.email, Self.staffTitles[staff] ?? staff,
                                          schools.joined(separator: ";"), u.enabled ? "" : "false"])
            }
            if student, students != nil {
                // The school and status are settled once the enrollments are read beside it.
                let school = u.orgs.first { !Self.nonSchoolOrgTypes.contains(roster.orgTypes[$0] ?? "") } ?? ""
                students!.add(u, values: [u.givenName, u.familyName, u.email, school, u.grades.first ?? "", Self.notEnrolled, schoolYear])
            }
            if let guardian {
                relationship = guardian
                if !u.agents.isEmpty { relationships?.addGuardian(u.id, relationship: guardian, deleted: u.deleted, line: u.line, agents: u.agents) }
                if rows[.households] != nil { try append(&rows[.households]!, u, [name]) }
            }
        }
        // In place, and let go after (a copy would leave the original's runs open).
        defer { students = nil; relationships = nil }
        if students != nil {
            try students!.forEach(beside: try current.sorted()) { id, values, deleted, line, enrolledAt in
                var values = values
                if let enrollment = enrolledAt {
                    values[5] = deleted ? Self.notEnrolled : Self.enrolled
                    if !enrollment.isEmpty { values[3] = enrollment }
                } else if !enrollmentsKnown || (enrollmentsDelta && !current.mentioned.contains(id)) {
                    // Nothing in this export says otherwise: keep what the mirror holds.
                    if let s = try stored(.students, id), s.values.count == 7, s.values[6] == schoolYear {
                        values[5] = deleted ? Self.notEnrolled : s.values[5]
                    }
                }
                rows[.students]!.noteRowRead()
                try rows[.students]!.append(key: id, values: values.map { Array($0.utf8)[...] }, inactive: deleted, location: line)
            }
        }
        if delta, rows[.students] != nil {
            // A delta may enrol a student whose user row did not change. The one walk of the
            // verdicts also says which mentioned students are enrolled (a look-up each read
            // a block of them from disk).
            var mentionedEnrolled = OneRosterIDSet()
            try current.forEach { id, school in
                if current.mentioned.contains(id) { mentionedEnrolled.insert(id) }
                guard !listed.contains(id), let s = try stored(.students, id), s.values.count == 7 else { return }
                var values = s.values
                values[5] = Self.enrolled
                values[6] = schoolYear
                if !school.isEmpty { values[3] = school }
                rows[.students]!.noteRowRead()
                try rows[.students]!.append(key: id, values: values.map { Array($0.utf8)[...] }, inactive: !s.active, location: 0)
            }
            // In id order: a set's own order differs from run to run, and so would the
            // notice's examples.
            for id in current.mentioned.all.sorted() where !mentionedEnrolled.contains(id) && !listed.contains(id) {
                notices.add("delta enrollments that end a student's enrollment (applied with the next bulk export)", id)
            }
        }
        if relationships != nil {
            try relationships!.relate(protected: protected, delta: delta, storedStudent: { id in try stored(.students, id).map(\.active) },
                                     into: &rows[.householdRelationships]!, notices: &notices)
        }
        // R2: skipped rows are reported once (with the staff, or the first entity managed),
        // and the records of skipped users are left unchanged in every entity.
        let allowed = limit.allowed(rows: roster.userCount + roster.problems.count)
        let userProblems = problems.filter { $0.file == source }.count
        if userProblems > allowed {
            throw ExportError.tooManyInvalidRows(file: source, invalid: userProblems, allowed: allowed, rows: roster.userCount + roster.problems.count)
        }
        if let first = Self.kinds.first(where: { rows[$0] != nil }) {
            for p in problems { try rows[first]!.reportProblem(p, key: nil, line: Int(p.location) ?? 0) }
            let protectedIDs = protected.all
            for kind in Self.kinds where rows[kind] != nil {
                for id in protectedIDs { try rows[kind]!.protect(id, line: 0) }
            }
        }
        return (rows, notices)
    }

    private func append(_ rows: inout EntityRows, _ u: OneRosterRoster.User, _ values: [String]) throws(ExportError) {
        rows.noteRowRead()
        try rows.append(key: u.id, values: values.map { Array($0.utf8)[...] }, inactive: u.deleted, location: u.line)
    }

    /// The rule that says whether an enrollment enrols its student on this run's day.
    public var enrollmentRule: OneRosterEnrollmentRule {
        OneRosterEnrollmentRule(schoolYear: schoolYear, yearStart: yearStart, today: today)
    }

    /// Students with an active enrollment this school year (with its school), and every
    /// student a (delta) enrollment mentions: the verdicts the reader kept, and those of
    /// the enrollments it kept.
    func currentEnrollments(_ roster: OneRosterRoster, spill: RunDirectory? = nil) throws -> OneRosterCurrentEnrollments {
        let rule = enrollmentRule
        var current = OneRosterCurrentEnrollments(directory: spill, budget: runBudget)
        if let judged = roster.enrollmentRule {
            guard judged == rule else {
                throw ExportError.wrongDocument(file: roster.usersSource, message: "its enrollments were judged for another day or school year than this run's; run again")
            }
            current = roster.judgedEnrollments
        }
        for e in roster.enrollments { rule.judge(e, in: roster, into: &current) }
        return current
    }
}
