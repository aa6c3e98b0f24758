/// Reads the files of a OneRoster CSV bundle (1.1 or 1.2) into a `OneRosterRoster`. The
/// bundle is already local: a directory, or the entries extracted from a `.zip`.
public struct OneRosterCSVBundle {
    public let manifest: OneRosterManifest
    /// Local path and display name of each file to read (absent files are not listed).
    public let files: [OneRosterFile: (path: String, name: String)]
    public let limit: InvalidRowLimit
    /// Roles that ended before this day are ignored.
    public var today = OneRosterDay(Date())
    /// The translation's rule for enrollments: each is judged as it is read, not kept
    /// (`OneRosterRoster.add`). Nil: they are kept.
    public var enrollmentRule: OneRosterEnrollmentRule?
    /// Whether users.csv is read again for each pass of the translation
    /// (`OneRosterRoster.userStream`) rather than held (`users`).
    public var streamsUsers = false
    /// The run's private directory, where the enrollments' verdicts are sorted
    /// (`OneRosterCurrentEnrollments`); nil keeps them in memory.
    public var directory: RunDirectory?

    public init(manifest: OneRosterManifest, files: [OneRosterFile: (path: String, name: String)], limit: InvalidRowLimit) {
        self.manifest = manifest
        self.files = files
        self.limit = limit
    }

    public func read() throws -> OneRosterRoster {
        var modes: [OneRosterFile: OneRosterManifest.FileMode] = [:]
        for f in OneRosterFile.allCases where files[f] != nil { modes[f] = manifest.mode(f) }
        var roster = OneRosterRoster(version: manifest.version, modes: modes)
        roster.enrollmentRule = enrollmentRule
        roster.judgedEnrollments = OneRosterCurrentEnrollments(directory: directory, source: files[.enrollments]?.name ?? "enrollments.csv")
        if let f = files[.orgs] { try readOrgs(f, into: &roster) }
        if let f = files[.academicSessions] { try readSessions(f, into: &roster) }
        if let f = files[.classes] { try readClasses(f, into: &roster) }
        if let f = files[.users] { try readUsers(f, into: &roster) }
        if manifest.version == .v1_2, let f = files[.roles] { try readRoles(f, into: &roster) }
        if let f = files[.enrollments] { try readEnrollments(f, into: &roster) }
        return roster
    }

    /// Reads one file; skipped rows count against `max_invalid_rows` for that file (R2).
    /// `read`: called once every row is read, before the rows skipped are counted.
    private func table(_ f: (path: String, name: String), file: InputFile? = nil, roster: inout OneRosterRoster, required: [String],
                       chunk: ((UnsafeBufferPointer<UInt8>) -> Void)? = nil, read: (() throws -> Void)? = nil,
                       prepare: (OneRosterTable) -> (OneRosterTable.Row, inout OneRosterRoster) throws -> OneRosterSkip?) throws {
        var rows = 0
        var skipped = 0
        var local = roster
        try OneRosterTable.read(file: try file ?? InputFile(path: f.path), name: f.name, prepare: { t in
            for column in required where t.column(column) == nil {
                throw ExportError.missingColumn(file: f.name, column: column, found: t.header.filter { !$0.isEmpty })
            }
            let handle = prepare(t)
            return { row in
                rows += 1
                if let problem = try handle(row, &local) {
                    skipped += 1
                    local.problems.append(RowProblem(file: f.name, location: String(row.line), column: problem.column, id: problem.id, message: problem.message))
                }
            }
        }, badRow: { row, message in
            rows += 1
            skipped += 1
            local.problems.append(RowProblem(file: f.name, location: String(row.line), column: nil, id: nil, message: message))
        }, chunk: chunk)
        try read?()
        roster = local
        let allowed = limit.allowed(rows: rows)
        if skipped > allowed { throw ExportError.tooManyInvalidRows(file: f.name, invalid: skipped, allowed: allowed, rows: rows) }
    }

    private func readOrgs(_ f: (path: String, name: String), into roster: inout OneRosterRoster) throws {
        try table(f, roster: &roster, required: ["sourcedId"]) { t in
            let id = t.column("sourcedId"), type = t.column("type")
            return { row, roster in
                let i = row.value(id)
                if !i.isEmpty { roster.orgTypes[i] = row.value(type).lowercased() }
                return nil
            }
        }
    }

    private func readSessions(_ f: (path: String, name: String), into roster: inout OneRosterRoster) throws {
        try table(f, roster: &roster, required: ["sourcedId"]) { t in
            let id = t.column("sourcedId"), status = t.column("status"), year = t.column("schoolYear")
            let start = t.column("startDate"), end = t.column("endDate")
            return { row, roster in
                var s = OneRosterRoster.Session(id: row.value(id))
                guard !s.id.isEmpty else { return "empty sourcedId" }
                s.deleted = OneRosterRoster.isDeleted(status: row.value(status)) ?? false
                s.start = Self.day(row.value(start), "startDate", row, f.name, &roster)
                s.end = Self.day(row.value(end), "endDate", row, f.name, &roster)
                s.schoolYear = Self.schoolYear(row.value(year)) ?? s.end?.year
                roster.sessions[s.id] = s
                return nil
            }
        }
    }

