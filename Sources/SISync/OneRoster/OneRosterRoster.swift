/// What sisync takes from a OneRoster export, whichever way it came (a CSV bundle or the
/// REST API): people with their roles, and what decides whether a student is enrolled
/// this year (enrollments, classes, academic sessions). Translation into staff, students
/// and households works on this value alone.
public struct OneRosterRoster: Sendable {
    public struct User: Sendable, Equatable {
        public var id: String
        /// `tobedeleted` (or the older `inactive`): the record is deactivated.
        public var deleted = false
        /// `enabledUser = false`: the record stays active, the account is shown disabled.
        public var enabled = true
        public var roles: [Role] = []
        public var orgs: [String] = []
        public var givenName = ""
        public var familyName = ""
        public var email = ""
        public var agents: [String] = []
        public var grades: [String] = []
        /// The CSV line or array index, for duplicate and skip messages.
        public var line = 0
        public init(id: String) { self.id = id }

        /// 1.2: takes its rows of roles.csv as its roles, primary first (they give a staff
        /// member's title), and their orgs as its own.
        mutating func take(_ given: [Role]) {
            roles = given.filter(\.primary) + given.filter { !$0.primary }
            for r in given { if let o = r.org, !orgs.contains(o) { orgs.append(o) } }
        }
    }

    public struct Role: Sendable, Equatable {
        /// Lower case: `teacher`, `student`, `siteadministrator` ...
        public var name: String
        public var primary = true
        public var org: String?
        public init(name: String, primary: Bool = true, org: String? = nil) {
            self.name = name.lowercased()
            self.primary = primary
            self.org = org
        }
    }

    public struct Enrollment: Sendable {
        public var id: String
        public var deleted = false
        public var userID = ""
        public var classID = ""
        public var schoolID = ""
        public var role = ""
        public var begin: OneRosterDay?
        public var end: OneRosterDay?
        public init(id: String) { self.id = id }
    }

    public struct Class: Sendable {
        public var id: String
        public var deleted = false
        public var terms: [String] = []
        public var schoolID = ""
        public init(id: String) { self.id = id }
    }

    public struct Session: Sendable {
        public var id: String
        public var deleted = false
        /// The ending year (`2027` for 2026-2027), as OneRoster's `schoolYear` says.
        public var schoolYear: Int?
        public var start: OneRosterDay?
        public var end: OneRosterDay?
        public init(id: String) { self.id = id }
    }

    public var version: OneRosterManifest.Version
    /// How each file (or REST collection) was delivered.
    public var modes: [OneRosterFile: OneRosterManifest.FileMode]
    /// The users, unless `userStream` reads them again for each pass or `userSpill` holds
    /// them; ids are unique (both readers refuse a duplicate). A roster built in code must
    /// keep them so: an id given twice is related as each of its rows says, not as the last.
    public var users: [User] = []
    /// Where the users are read again for each pass of the translation, when they are not
    /// held (`OneRosterCSVBundle.streamsUsers`).
    public var userStream: OneRosterUserStream?
    /// Where a REST roster's users are written as they arrive and read back (`keep`), when
    /// they are not held.
    public var userSpill: OneRosterUserSpill?
    /// The enrollments, unless they are judged as they are read (`enrollmentRule`).
    public var enrollments: [Enrollment] = []
    /// The rule a reader judges each enrollment by as it reads it (`add`), keeping only
    /// the verdicts (`judgedEnrollments`); nil: the enrollments are kept for the translation.
    public var enrollmentRule: OneRosterEnrollmentRule?
    public var judgedEnrollments = OneRosterCurrentEnrollments()
    public var classes: [String: Class] = [:]
    public var sessions: [String: Session] = [:]
    /// Org types by id (`school`, `district` ...).
    public var orgTypes: [String: String] = [:]
    /// Rows skipped for a bad value (R2).
    public var problems: [RowProblem] = []
    /// Users whose row was skipped: never deactivated because of the skip (R2).
    public var protectedUserIDs = OneRosterIDSet()
    /// Things left out that are worth a notice (not errors): counted, with examples.
    public var notices = OneRosterNotices()
    /// Every REST user's id, where it was read (the index in the collection) and its page,
    /// to refuse a user given twice with the place of its first (R2): whoever reads the
    /// users' pages calls `refuseDuplicateUsers` after the last, which lets it go. In memory
    /// until the fetcher gives it the run's directory.
    var userIDs: OneRosterDuplicateIDs? = OneRosterDuplicateIDs(directory: nil)
    /// Where users came from, for messages (`users.csv` or the users URL).
    public var usersSource = "users.csv"

