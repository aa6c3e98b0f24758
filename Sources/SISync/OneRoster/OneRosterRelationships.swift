/// The household relationships of a OneRoster translation, found on disk. A parent, guardian
/// or relative is related to each student its `agentSourcedIds` names, and each student to
/// each of them its own list names; the same pair named from both sides is one relationship.
///
/// Why on disk: to relate an agent the translation must know who that id is (a student, a
/// guardian, nobody), and the users come one at a time. Kept in memory by id, a table of
/// every user, their agents and the pairs already made took a translation of five times the
/// bench district (2.85 million users with UUID ids) from about 170 MB to 430 MB, growing
/// with the district (issue 34). Here each user's brief and each mention of an agent go
/// through a `RowSorter` (sorted runs in the run's private directory), keyed by the id;
/// the two are then read side by side in that order, each mention meeting the brief of the
/// user it names, and the pairs go through a third sorter, where a pair named twice is kept
/// once. Memory: the sorters' buffers, at any size of district.
///
/// What it finds is what the table found, notices included: each mention carries its place
/// in the order the table related them (every guardian's agents in the users' order, then
/// every student's), and the notices and the pairs named twice go by that order.
struct OneRosterRelationships {
    /// Each user as read. Key: the id; value: the relationship of a parent, guardian or
    /// relative (empty for anyone else); inactive: deleted; strict: a student; line.
    private var briefs: RowSorter
    /// Each agent named. Key: the id named; values: the id naming it and, for a guardian,
    /// its relationship; inactive: the naming user deleted; strict: a guardian names it;
    /// line: the naming user's; fingerprint: the mention's place in the table's order.
    private var mentions: RowSorter
    private var briefCount: UInt32 = 0
    private var mentionCount: UInt32 = 0
    private var guardianMentions: UInt64 = 0
    private var studentMentions: UInt64 = 0
    private let directory: RunDirectory?

    private let budget: Int
    private let source: String

    /// `directory`: where the sorted runs go (the run's own); nil keeps them in memory.
    /// `budget`: each sorter's buffer (tests make it small, to sort through many runs).
    /// `source`: where the users come from, for messages.
    init(directory: RunDirectory?, budget: Int = RowSorter.defaultBudget, source: String = "users.csv") {
        self.directory = directory
        self.budget = budget
        self.source = source
        briefs = RowSorter(valueCount: 1, label: "oneroster-users", directory: directory)
        mentions = RowSorter(valueCount: 2, label: "oneroster-agents", directory: directory)
        for s in [\Self.briefs, \Self.mentions] {
            self[keyPath: s].budget = budget
            self[keyPath: s].source = source
        }
    }

    /// How many sorted runs went to the directory so far (tests).
    var spilledRuns: Int { briefs.spilledRuns + mentions.spilledRuns }

    /// A user as read (every one, skipped or not: a student skipped for an empty name is
    /// still known as a student, though never related). `relationship`: `Parent`,
    /// `Guardian` or `Relative` for a user made a household.
    mutating func addUser(_ id: String, isStudent: Bool, deleted: Bool, relationship: String?, line: Int) {
        let sequence = briefCount
        briefCount &+= 1
        briefs.add(key: id, values: [relationship ?? ""], sequence: sequence, line: line, inactive: deleted, strict: isStudent)
    }

    /// A parent, guardian or relative's `agentSourcedIds`: the students it names.
    mutating func addGuardian(_ id: String, relationship: String, deleted: Bool, line: Int, agents: [String]) {
        for agent in agents {
            let order = guardianMentions
            guardianMentions += 1
            addMention(of: agent, by: id, relationship: relationship, deleted: deleted, line: line, guardian: true, order: order)
        }
    }

    /// A student's `agentSourcedIds`: its parents, guardians and relatives.
    mutating func addStudent(_ id: String, deleted: Bool, line: Int, agents: [String]) {
        for agent in agents {
            let order = 1 << 62 | studentMentions
            studentMentions += 1
            addMention(of: agent, by: id, relationship: "", deleted: deleted, line: line, guardian: false, order: order)
        }
    }

    private mutating func addMention(of agent: String, by id: String, relationship: String, deleted: Bool, line: Int, guardian: Bool, order: UInt64) {
        let sequence = mentionCount
        mentionCount &+= 1
        mentions.add(key: agent, values: [id, relationship], sequence: sequence, line: line, inactive: deleted, strict: guardian,
                     fingerprint: order)
    }

    /// What a brief says, copied out of the sorted file.
    private struct Brief {
        var isStudent: Bool
        var deleted: Bool
        var relationship: String?
        var line: Int32
    }