    private func readClasses(_ f: (path: String, name: String), into roster: inout OneRosterRoster) throws {
        try table(f, roster: &roster, required: ["sourcedId"]) { t in
            let id = t.column("sourcedId"), status = t.column("status"), terms = t.column("termSourcedIds"), school = t.column("schoolSourcedId")
            return { row, roster in
                var c = OneRosterRoster.Class(id: row.value(id))
                guard !c.id.isEmpty else { return "empty sourcedId" }
                c.deleted = OneRosterRoster.isDeleted(status: row.value(status)) ?? false
                c.terms = OneRosterRoster.list(row.value(terms))
                c.schoolID = row.value(school)
                roster.classes[c.id] = c
                return nil
            }
        }
    }

    /// Reads users.csv: every row is checked (a duplicate id fails the read once every row
    /// is read, a bad row is a problem and its user protected, R2), and, with
    /// `streamsUsers`, kept only as a count and a digest: `roster.userStream` reads the file
    /// again, through the same descriptor, for each pass of the translation, so that a
    /// district's users are never all held.
    private func readUsers(_ f: (path: String, name: String), into roster: inout OneRosterRoster) throws {
        roster.usersSource = f.name
        let required = manifest.version == .v1_1 ? ["sourcedId", "role"] : ["sourcedId"]
        var ids = OneRosterDuplicateIDs(directory: directory, source: f.name)
        let file = try InputFile(path: f.path)
        // A file that cannot be read again (a pipe) keeps its users.
        let streams = streamsUsers && file.isRegularFile && file.position == 0
        var digest = OneRosterUserStream.Digest()
        var taken = 0
        // Once every row is read, or when the read fails: a duplicate before the failure is
        // what a check in reading order would have stopped at.
        var checked = false
        func refuseDuplicate() throws {
            guard !checked else { return }
            checked = true
            if let d = try ids.first() {
                throw ExportError.duplicateID(file: f.name, line: d.place, id: d.id, firstLine: d.firstPlace, columns: ["sourcedId"])
            }
        }
        do {
            try table(f, file: file, roster: &roster, required: required, chunk: streams ? { digest.add($0) } : nil, read: refuseDuplicate) { t in
                let columns = OneRosterUserColumns(t)
                return { row, roster in
                    let read = Self.user(row, columns)
                    if case .unusableID(let skip) = read { return skip }
                    let userID = row.value(columns.id)
                    ids.add(userID, place: row.line)
                    switch read {
                    case .unusableID(let skip): return skip
                    case .skipped(let skip):
                        roster.protectedUserIDs.insert(userID)
                        return skip
                    case .user(let u):
                        if streams { taken += 1 } else { roster.users.append(u) }
                        return nil
                    }
                }
            }
        } catch {
            try refuseDuplicate()
            throw error
        }
        if streams {
            roster.userStream = OneRosterUserStream(file: file, name: f.name, digest: digest, count: taken)
        }
    }

    /// A users.csv row as a user, or why it is skipped. The one reading of a row, for the
    /// check and for every pass of a stream.
    static func user(_ row: OneRosterTable.Row, _ c: OneRosterUserColumns) -> OneRosterUserRow {
        let userID = row.value(c.id)
        guard !userID.isEmpty else { return .unusableID("empty sourcedId") }
        guard !userID.utf8.contains(where: RowRules.isControl) else {
            return .unusableID(OneRosterSkip(column: "sourcedId", message: "the id holds a control character"))
        }
        var u = OneRosterRoster.User(id: userID)
        u.line = row.line
        guard let deleted = OneRosterRoster.isDeleted(status: row.value(c.status)) else {
            return .skipped(OneRosterSkip(column: "status", message: "unknown status `\(row.value(c.status))` (expected active or tobedeleted)", id: userID))
        }
        guard let isEnabled = RowRules.boolean(row.value(c.enabled).lowercased()) else {
            return .skipped(OneRosterSkip(column: "enabledUser", message: "`\(row.value(c.enabled))` is not true or false", id: userID))
        }
        u.deleted = deleted
        u.enabled = isEnabled
        u.orgs = OneRosterRoster.list(row.value(c.orgs))
        let primary = row.value(c.primaryOrg)
        if !primary.isEmpty { u.orgs.removeAll { $0 == primary }; u.orgs.insert(primary, at: 0) }
        let r = row.value(c.role)
        if !r.isEmpty { u.roles = [OneRosterRoster.Role(name: r, org: u.orgs.first)] }
        u.givenName = row.value(c.given)
        u.familyName = row.value(c.family)
        u.email = row.value(c.email)
        u.agents = OneRosterRoster.list(row.value(c.agents))
        u.grades = OneRosterRoster.list(row.value(c.grades))
        return .user(u)
    }