    public init(version: OneRosterManifest.Version, modes: [OneRosterFile: OneRosterManifest.FileMode]) {
        self.version = version
        self.modes = modes
    }

    public func mode(_ file: OneRosterFile) -> OneRosterManifest.FileMode { modes[file] ?? .absent }

    /// How many users there are, held or streamed.
    public var userCount: Int { userStream?.count ?? userSpill?.count ?? users.count }

    /// Calls `body` with each user in the order they were read, held, streamed or spilled.
    public func forEachUser(_ body: (User) throws -> Void) throws {
        if let userStream { return try userStream.forEach(body) }
        if let userSpill { return try userSpill.forEach(body) }
        try users.forEach(body)
    }

    /// Takes a user read from a REST page: written to `userSpill` when there is one, else held.
    public mutating func keep(_ user: User) throws {
        guard let userSpill else { return users.append(user) }
        try userSpill.append(user)
    }

    /// Takes an enrollment: judged at once by `enrollmentRule` when there is one, else
    /// kept. Judged at once, it must come after every class and session (both readers read
    /// those first): it is judged with those already here.
    public mutating func add(_ e: Enrollment) {
        guard let rule = enrollmentRule else { return enrollments.append(e) }
        var current = judgedEnrollments
        judgedEnrollments = OneRosterCurrentEnrollments()
        rule.judge(e, in: self, into: &current)
        judgedEnrollments = current
    }

    /// After the users' pages (`OneRosterAPIPage.read`), and when a read of them fails: a
    /// user given twice fails the read (R2), the first in the order read, with the place of
    /// its first. Whoever reads the pages calls it; a second call does nothing.
    public mutating func refuseDuplicateUsers() throws {
        guard var ids = userIDs else { return }
        userIDs = nil
        if let d = try ids.first() {
            throw ExportError.duplicateJSONID(file: d.detail, path: "\(OneRosterFile.users.rawValue)[\(d.place)].sourcedId", id: d.id,
                                              firstPath: "\(OneRosterFile.users.rawValue)[\(d.firstPlace)].sourcedId", columns: ["sourcedId"])
        }
    }

    /// `active`, empty, `tobedeleted` or `inactive`, in any case; nil for anything else.
    static func isDeleted(status: String) -> Bool? {
        switch status.lowercased() {
        case "", "active": return false
        case "tobedeleted", "inactive", "deleted": return true
        default: return nil
        }
    }

    /// OneRoster lists inside a cell are comma-separated (`"org1,org2"`), each item trimmed
    /// of what Foundation's `.whitespaces` holds (on Linux CoreFoundation's set: the tab and
    /// the space separators, with U+200B), scalar by scalar as it trims, without bridging to
    /// `NSString` (which was a tenth of reading a district's users).
    static func list(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        return text.split(separator: ",").compactMap { part in
            let item = trimmingSpaces(part)
            return item.isEmpty ? nil : String(item)
        }
    }

    /// `text` without the spaces Foundation's `.whitespaces` trims at either end (see `list`).
    static func trimmingSpaces(_ text: Substring) -> Substring {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isListSpace($0) }),
              let last = scalars.lastIndex(where: { !isListSpace($0) }) else { return "" }
        return Substring(scalars[first...last])
    }

    private static func isListSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }
}

/// Notices about what a OneRoster export held that sisync leaves out, grouped by reason so
/// that a district with ten thousand such rows gets one line per reason, not ten thousand.
public struct OneRosterNotices: Sendable {
    public private(set) var counts: [String: Int] = [:]
    public private(set) var examples: [String: [String]] = [:]
    private var order: [String] = []

    public init() {}

    /// The examples shown of each reason: the first that came.
    static let examplesKept = 3

    public mutating func add(_ reason: String, _ example: String) {
        add(reason, count: 1, examples: [example])
    }

    /// `count` notices for `reason` at once, the first of them `examples` (`OrderedNotices`).
    mutating func add(_ reason: String, count: Int, examples given: [String]) {
        if counts[reason] == nil { order.append(reason) }
        counts[reason, default: 0] += count
        let room = Self.examplesKept - examples[reason, default: []].count
        if room > 0 { examples[reason, default: []].append(contentsOf: given.prefix(room)) }
    }

    /// One line per reason: "3 users have no role sisync maps (e.g. u1, u2, u3)".
    public var lines: [String] {
        order.map { reason in
            let n = counts[reason]!
            let shown = examples[reason]!.joined(separator: ", ")
            return "\(n) × \(reason) (\(n > examples[reason]!.count ? "e.g. " : "")\(shown))"
        }
    }
}
