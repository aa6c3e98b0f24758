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

    public func translate(_ roster: OneRosterRoster) throws -> (rows: [EntityKind: EntityRows], notices: OneRosterNotices) {
        var roster = roster
        guard roster.mode(.users) != .absent else {
            if roster.mode(.enrollments) != .absent { roster.notices.add("enrollments without users (nothing to apply them to)", "users absent") }
            return ([:], roster.notices)
        }
        let delta = roster.mode(.users) == .delta
        let source = roster.usersSource
        var rows: [EntityKind: EntityRows] = [:]
        for kind in Self.kinds where entities.contains(kind) {
            var r = EntityRows(kind: kind, source: source)
            r.isDelta = delta
            rows[kind] = r
        }
        let staffRoles = roster.version == .v1_1 ? Self.staffRoles11 : Self.staffRoles12
        var byID: [String: Int] = [:]
        for (i, u) in roster.users.enumerated() { byID[u.id] = i }
        func isStudent(_ u: OneRosterRoster.User) -> Bool { u.roles.contains { $0.name == "student" } }
        func guardianRole(_ u: OneRosterRoster.User) -> String? { u.roles.lazy.compactMap { Self.guardianRoles[$0.name] }.first }
        func staffRole(_ u: OneRosterRoster.User) -> String? { u.roles.first { staffRoles.contains($0.name) }?.name }

        let current = currentEnrollments(roster)
        let enrollmentsKnown = roster.mode(.enrollments) != .absent
        let enrollmentsDelta = roster.mode(.enrollments) == .delta

        // Skipped user rows (R2): reported once, their records protected in every entity.
        var problems = roster.problems
        func skip(_ u: OneRosterRoster.User, column: String, _ message: String) {
            problems.append(RowProblem(file: source, location: String(u.line), column: column, id: u.id, message: message))
            roster.protectedUserIDs.insert(u.id)
        }
        var guardians: [(user: OneRosterRoster.User, relationship: String)] = []
        for u in roster.users {
            // An id holding a control character is no usable id (R2), and a unit separator
            // would split the relationship keys it becomes part of.
            if u.id.utf8.contains(where: RowRules.isControl) {
                problems.append(RowProblem(file: source, location: String(u.line), column: "sourcedId", id: nil, message: "the id holds a control character"))
                continue
            }
            let staff = staffRole(u), guardian = guardianRole(u), student = isStudent(u)
            if staff == nil && guardian == nil && !student {
                let names = u.roles.map(\.name)
                roster.notices.add(names.isEmpty ? "users without a role" : "users whose roles sisync does not map",
                                   names.isEmpty ? u.id : "\(u.id) (\(names.joined(separator: ", ")))")
                continue
            }
            if u.givenName.isEmpty || u.familyName.isEmpty {
                skip(u, column: u.givenName.isEmpty ? "givenName" : "familyName", "required field `\(u.givenName.isEmpty ? "givenName" : "familyName")` is empty")
                continue
            }
            if !u.email.isEmpty && !RowRules.isPlausibleEmail(u.email) {
                skip(u, column: "email", "invalid email `\(u.email)`")
                continue
            }
            let name = "\(u.givenName) \(u.familyName)"
            if let staff, rows[.staff] != nil {
                let schools = u.orgs.filter { !Self.nonSchoolOrgTypes.contains(roster.orgTypes[$0] ?? "") }
                try append(&rows[.staff]!, u, [u.givenName, u.familyName, u.email, Self.staffTitles[staff] ?? staff,
                                          schools.joined(separator: ";"), u.enabled ? "" : "false"])
            }
            if student, rows[.students] != nil {
                var status = Self.notEnrolled
                var school = u.orgs.first { !Self.nonSchoolOrgTypes.contains(roster.orgTypes[$0] ?? "") } ?? ""
                if let enrollment = current.enrolled[u.id] {
                    status = u.deleted ? Self.notEnrolled : Self.enrolled
                    if !enrollment.isEmpty { school = enrollment }
                } else if !enrollmentsKnown || (enrollmentsDelta && !current.mentioned.contains(u.id)) {
                    // Nothing in this export says otherwise: keep what the mirror holds.
                    if let s = try stored(.students, u.id), s.values.count == 7, s.values[6] == schoolYear {
                        status = u.deleted ? Self.notEnrolled : s.values[5]
                    }
                }
                try append(&rows[.students]!, u, [u.givenName, u.familyName, u.email, school, u.grades.first ?? "", status, schoolYear])
            }
            if let guardian {
                guardians.append((u, guardian))
                if rows[.households] != nil { try append(&rows[.households]!, u, [name]) }
            }
        }
        if delta, rows[.students] != nil {
            // A delta may enrol a student whose user row did not change.
            for (id, school) in current.enrolled where byID[id] == nil {
                guard let s = try stored(.students, id), s.values.count == 7 else { continue }
                var values = s.values
                values[5] = Self.enrolled
                values[6] = schoolYear
                if !school.isEmpty { values[3] = school }
                rows[.students]!.noteRowRead()
                try rows[.students]!.append(key: id, values: values.map { Array($0.utf8)[...] }, inactive: !s.active, location: 0)
            }
            for id in current.mentioned where current.enrolled[id] == nil && byID[id] == nil {
                roster.notices.add("delta enrollments that end a student's enrollment (applied with the next bulk export)", id)
            }
        }
        if rows[.householdRelationships] != nil {
            var seen: Set<String> = []
            func relate(_ parent: OneRosterRoster.User, relationship: String, studentID: String, studentDeleted: Bool) throws {
                let key = RecordKey.join([parent.id, "student", studentID])
                guard seen.insert(key).inserted else { return }
                rows[.householdRelationships]!.noteRowRead()
                try rows[.householdRelationships]!.append(key: key, values: [Array(relationship.utf8)[...]],
                                                      inactive: parent.deleted || studentDeleted, location: parent.line)
            }
            var guardianIndex: [String: Int] = [:]
            for (i, g) in guardians.enumerated() { guardianIndex[g.user.id] = i }
            for g in guardians where !roster.protectedUserIDs.contains(g.user.id) {
                for agent in g.user.agents {
                    if agent.utf8.contains(where: RowRules.isControl) {
                        roster.notices.add("agentSourcedIds holding a control character", g.user.id)
                        continue
                    }
                    if let i = byID[agent] {
                        let s = roster.users[i]
                        if isStudent(s) {
                            if !roster.protectedUserIDs.contains(s.id) { try relate(g.user, relationship: g.relationship, studentID: s.id, studentDeleted: s.deleted) }
                        } else if guardianIndex[agent] == nil {
                            roster.notices.add("agentSourcedIds of a parent naming someone who is not a student", "\(g.user.id) → \(agent)")
                        }
                    } else if delta, let s = try stored(.students, agent) {
                        try relate(g.user, relationship: g.relationship, studentID: agent, studentDeleted: !s.active)
                    } else {
                        roster.notices.add("agentSourcedIds naming an unknown user", "\(g.user.id) → \(agent)")
                    }
                }
            }
            for s in roster.users where isStudent(s) && !roster.protectedUserIDs.contains(s.id) {
                for agent in s.agents {
                    if let gi = guardianIndex[agent] {
                        let g = guardians[gi]
                        if !roster.protectedUserIDs.contains(g.user.id) { try relate(g.user, relationship: g.relationship, studentID: s.id, studentDeleted: s.deleted) }
                    } else if byID[agent] != nil {
                        roster.notices.add("agentSourcedIds of a student naming someone who is not a parent, guardian or relative", "\(s.id) → \(agent)")
                    } else if !delta {
                        roster.notices.add("agentSourcedIds naming an unknown user", "\(s.id) → \(agent)")
                    }
                }
            }
        }
        // R2: skipped rows are reported once (with the staff, or the first entity managed),
        // and the records of skipped users are left unchanged in every entity.
        let allowed = limit.allowed(rows: roster.users.count + roster.problems.count)
        let userProblems = problems.filter { $0.file == source }.count
        if userProblems > allowed {
            throw ExportError.tooManyInvalidRows(file: source, invalid: userProblems, allowed: allowed, rows: roster.users.count + roster.problems.count)
        }
        if let first = Self.kinds.first(where: { rows[$0] != nil }) {
            for p in problems { try rows[first]!.reportProblem(p, key: nil, line: Int(p.location) ?? 0) }
            for kind in Self.kinds where rows[kind] != nil {
                for id in roster.protectedUserIDs { try rows[kind]!.protect(id, line: 0) }
            }
        }
        return (rows, roster.notices)
    }

    private func append(_ rows: inout EntityRows, _ u: OneRosterRoster.User, _ values: [String]) throws(ExportError) {
        rows.noteRowRead()
        try rows.append(key: u.id, values: values.map { Array($0.utf8)[...] }, inactive: u.deleted, location: u.line)
    }

    /// Students with an active enrollment this school year (with its school), and every
    /// student a (delta) enrollment mentions.
    func currentEnrollments(_ roster: OneRosterRoster) -> (enrolled: [String: String], mentioned: Set<String>) {
        let endingYear = Int(schoolYear.suffix(4)) ?? today.year
        let yearFirst = OneRosterDay(year: endingYear - 1, month: yearStart.month, day: yearStart.day)
        let yearNext = OneRosterDay(year: endingYear, month: yearStart.month, day: yearStart.day)
        var enrolled: [String: String] = [:]
        var mentioned: Set<String> = []
        for e in roster.enrollments where e.role.isEmpty || e.role == "student" {
            mentioned.insert(e.userID)
            guard !e.deleted else { continue }
            if let end = e.end, end < today { continue }
            let cls = roster.classes[e.classID]
            if cls?.deleted == true { continue }
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
            if inYear, enrolled[e.userID] == nil || enrolled[e.userID] == "" {
                enrolled[e.userID] = e.schoolID.isEmpty ? (cls?.schoolID ?? "") : e.schoolID
            }
        }
        return (enrolled, mentioned)
    }
}
