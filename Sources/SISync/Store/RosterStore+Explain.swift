import Foundation

extension RosterStore {
    /// Explains a user's link and roles against the data as it is now (R6, R7).
    public func explain(_ username: String, settings: RoleSettings, normalizer: EmailNormalizer) throws -> Explanation {
        guard let profile = try accounts.profiles(username: username).first else { throw AccountError.noSuchUser(username) }
        let u = profile.user
        let year = settings.schoolYear
        let parentRelationships = Set(settings.parentRelationships.map { $0.lowercased() })
        var out = Explanation(username: u.username)
        var supported: [String: [String]] = [:]  // role label → reasons it is (or would be) granted
        var against: [String: [String]] = [:]    // fixed role → reasons it is not
        func grant(_ label: String, _ why: String) { supported[label, default: []].append(why) }
        func deny(_ role: String, _ why: String) { against[role, default: []].append(why) }

        // Link (R6) and Staff.
        let emailKey = normalizer.key(u.email)
        var sameEmail: [(id: String, active: Bool)] = []
        for (id, entry) in try accounts.staffDirectoryEntries(normalizer: normalizer) where entry.emailKey == emailKey && !emailKey.isEmpty {
            sameEmail.append((id, entry.active))
        }
        sameEmail.sort { $0.id < $1.id }
        var linkedActive: StaffRecord?
        if let link = u.link, let staff = try mirror.staffMember(id: link.staffID) {
            let who = "staff member \(staff.staffID) (\(staff.firstName) \(staff.lastName))"
            let inactive = staff.active ? "" : ", inactive since \(staff.deactivatedAt ?? "?"); the link stays so that past entries stay attributed"
            var why: String
            switch link.kind {
            case .manual:
                let made = try linkOrigin(u.username)
                why = "linked by hand to \(who)\(made.map { " by \($0.by) on \($0.at.prefix(10))" } ?? ""): \(link.reason ?? "no reason given")"
                if let until = link.until { why += "; the link ends after \(until)" }
                if normalizer.key(staff.email) != emailKey {
                    why += "; the emails differ (\(u.email) vs \(staff.email.isEmpty ? "no email" : staff.email)), so entries made by this user appear under \(staff.firstName) \(staff.lastName)'s name"
                }
            case .auto:
                why = "the email \(emailKey) matches \(who)"
            }
            out.link = .init(staffID: staff.staffID, kind: link.kind, why: why + inactive)
            if staff.active { linkedActive = staff; grant("Staff", "linked to active \(who)") } else {
                deny("Staff", "linked \(who) is inactive since \(staff.deactivatedAt ?? "?")")
            }
        } else {
            let active = sameEmail.filter(\.active).map(\.id)
            let inactive = sameEmail.filter { !$0.active }.map(\.id)
            if active.count > 1 {
                deny("Staff", "not linked: \(countWords(active.count)) active staff share \(emailKey): \(active.joined(separator: ", ")); fix the emails in the SIS or link the user by hand")
            } else if active.count == 1 {
                deny("Staff", "not linked yet: active staff member \(active[0]) has the email \(emailKey); the next run links them")
            } else if !inactive.isEmpty {
                deny("Staff", "not linked: only inactive staff have the email \(emailKey): \(inactive.joined(separator: ", "))")
            } else {
                deny("Staff", "not linked: no staff member has the email \(emailKey)")
            }
        }

        // Student.
        var anyStudent = false
        try database.forEachRow("""
            SELECT a.record_id, st.first_name, st.last_name, st.enrollment_status, st.school_year, st.active
            FROM user_attachments a LEFT JOIN students st ON st.student_id = a.record_id
            WHERE a.username = \(u.username) AND a.kind = 'student' ORDER BY a.record_id
            """) { r in
            anyStudent = true
            let id = r.text(0)
            guard !r.isNull(1) else { deny("Student", "attached student \(id) is not in the mirror"); return }
            let who = "student \(id) (\(r.text(1)) \(r.text(2)))"
            let status = r.text(3), y = r.text(4)
            if !r.bool(5) { deny("Student", "\(who) is no longer in the SIS (inactive)") }
            else if status.lowercased() != "enrolled" { deny("Student", "\(who) is \(status) for \(y)") }
            else if y != year { deny("Student", "\(who) is enrolled for \(y), not the current school year \(year)") }
            else { grant("Student", "attached to \(who), enrolled for \(year)") }
        }
        if !anyStudent { deny("Student", "not attached to a student record") }

        // Parent and Applicant, through attached households.
        var anyHousehold = false, anyStudentRelation = false, anyApplicantRelation = false
        let parentList = settings.parentRelationships.joined(separator: ", ")
        try database.forEachRow("""
            SELECT a.record_id, r.record_type, r.record_id, r.relationship,
                   st.first_name || ' ' || st.last_name, st.enrollment_status, st.school_year, st.active,
                   ap.first_name || ' ' || ap.last_name, ap.status, ap.active
            FROM user_attachments a
            LEFT JOIN household_relationships r ON r.household_id = a.record_id AND r.active = TRUE
            LEFT JOIN students st ON r.record_type = 'student' AND st.student_id = r.record_id
            LEFT JOIN applicants ap ON r.record_type = 'applicant' AND ap.applicant_id = r.record_id
            WHERE a.username = \(u.username) AND a.kind = 'household' ORDER BY a.record_id, r.record_type, r.record_id
            """) { r in
            anyHousehold = true
            let h = r.text(0)
            guard !r.isNull(1) else { return }
            let relationship = r.text(3)
            let isParent = parentRelationships.contains(relationship.lowercased())
            if r.text(1) == "student" {
                anyStudentRelation = true
                let who = "student \(r.text(2))\(r.isNull(4) ? "" : " (\(r.text(4)))")"
                if !isParent { deny("Parent", "household \(h) is \(relationship) of \(who); \(relationship) is not one of parent_relationships (\(parentList))"); return }
                if r.isNull(4) || !r.bool(7) { deny("Parent", "household \(h) is \(relationship) of \(who), who is not active in the SIS") }
                else if r.text(5).lowercased() != "enrolled" { deny("Parent", "household \(h) is \(relationship) of \(who), who is \(r.text(5)) for \(r.text(6))") }
                else if r.text(6) != year { deny("Parent", "household \(h) is \(relationship) of \(who), enrolled for \(r.text(6)), not the current school year \(year)") }
                else { grant("Parent", "household \(h) is \(relationship) of \(who), enrolled for \(year)") }
            } else if r.text(1) == "applicant" {
                anyApplicantRelation = true
                let who = "applicant \(r.text(2))\(r.isNull(8) ? "" : " (\(r.text(8)))")"
                if !isParent { deny("Applicant", "household \(h) is \(relationship) of \(who); \(relationship) is not one of parent_relationships (\(parentList))"); return }
                if r.isNull(8) || !r.bool(10) { deny("Applicant", "household \(h) is \(relationship) of \(who), who is not active in the SIS") }
                else if r.text(9).lowercased() == "copied" { deny("Applicant", "household \(h) is \(relationship) of \(who), whose status is Copied (now a student)") }
                else { grant("Applicant", "household \(h) is \(relationship) of \(who), status \(r.text(9))") }
            }
        }
        // Parent through portal pairings (access codes).
        var anyPairing = false
        try database.forEachRow("""
            SELECT p.student_id, p.paired_at, st.first_name || ' ' || st.last_name, st.enrollment_status, st.school_year, st.active
            FROM access_pairings p LEFT JOIN students st ON st.student_id = p.student_id WHERE p.username = \(u.username) ORDER BY p.student_id
            """) { r in
            anyPairing = true
            let who = "student \(r.text(0))\(r.isNull(2) ? "" : " (\(r.text(2)))")"
            let when = String(r.text(1).prefix(10))
            if r.isNull(2) || !r.bool(5) { deny("Parent", "paired with \(who) on \(when), who is not active in the SIS") }
            else if r.text(3).lowercased() != "enrolled" || r.text(4) != year { deny("Parent", "paired with \(who) on \(when), who is \(r.text(3)) for \(r.text(4))") }
            else { grant("Parent", "paired with \(who) by access code on \(when), enrolled for \(year)") }
        }
        if !anyHousehold {
            deny("Parent", anyPairing ? "not attached to a household" : "not attached to a household and not paired with a student by access code")
            deny("Applicant", "not attached to a household")
        } else {
            if !anyStudentRelation { deny("Parent", "the attached household is related to no student") }
            if !anyApplicantRelation { deny("Applicant", "the attached household is related to no applicant") }
        }

        // Admissions Evaluator.
        if let staff = linkedActive {
            var names: [String] = []
            try database.forEachRow("""
                SELECT applicant_id, first_name || ' ' || last_name FROM applicants
                WHERE active = TRUE AND lower(status) <> 'copied' AND instr(';' || evaluator_staff_ids || ';', ';' || \(staff.staffID) || ';') > 0
                ORDER BY applicant_id
                """) { names.append("\($0.text(0)) (\($0.text(1)))") }
            if names.isEmpty { deny("Admissions Evaluator", "linked staff member \(staff.staffID) evaluates no active applicant") }
            else { grant("Admissions Evaluator", "linked staff member \(staff.staffID) evaluates applicant\(names.count == 1 ? "" : "s") \(names.joined(separator: ", "))") }
        } else {
            deny("Admissions Evaluator", "not linked to an active staff member")
        }

        // Attribute roles.
        try database.forEachRow("""
            SELECT a.kind, a.record_id, t.attribute, t.school_year FROM user_attachments a
            JOIN attributes t ON t.record_type = a.kind AND t.record_id = a.record_id AND t.active = TRUE
            WHERE a.username = \(u.username) ORDER BY t.attribute, t.school_year
            """) { r in
            let role = CalculatedRole(username: u.username, role: r.text(2), schoolYear: r.text(3))
            grant(role.label, "\(r.text(0)) \(r.text(1)) has the attribute \(r.text(2))\(r.text(3).isEmpty ? "" : " for \(r.text(3))")")
        }

        // What the user holds now.
        let history = try auditTrail.userHistory(u.username)
        for name in profile.manualRoles {
            let given = history.last { $0.runID == nil && $0.change.kind == .roleGranted && $0.change.new == name }
            out.roles.append(.init(name: name, schoolYear: nil, source: "manual",
                                   why: "given by hand\(given.map { " by \($0.actor) on \($0.at.prefix(10))" } ?? ""); sync never changes manual roles"))
        }
        var held = Set<String>()
        for role in profile.calculatedRoles {
            held.insert(role.label)
            let why = supported[role.label].map { $0.joined(separator: "; ") }
                ?? "granted by an earlier run, but the data no longer supports it: " + (against[role.role]?.joined(separator: "; ") ?? "no attribute \(role.label) on an attached record") + "; the next run revokes it"
            out.roles.append(.init(name: role.role, schoolYear: role.schoolYear.isEmpty ? nil : role.schoolYear, source: "calculated", why: why))
        }
        for name in RolePlan.fixedNames where !held.contains(name) {
            if let reasons = supported[name] {
                out.notGranted.append(.init(name: name, why: "not yet: " + reasons.joined(separator: "; ") + "; the next run grants it"))
            } else {
                out.notGranted.append(.init(name: name, why: (against[name] ?? ["no data supports it"]).joined(separator: "; ")))
            }
        }
        for (label, reasons) in supported.sorted(by: { $0.key < $1.key }) where !held.contains(label) && !RolePlan.fixedNames.contains(label) {
            out.notGranted.append(.init(name: label, why: "not yet: " + reasons.joined(separator: "; ") + "; the next run grants it"))
        }
        return out
    }

    /// Who made a user's current link, and when.
    func linkOrigin(_ username: String) throws -> (by: String, at: String)? {
        let s = try database.query("SELECT created_by, created_at FROM links WHERE username = \(username)")
        defer { s.reset() }
        return try s.step() ? (s.text(0), s.text(1)) : nil
    }
}
