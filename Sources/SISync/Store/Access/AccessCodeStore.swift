import Foundation

/// Parents' access codes and the pairings they make with students. It owns `access_codes`,
/// `pairings` and the pairing attempts that throttle guessing.
public final class AccessCodeStore {
    let database: any StoreDatabase
    let auditTrail: AuditTrail
    let mirror: MirrorStore
    let accounts: AccountStore

    init(database: any StoreDatabase, auditTrail: AuditTrail, mirror: MirrorStore, accounts: AccountStore) {
        self.database = database
        self.auditTrail = auditTrail
        self.mirror = mirror
        self.accounts = accounts
    }

    /// Failed attempts allowed per user in `throttleWindow` before pairing is refused.
    public static let throttleAttempts = 5
    public static let throttleWindow: TimeInterval = 15 * 60

    public func accessCode(student: String) throws -> String? {
        let s = try database.query("SELECT code FROM access_codes WHERE student_id = \(student)")
        defer { s.reset() }
        return try s.step() ? s.text(0) : nil
    }

    /// A fresh code no other student has (stored without the dash).
    private func freshCode() throws -> String {
        while true {
            let code = AccessCode.generate()
            if try database.int("SELECT 1 FROM access_codes WHERE code = \(code)") == nil { return code }
        }
    }

    private func writeCode(_ student: String, actor: String, now: Date, reset: Bool) throws -> String {
        let code = try freshCode()
        try database.run("""
            INSERT INTO access_codes (student_id, code, created_at, created_by) VALUES (\(student), \(code), \(Timestamp.format(now)), \(actor))
            ON CONFLICT (student_id) DO UPDATE SET code = excluded.code, created_at = excluded.created_at, created_by = excluded.created_by
            """)
        return code
    }

    /// The student's code, created if it has none (`access enable`). The change log says a
    /// code was created, never the code.
    public func enableAccess(student: String, actor: String, now: Date) throws -> (code: String, created: Bool) {
        var result = ("", false)
        _ = try auditTrail.administer(actor: actor, now: now) {
            let st = try mirror.studentState(student)
            guard st.exists else { throw AccessError.noSuchStudent(student) }
            if let code = try accessCode(student: student) { result = (code, false); return [] }
            guard st.active else { throw AccessError.inactiveStudent(student) }
            result = (try writeCode(student, actor: actor, now: now, reset: false), true)
            return [Change(entity: "students", id: student, field: "access_code", old: nil, new: "created", kind: .updated)]
        }
        return result
    }

    /// Codes for every active student without one (optionally of one school).
    public func enableAccessForAll(school: String?, actor: String, now: Date) throws -> Int {
        var created = 0
        _ = try auditTrail.administer(actor: actor, now: now) {
            var ids: [String] = []
            try database.forEachRow("""
                SELECT student_id FROM students st WHERE active = TRUE AND (\(school) IS NULL OR school_id = \(school))
                  AND NOT EXISTS (SELECT 1 FROM access_codes c WHERE c.student_id = st.student_id) ORDER BY student_id
                """) { ids.append($0.text(0)) }
            created = ids.count
            return try writeNewCodes(ids, actor: actor, now: now).changes
        }
        return created
    }

    /// Codes for students who have none yet (inside `administer`): the codes, and the
    /// change-log entries that say a code was created, never the code.
    private func writeNewCodes(_ students: [String], actor: String, now: Date) throws -> (codes: [String: String], changes: [Change]) {
        var codes: [String: String] = [:]
        for id in students { codes[id] = try writeCode(id, actor: actor, now: now, reset: false) }
        return (codes, students.map { Change(entity: "students", id: $0, field: "access_code", old: nil, new: "created", kind: .updated) })
    }