    /// 1.2: a user's roles are rows of roles.csv (primary and secondary, per org, dated).
    private func readRoles(_ f: (path: String, name: String), into roster: inout OneRosterRoster) throws {
        var byUser = OneRosterUserRoles()
        try table(f, roster: &roster, required: ["userSourcedId", "role"]) { t in
            let status = t.column("status"), user = t.column("userSourcedId"), role = t.column("role")
            let type = t.column("roleType"), org = t.column("orgSourcedId"), end = t.column("endDate")
            return { row, roster in
                let u = row.value(user), r = row.value(role)
                guard !u.isEmpty, !r.isEmpty else { return "empty userSourcedId or role" }
                if OneRosterRoster.isDeleted(status: row.value(status)) ?? false { return nil }
                if let e = Self.day(row.value(end), "endDate", row, f.name, &roster), e < today {
                    roster.notices.add("roles that ended before today", "\(f.name):\(row.line)")
                    return nil
                }
                let o = row.value(org)
                byUser.add(user: u, name: r, primary: row.value(type).lowercased() != "secondary", org: o.isEmpty ? nil : o)
                return nil
            }
        }
        byUser.seal()
        if let stream = roster.userStream {
            stream.roles = byUser
            return
        }
        for i in roster.users.indices {
            guard let roles = byUser.roles(of: roster.users[i].id) else { continue }
            roster.users[i].take(roles)
        }
    }

    private func readEnrollments(_ f: (path: String, name: String), into roster: inout OneRosterRoster) throws {
        try table(f, roster: &roster, required: ["userSourcedId", "classSourcedId"]) { t in
            let id = t.column("sourcedId"), status = t.column("status"), user = t.column("userSourcedId"), cls = t.column("classSourcedId")
            let school = t.column("schoolSourcedId"), role = t.column("role"), begin = t.column("beginDate"), end = t.column("endDate")
            return { row, roster in
                var e = OneRosterRoster.Enrollment(id: row.value(id))
                e.userID = row.value(user)
                e.classID = row.value(cls)
                guard !e.userID.isEmpty else { return "empty userSourcedId" }
                e.deleted = OneRosterRoster.isDeleted(status: row.value(status)) ?? false
                e.schoolID = row.value(school)
                e.role = row.value(role).lowercased()
                e.begin = Self.day(row.value(begin), "beginDate", row, f.name, &roster)
                e.end = Self.day(row.value(end), "endDate", row, f.name, &roster)
                roster.add(e)
                return nil
            }
        }
    }

    /// A date, or nil with a notice when it cannot be read (the date is then ignored).
    static func day(_ text: String, _ column: String, _ row: OneRosterTable.Row, _ file: String, _ roster: inout OneRosterRoster) -> OneRosterDay? {
        guard !text.isEmpty else { return nil }
        if let d = OneRosterDay.parse(text) { return d }
        roster.notices.add("unreadable dates (read as no date)", "\(file):\(row.line) \(column) `\(text)`")
        return nil
    }

    /// `2027`, `2026-2027` or `2026-27`: the ending year.
    static func schoolYear(_ text: String) -> Int? {
        if let y = Int(text), y >= 1900 { return y }
        let parts = text.split(separator: "-")
        guard parts.count == 2, let first = Int(parts[0]), parts[0].count == 4 else { return nil }
        if parts[1].count == 4 { return Int(parts[1]) }
        if parts[1].count == 2, let tail = Int(parts[1]) { return first / 100 * 100 + tail + (tail < first % 100 ? 100 : 0) }
        return nil
    }
}

import Foundation

/// Why a OneRoster row was skipped (R2): the message, and for a user row the column and the
/// user's id, so the report can say whether the user's records were left unchanged or never
/// added. Written as a string where there is no id (`return "empty sourcedId"`).
struct OneRosterSkip: ExpressibleByStringInterpolation {
    var column: String?
    var message: String
    var id: String?

    init(column: String? = nil, message: String, id: String? = nil) {
        self.column = column
        self.message = message
        self.id = id
    }

    init(stringLiteral value: String) { self.init(message: value) }
    init(stringInterpolation: DefaultStringInterpolation) { self.init(message: String(stringInterpolation: stringInterpolation)) }
}

/// A users.csv row read as a user, or skipped with the reason (R2): its user protected, or,
/// for an id that is empty or holds a control character, no user at all.
enum OneRosterUserRow {
    case user(OneRosterRoster.User)
    case skipped(OneRosterSkip)
    case unusableID(OneRosterSkip)
}
