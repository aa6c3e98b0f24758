import Foundation

extension RosterStore {
    /// The audit of SPEC 6 over the database as it is now. Emails compare as R6 compares
    /// them (`normalizer`), so the audit agrees with what linking does.
    public func audit(normalizer: EmailNormalizer) throws -> AuditReport {
        var report = AuditReport()
        var byEmail: [String: [String]] = [:]
        try database.prepare("SELECT staff_id, email FROM staff WHERE active = TRUE AND email <> '' ORDER BY staff_id").forEachRow { r in
            let key = normalizer.key(r.text(1))
            byEmail[key, default: []].append(r.text(0))
        }
        report.ambiguousEmails = byEmail.filter { $0.value.count > 1 }
            .map { AuditReport.AmbiguousEmail(email: $0.key, staffIDs: $0.value) }
            .sorted { $0.email < $1.email }
        try database.prepare("""
            SELECT l.username, l.staff_id, u.email, s.email, coalesce(l.reason, '') FROM links l
            JOIN users u ON u.username = l.username JOIN staff s ON s.staff_id = l.staff_id
            WHERE l.kind = 'manual' ORDER BY l.username COLLATE NOCASE
            """).forEachRow { r in
            if normalizer.key(r.text(2)) != normalizer.key(r.text(3)) {
                report.crossLinks.append(.init(username: r.text(0), staffID: r.text(1), userEmail: r.text(2), staffEmail: r.text(3), reason: r.text(4)))
            }
        }
        try database.prepare("""
            SELECT l.username, l.staff_id, s.deactivated_at FROM links l JOIN staff s ON s.staff_id = l.staff_id
            WHERE s.active = FALSE ORDER BY l.username COLLATE NOCASE
            """).forEachRow { r in
            report.linkedToInactive.append(.init(username: r.text(0), staffID: r.text(1), deactivatedAt: r.string(2)))
        }
        try database.prepare("""
            SELECT DISTINCT g.username FROM user_ledgers g
            WHERE NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.username = g.username AND r.role = 'Finance' COLLATE NOCASE)
            ORDER BY g.username
            """).forEachRow { report.ledgersWithoutFinance.append($0.text(0)) }
        try database.prepare("""
            SELECT DISTINCT us.username FROM user_schools us
            WHERE NOT EXISTS (SELECT 1 FROM links l JOIN staff s ON s.staff_id = l.staff_id WHERE l.username = us.username AND s.active = TRUE)
            ORDER BY us.username
            """).forEachRow { report.schoolsWithoutStaffLink.append($0.text(0)) }
        return report
    }
}