    /// A new code; the old one no longer pairs; existing pairings stay.
    public func resetAccess(student: String, actor: String, now: Date) throws -> String {
        var code = ""
        _ = try auditTrail.administer(actor: actor, now: now) {
            guard try mirror.studentState(student).exists else { throw AccessError.noSuchStudent(student) }
            code = try writeCode(student, actor: actor, now: now, reset: true)
            return [Change(entity: "students", id: student, field: "access_code", old: "previous code", new: "reset", kind: .updated)]
        }
        return code
    }

    /// Pairs a user with the active student whose code was typed. Five failed attempts by one
    /// user within 15 minutes refuse further attempts for 15 minutes; a code of an inactive
    /// student is a failed attempt like any wrong code.
    public func pair(username: String, typedCode: String, actor: String, now: Date) throws -> String {
        guard let u = try accounts.user(username) else { throw AccountError.noSuchUser(username) }
        let since = Timestamp.format(now.addingTimeInterval(-Self.throttleWindow))
        let recent = try database.query("SELECT count(*), min(at) FROM access_attempts WHERE username = \(u.username) AND at > \(since)")
        _ = try recent.step()
        if recent.int(0) >= Self.throttleAttempts {
            let first = Timestamp.parse(recent.text(1)) ?? now
            throw AccessError.throttled(until: Timestamp.format(first.addingTimeInterval(Self.throttleWindow)))
        }
        recent.reset()
        func failed(_ error: AccessError) throws -> Never {
            _ = try auditTrail.administer(actor: actor, now: now) {
                try database.run("INSERT INTO access_attempts (username, at) VALUES (\(u.username), \(Timestamp.format(now)))")
                return [Change(entity: "users", id: u.username, field: "pairing", old: nil, new: "failed attempt", kind: .updated)]
            }
            throw error
        }
        guard u.approved else { throw AccessError.notApproved(u.username) }
        guard let code = AccessCode.normalize(typedCode) else { try failed(.badCode) }
        let find = try database.query("SELECT student_id FROM access_codes WHERE code = \(code)")
        guard try find.step() else { try failed(.badCode) }
        let student = find.text(0)
        find.reset()
        // An inactive student's code is a wrong code, counted and answered as one: otherwise
        // guessing would tell which codes exist and whose they are (issue 26 item 10).
        guard try mirror.studentState(student).active else { try failed(.badCode) }
        _ = try auditTrail.administer(actor: actor, now: now) {
            try database.run("INSERT INTO access_pairings (username, student_id, paired_at) VALUES (\(u.username), \(student), \(Timestamp.format(now))) ON CONFLICT DO NOTHING")
            guard database.changes > 0 else { return [] }
            return [Change(entity: "users", id: u.username, field: "paired_student", old: nil, new: student, kind: .updated)]
        }
        return student
    }

    public func pairings(student: String) throws -> [AccessPairing] {
        var out: [AccessPairing] = []
        try database.forEachRow("""
            SELECT u.username, u.name, u.email, p.paired_at FROM access_pairings p JOIN users u ON u.username = p.username
            WHERE p.student_id = \(student) ORDER BY p.paired_at, u.username
            """) { out.append(AccessPairing(username: $0.text(0), name: $0.text(1), email: $0.text(2), pairedAt: $0.text(3))) }
        return out
    }

    /// Ends a user's pairings with these students and resets each student's code.
    public func revokeAccess(username: String, students: [String], actor: String, now: Date) throws {
        guard let u = try accounts.user(username) else { throw AccountError.noSuchUser(username) }
        _ = try auditTrail.administer(actor: actor, now: now) {
            var changes: [Change] = []
            for student in students {
                guard try mirror.studentState(student).exists else { throw AccessError.noSuchStudent(student) }
                try database.run("DELETE FROM access_pairings WHERE username = \(u.username) AND student_id = \(student)")
                if database.changes > 0 {
                    changes.append(Change(entity: "users", id: u.username, field: "paired_student", old: student, new: nil, kind: .updated))
                }
                _ = try writeCode(student, actor: actor, now: now, reset: true)
                changes.append(Change(entity: "students", id: student, field: "access_code", old: "previous code", new: "reset", kind: .updated))
            }
            return changes
        }
    }