    /// Relates every pair into `rows` (the household relationships), in key order, and adds
    /// the notices about agents that name no one who could be related. `protected`: users
    /// whose row was skipped (R2), neither related nor related to. `storedStudent`, for a
    /// delta: whether the mirror holds a student the export does not list, and whether it
    /// is active (nil: it holds none).
    mutating func relate(protected: OneRosterIDSet, delta: Bool, storedStudent: (String) throws -> Bool?,
                          into rows: inout EntityRows, notices: inout OneRosterNotices) throws {
        let briefRows = try briefs.finishKeepingAll()
        let mentionRows = try mentions.finishKeepingAll()
        // Sorted by the relationship's own key, a pair named from both sides comes twice, in
        // the table's order by `sequence`: the first is kept.
        var pairs = RowSorter(valueCount: 1, label: "oneroster-relationships", directory: directory)
        pairs.budget = budget
        pairs.source = source
        var later = OrderedNotices()
        let briefWalk = try SortedRowsWalk(rows: briefRows), mentionWalk = try SortedRowsWalk(rows: mentionRows)
        let named = ByteBuffer(capacity: 64)
        var brief: Brief?
        var looked = false
        func isProtected(_ id: String) -> Bool { !protected.isEmpty && protected.contains(id) }
        func relate(parent: String, student: String, relationship: String, inactive: Bool, line: Int32, order: UInt64) {
            // A place past 2^31 on a side is no file sisync reads (`max_bytes`).
            let place = UInt32(order >> 62) << 31 | UInt32(clamping: order & (1 << 62 - 1))
            pairs.add(key: RecordKey.join([parent, "student", student]), values: [relationship], sequence: place, line: Int(line), inactive: inactive)
        }
        while let m = mentionWalk.current {
            // The brief of the id named: the last given for it (a held roster may give one twice).
            if !looked || !named.equals(m.key) {
                named.removeAll()
                named.append(m.key)
                looked = true
                brief = nil
                while let b = try briefWalk.skip(before: named.bytes) {
                    let relationship = b.value(0).isEmpty ? nil : String(decoding: b.value(0), as: UTF8.self)
                    brief = Brief(isStudent: b.isStrict, deleted: b.isInactive, relationship: relationship, line: b.line)
                    try briefWalk.advance()
                }
            }
            let agent = String(decoding: m.key, as: UTF8.self), by = String(decoding: m.value(0), as: UTF8.self)
            let order = m.fingerprint
            if m.isStrict {
                // A guardian names its students.
                let relationship = String(decoding: m.value(1), as: UTF8.self)
                if isProtected(by) {
                    // A skipped guardian (R2) relates no one.
                } else if m.key.contains(where: RowRules.isControl) {
                    later.add("agentSourcedIds holding a control character", by, order: order)
                } else if let s = brief, s.isStudent {
                    if !isProtected(agent) {
                        relate(parent: by, student: agent, relationship: relationship, inactive: m.isInactive || s.deleted, line: m.line, order: order)
                    }
                } else if let s = brief {
                    if s.relationship == nil {
                        later.add("agentSourcedIds of a parent naming someone who is not a student", "\(by) → \(agent)", order: order)
                    }
                } else if delta, let active = try storedStudent(agent) {
                    relate(parent: by, student: agent, relationship: relationship, inactive: m.isInactive || !active, line: m.line, order: order)
                } else {
                    later.add("agentSourcedIds naming an unknown user", "\(by) → \(agent)", order: order)
                }
            } else if !isProtected(by) {
                // A student names its parents, guardians and relatives.
                if let p = brief, let relationship = p.relationship {
                    if !isProtected(agent) {
                        relate(parent: agent, student: by, relationship: relationship, inactive: p.deleted || m.isInactive, line: p.line, order: order)
                    }
                } else if brief != nil {
                    later.add("agentSourcedIds of a student naming someone who is not a parent, guardian or relative", "\(by) → \(agent)", order: order)
                } else if !delta {
                    later.add("agentSourcedIds naming an unknown user", "\(by) → \(agent)", order: order)
                }
            }
            try mentionWalk.advance()
        }
        let related = try pairs.finishKeepingFirstOfEachKey()
        let walk = try SortedRowsWalk(rows: related)
        while let r = walk.current {
            rows.noteRowRead()
            try rows.append(key: String(decoding: r.key, as: UTF8.self), values: [Array(r.value(0))[...]], inactive: r.isInactive, location: Int(r.line))
            try walk.advance()
        }
        later.add(to: &notices)
    }
}

/// Notices found out of the order they are reported in: each with its place in that order,
/// given to `OneRosterNotices` as if they had come in it (each reason where its first came,
/// its count, and the examples that came first).
struct OrderedNotices {
    private var reasons: [String: (first: UInt64, count: Int, examples: [(order: UInt64, text: String)])] = [:]

    mutating func add(_ reason: String, _ example: String, order: UInt64) {
        var r = reasons[reason] ?? (order, 0, [])
        r.first = min(r.first, order)
        r.count += 1
        if r.examples.count < OneRosterNotices.examplesKept || order < r.examples[r.examples.count - 1].order {
            r.examples.append((order, example))
            r.examples.sort { $0.order < $1.order }
            if r.examples.count > OneRosterNotices.examplesKept { r.examples.removeLast() }
        }
        reasons[reason] = r
    }

    func add(to notices: inout OneRosterNotices) {
        for (reason, r) in reasons.sorted(by: { $0.value.first < $1.value.first }) {
            notices.add(reason, count: r.count, examples: r.examples.map(\.text))
        }
    }
}