    /// The students a bulk of parent letters is for: active and enrolled in `schoolYear`
    /// (withdrawn and graduated students are left out), optionally of one school or grade,
    /// or only those nobody has paired with yet; sorted by school, grade (2 before 10) and
    /// last and first name (Ñúñez with the N's). `code` is nil for a student who has none yet.
    public func letterStudents(schoolYear: String, school: String?, grade: String?, withoutPairing: Bool) throws -> [LetterStudent] {
        var out: [LetterStudent] = []
        try database.forEachRow("""
            \(unescaped: Self.letterStudentSelect)
            WHERE st.active = TRUE AND lower(st.enrollment_status) = 'enrolled' AND st.school_year = \(schoolYear)
              AND (\(school) IS NULL OR st.school_id = \(school)) AND (\(grade) IS NULL OR st.grade = \(grade))
              AND (\(withoutPairing ? 1 : 0) = 0 OR NOT EXISTS (SELECT 1 FROM access_pairings p WHERE p.student_id = st.student_id))
            """) { out.append(Self.letterStudent($0)) }
        return out.sorted { a, b in
            for (x, y) in [(a.schoolID, b.schoolID), (a.grade, b.grade), (a.lastName, b.lastName), (a.firstName, b.firstName)] {
                let order = x.compare(y, options: [.caseInsensitive, .diacriticInsensitive, .numeric])
                if order != .orderedSame { return order == .orderedAscending }
            }
            return a.studentID < b.studentID
        }
    }

    /// One student, for `access instructions` (any student the mirror has).
    public func letterStudent(_ id: String) throws -> LetterStudent? {
        let s = try database.query("\(unescaped: Self.letterStudentSelect) WHERE st.student_id = \(id)")
        defer { s.reset() }
        return try s.step() ? Self.letterStudent(s) : nil
    }

    private static let letterStudentSelect = """
        SELECT st.student_id, st.first_name, st.last_name, st.school_id, st.grade, c.code FROM students st
        LEFT JOIN access_codes c ON c.student_id = st.student_id
        """

    private static func letterStudent(_ s: any StoreStatement) -> LetterStudent {
        LetterStudent(studentID: s.text(0), firstName: s.text(1), lastName: s.text(2), schoolID: s.text(3), grade: s.text(4), code: s.string(5))
    }

    /// Codes for these students, who have none yet (`access letters`), in one transaction;
    /// the change log says that codes were created, never the codes.
    public func createCodes(students: [String], actor: String, now: Date) throws -> [String: String] {
        guard !students.isEmpty else { return [:] }
        var codes: [String: String] = [:]
        _ = try auditTrail.administer(actor: actor, now: now) {
            let written = try writeNewCodes(students, actor: actor, now: now)
            codes = written.codes
            return written.changes
        }
        return codes
    }

    /// Student id, name, school and code of the students with a code (for a mail merge):
    /// by default only those active and enrolled, since a letter merged from the list goes
    /// to a family, and a student who left (withdrawn, graduated, gone from the export)
    /// must not be written to; `all` is every code, for an office's own records.
    public func list(all: Bool = false) throws -> [(studentID: String, name: String, school: String, code: String)] {
        var out: [(String, String, String, String)] = []
        try database.forEachRow("""
            SELECT c.student_id, coalesce(st.first_name || ' ' || st.last_name, ''), coalesce(st.school_id, ''), c.code
            FROM access_codes c LEFT JOIN students st ON st.student_id = c.student_id
            WHERE \(all) OR (st.active = TRUE AND lower(st.enrollment_status) = 'enrolled')
            ORDER BY c.student_id
            """) { out.append(($0.text(0), $0.text(1), $0.text(2), $0.text(3))) }
        return out
    }
}
