import Foundation

/// Finds, in a run's plan, the records it would deactivate that are, on the evidence, the
/// same people as records it would add: a district whose SIS renumbered everyone (a new
/// SIS, a vendor's migration, OneRoster 1.1 to 1.2) instead of a district that left and
/// another that arrived (issue 33, docs/rekey.md). Pure: the plan and the stored state in,
/// the proposal out; the plan itself is left as it is (`Plan.carryingOver` lays the pairs
/// over it).
///
/// The evidence rules (docs/rekey.md):
/// - only when the plan removes at least `minShare` percent of an entity's active records,
///   district-wide or in one school, and adds records of it: below that it is turnover,
///   and a common name is not evidence;
/// - staff: the same email key (R6's normalization, domain aliases included) and the same
///   name (case, accents and spaces aside);
/// - students: the same email when both have one, else the same name, school and grade;
/// - households: the same members (after the students' pairs); relationships and
///   attributes follow the students and households they hang on;
/// - a pair must be unique on both sides: a record with two possible partners is listed as
///   ambiguous, with all of them, and never carried over;
/// - only a record leaving (deactivated, or going missing) with one arriving (an active
///   new row): never two records both active in the export, never across entities.
public struct RekeyDetector: Sendable {
    public let minShare: Double
    public let normalizer: EmailNormalizer

    public init(minShare: Double, normalizer: EmailNormalizer) {
        self.minShare = minShare
        self.normalizer = normalizer
    }

    /// `stored` gives each entity's stored state (the values of the records leaving);
    /// `schoolShares` each school's active records and how many of them the named ones are
    /// (called only when the district-wide share is below `minShare`).
    /// `requested` are the pairs administrators made (`staff rekey`): carried over when the
    /// plan removes the old record and adds the new one, whatever the share.
    public func propose(_ plan: Plan, stored: (EntityKind) throws -> StoredEntityState,
                        schoolShares: (EntityKind, Set<String>) throws -> [SchoolShare],
                        requested: [RekeyRequest] = []) throws -> RekeyProposal {
        guard let snapshot = plan.snapshot else { return RekeyProposal() }
        var proposal = RekeyProposal()
        for kind in [EntityKind.staff, .students] {
            guard let p = plan.plan(for: kind), let rows = snapshot.entities[kind] else { continue }
            let asked = try pairsAsked(requested.filter { $0.entity == kind }, p, rows: rows, stored: stored(kind), into: &proposal)
            guard let found = try leavers(p, rows: rows, stored: stored, schoolShares: schoolShares) else { continue }
            let leaving = found.filter { !asked.contains($0.key) }
            let arriving = p.additions.map(Int.init).filter { !rows.isInactive($0) && !asked.contains(rows.key($0)) }
            if kind == .staff {
                match(staff: leaving, arriving, rows: rows, into: &proposal)
            } else {
                match(students: leaving, arriving, rows: rows, into: &proposal)
            }
        }
        let students = Dictionary(proposal.pairs.filter { $0.entity == EntityKind.students.rawValue }.map { ($0.old, $0.new) }, uniquingKeysWith: { a, _ in a })
        let households = try matchHouseholds(plan, snapshot: snapshot, students: students, stored: stored, into: &proposal)
        let follow = KeyFollowing(students: students, households: households)
        if !follow.isEmpty {
            for kind in [EntityKind.householdRelationships, .attributes] {
                guard let p = plan.plan(for: kind), let rows = snapshot.entities[kind] else { continue }
                try self.follow(p, rows: rows, following: follow, stored: try stored(kind), into: &proposal)
            }
        }
        return proposal
    }

    /// The administrators' pairs whose old record the plan removes and whose new row it
    /// adds; returns the ids they take, which automatic matching leaves alone.
    private func pairsAsked(_ requests: [RekeyRequest], _ p: EntityPlan, rows: EntityRows, stored: StoredEntityState,
                            into proposal: inout RekeyProposal) throws -> Set<String> {
        guard !requests.isEmpty else { return [] }
        let removed = Set(p.updates.filter { $0.deactivate != nil || $0.markMissing != nil }.map(\.key))
        let added = Set(p.additions.map(Int.init).filter { !rows.isInactive($0) }.map(rows.key))
        let usable = requests.filter { removed.contains($0.old) && added.contains($0.new) }
        let values = try stored.values(forKeys: usable.map(\.old))
        var taken = Set<String>()
        for r in usable {
            guard let row = rows.row(forKey: r.new) else { continue }
            proposal.pairs.append(Rekey(entity: p.kind, old: r.old, new: r.new, evidence: "paired by \(r.by) (`sisyncctl \(p.kind == .staff ? "staff" : "student") rekey`)",
                                        fields: Self.fields(p.kind, old: values[r.old] ?? [], row: row, rows: rows)))
            taken.formUnion([r.old, r.new])
        }
        return taken
    }

    /// A record leaving with the values the store holds for it.
    struct Leaver {
        var key: String
        var values: [String]
    }

    /// The records of `p` that leave (deactivated, or first missing) when the share rule
    /// lets the entity be searched; nil when it does not, or when nothing arrives.
    private func leavers(_ p: EntityPlan, rows: EntityRows, stored: (EntityKind) throws -> StoredEntityState,
                         schoolShares: (EntityKind, Set<String>) throws -> [SchoolShare]) throws -> [Leaver]? {
        let removed = p.updates.filter { $0.deactivate != nil || $0.markMissing != nil }.map(\.key)
        guard !removed.isEmpty, p.additions.contains(where: { !rows.isInactive(Int($0)) }) else { return nil }
        var schools: Set<String>?
        if !Self.reaches(removed.count, of: p.activeBefore, minShare) {
            let shares = try schoolShares(p.kind, Set(removed))
            schools = Set(shares.filter { Self.reaches($0.deactivated, of: $0.active, minShare) }.map(\.school))
            if schools!.isEmpty { return nil }
        }
        let values = try stored(p.kind).values(forKeys: removed)
        let schoolColumn = p.kind == .staff ? SchoolScope.staffSchools : SchoolScope.studentSchool
        return removed.compactMap { key in
            guard let v = values[key] else { return nil }
            if let schools, !v[schoolColumn].split(separator: ";").contains(where: { schools.contains($0.trimmingCharacters(in: .whitespaces)) }) {
                return nil
            }
            return Leaver(key: key, values: v)
        }
    }

    static func reaches(_ n: Int, of total: Int, _ share: Double) -> Bool {
        total > 0 && n > 0 && Double(n) * 100 >= share * Double(total)
    }

    /// "jane smith": case, accents and runs of spaces set aside. ASCII names (most of
    /// them) take a byte path; Foundation's `folding` costs about 100 µs a name on Linux,
    /// which made the search most of a renumbered district's run.
    static func normalizedName(_ first: String, _ last: String) -> String {
        let whole = first + " " + last
        var ascii = true
        for b in whole.utf8 where b >= 0x80 { ascii = false; break }
        let folded: String
        if ascii {
            folded = whole.lowercased()
        } else {
            // Accents are the combining marks of the canonical decomposition.
            var scalars = String.UnicodeScalarView()
            for u in whole.decomposedStringWithCanonicalMapping.unicodeScalars where u.properties.generalCategory != .nonspacingMark {
                scalars.append(u)
            }
            folded = String(scalars).lowercased()
        }
        return folded.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Groups both sides by `key` and pairs the keys with exactly one record on each side;
    /// a key with more on either side is ambiguous. `evidence` is asked for each group.
    private func pairUp(_ kind: EntityKind, leaving: [String: [Leaver]], arriving: [String: [Int]], rows: EntityRows,
                        evidence: (Leaver, Int) -> (text: String, nameOnly: Bool)?, ambiguity: (String) -> String,
                        into proposal: inout RekeyProposal) -> (paired: Set<String>, listed: Set<String>) {
        var paired = Set<String>(), listed = Set<String>()
        var unique: [(old: Leaver, new: Int)] = []
        for (key, olds) in leaving {
            guard let news = arriving[key] else { continue }
            if olds.count == 1, news.count == 1 {
                unique.append((olds[0], news[0]))
            } else {
                proposal.ambiguous.append(AmbiguousRekey(entity: kind, old: olds.map(\.key), new: news.map(rows.key), evidence: ambiguity(key)))
                listed.formUnion(olds.map(\.key))
            }
        }
        // The export's rows in their order: they are read back from disk a block of rows at a
        // time, and the dictionaries' order read a block per pair (a whole district's
        // renumbering: most of the search, in reads).
        unique.sort { $0.new < $1.new }
        for (old, new) in unique {
            guard let why = evidence(old, new) else { continue }
            proposal.pairs.append(Rekey(entity: kind, old: old.key, new: rows.key(new), evidence: why.text, nameOnly: why.nameOnly,
                                        fields: Self.fields(kind, old: old.values, row: new, rows: rows)))
            paired.insert(old.key)
        }
        return (paired, listed)
    }

    static func fields(_ kind: EntityKind, old: [String], row: Int, rows: EntityRows) -> [RekeyField] {
        let columns = kind.valueColumns
        return (0..<columns.count).compactMap { c in
            let new = rows.value(row, c)
            return c < old.count && old[c] != new ? RekeyField(column: c, name: columns[c], old: old[c], new: new) : nil
        }
    }

    private func match(staff leaving: [Leaver], _ arriving: [Int], rows: EntityRows, into proposal: inout RekeyProposal) {
        // Columns of `EntityKind.staff.valueColumns`.
        let first = 0, last = 1, email = 2
        func key(_ v: (Int) -> String) -> String? {
            let e = normalizer.key(v(email))
            return e.isEmpty ? nil : e + "\u{1F}" + Self.normalizedName(v(first), v(last))
        }
        var olds: [String: [Leaver]] = [:], news: [String: [Int]] = [:]
        for l in leaving { if let k = key({ l.values[$0] }) { olds[k, default: []].append(l) } }
        for r in arriving { if let k = key({ rows.value(r, $0) }) { news[k, default: []].append(r) } }
        _ = pairUp(.staff, leaving: olds, arriving: news, rows: rows, evidence: { _, r in
            ("same email \(rows.value(r, email)), same name \(rows.value(r, first)) \(rows.value(r, last))", false)
        }, ambiguity: { k in "same email and name \(k.replacingOccurrences(of: "\u{1F}", with: ", "))" }, into: &proposal)
    }

    private func match(students leaving: [Leaver], _ arriving: [Int], rows: EntityRows, into proposal: inout RekeyProposal) {
        // Columns of `EntityKind.students.valueColumns`.
        let first = 0, last = 1, email = 2, school = 3, grade = 4
        var olds: [String: [Leaver]] = [:], news: [String: [Int]] = [:]
        for l in leaving { let e = normalizer.key(l.values[email]); if !e.isEmpty { olds[e, default: []].append(l) } }
        for r in arriving { let e = normalizer.key(rows.value(r, email)); if !e.isEmpty { news[e, default: []].append(r) } }
        let byEmail = pairUp(.students, leaving: olds, arriving: news, rows: rows, evidence: { l, r in
            let name = Self.normalizedName(l.values[first], l.values[last]) == Self.normalizedName(rows.value(r, first), rows.value(r, last))
            return ("same email \(rows.value(r, email))" + (name ? ", same name \(rows.value(r, first)) \(rows.value(r, last))" : ""), false)
        }, ambiguity: { "same email \($0)" }, into: &proposal)
        let pairedNew = Set(proposal.pairs.filter { $0.entity == EntityKind.students.rawValue }.map(\.new))
        let listedNew = Set(proposal.ambiguous.filter { $0.entity == EntityKind.students.rawValue }.flatMap(\.new))
        // Then by name, school and grade, among those the emails did not settle.
        func key(_ v: (Int) -> String) -> String {
            [Self.normalizedName(v(first), v(last)), v(school), v(grade)].joined(separator: "\u{1F}")
        }
        olds = [:]; news = [:]
        for l in leaving where !byEmail.paired.contains(l.key) && !byEmail.listed.contains(l.key) {
            olds[key { l.values[$0] }, default: []].append(l)
        }
        for r in arriving where !pairedNew.contains(rows.key(r)) && !listedNew.contains(rows.key(r)) {
            news[key { rows.value(r, $0) }, default: []].append(r)
        }
        // Two records that both have an email, and not the same one, are not the same student.
        olds = olds.filter { k, list in
            !(list.allSatisfy { !$0.values[email].isEmpty } && (news[k] ?? []).allSatisfy { !rows.value($0, email).isEmpty })
        }
        _ = pairUp(.students, leaving: olds, arriving: news, rows: rows, evidence: { l, r in
            guard l.values[email].isEmpty || rows.value(r, email).isEmpty else { return nil }
            return ("same name \(rows.value(r, first)) \(rows.value(r, last)), school \(rows.value(r, school)), grade \(rows.value(r, grade)) (no email)", true)
        }, ambiguity: { k in
            let p = k.components(separatedBy: "\u{1F}")
            return "same name \(p[0]), school \(p[1]), grade \(p[2])"
        }, into: &proposal)
    }

    /// Households follow their members: a household leaving and one arriving with the same
    /// students and applicants (after the students' pairs), unique on both sides. Searched
    /// when students were paired, or when the households' own share reaches `minShare`.
    private func matchHouseholds(_ plan: Plan, snapshot: ExportSnapshot, students: [String: String],
                                 stored: (EntityKind) throws -> StoredEntityState, into proposal: inout RekeyProposal) throws -> [String: String] {
        guard let p = plan.plan(for: .households), let rows = snapshot.entities[.households],
              let rp = plan.plan(for: .householdRelationships), let relationships = snapshot.entities[.householdRelationships] else { return [:] }
        let removed = p.updates.filter { $0.deactivate != nil || $0.markMissing != nil }.map(\.key)
        guard !removed.isEmpty, !p.additions.isEmpty, !students.isEmpty || Self.reaches(removed.count, of: p.activeBefore, minShare) else { return [:] }
        let leaving = Set(removed), arriving = Set(p.additions.map { rows.key(Int($0)) })
        var oldMembers: [String: [String]] = [:], newMembers: [String: [String]] = [:]
        for u in rp.updates where u.deactivate != nil || u.markMissing != nil {
            let parts = RecordKey.parts(u.key)
            guard parts.count == 3, leaving.contains(parts[0]) else { continue }
            let member = parts[1] == "student" ? students[parts[2]] ?? parts[2] : parts[2]
            oldMembers[parts[0], default: []].append(parts[1] + " " + member)
        }
        for r in rp.additions {
            let parts = RecordKey.parts(relationships.key(Int(r)))
            guard parts.count == 3, arriving.contains(parts[0]) else { continue }
            newMembers[parts[0], default: []].append(parts[1] + " " + parts[2])
        }
        let values = try stored(.households).values(forKeys: Array(oldMembers.keys))
        var olds: [String: [Leaver]] = [:], news: [String: [Int]] = [:]
        for (h, m) in oldMembers { olds[m.sorted().joined(separator: ", "), default: []].append(Leaver(key: h, values: values[h] ?? [""])) }
        // In the export's order (a look-up by key reads a block of rows from disk each).
        for r32 in p.additions {
            let r = Int(r32)
            if let m = newMembers[rows.key(r)] { news[m.sorted().joined(separator: ", "), default: []].append(r) }
        }
        let before = proposal.pairs.count
        _ = pairUp(.households, leaving: olds, arriving: news, rows: rows, evidence: { l, r in
            let members = newMembers[rows.key(r)]!.sorted().joined(separator: ", ")
            let name = l.values.first == rows.value(r, 0) ? ", same name \(rows.value(r, 0))" : ""
            return ("same members \(members)\(name)", false)
        }, ambiguity: { "same members \($0)" }, into: &proposal)
        return Dictionary(proposal.pairs[before...].map { ($0.old, $0.new) }, uniquingKeysWith: { a, _ in a })
    }

    /// Relationships and attributes whose student or household was paired: the record
    /// leaving under the old key and arriving under the new one is carried over with it.
    private func follow(_ p: EntityPlan, rows: EntityRows, following: KeyFollowing, stored: StoredEntityState,
                        into proposal: inout RekeyProposal) throws {
        let kind = p.kind
        var leaving: [String: String] = [:]  // the old key as it reads after the renames → the old key
        for u in p.updates where u.deactivate != nil || u.markMissing != nil {
            let renamed = following.renamed(kind, u.key)
            if renamed != u.key { leaving[renamed] = u.key }
        }
        var found: [(old: String, row: Int, reactivate: Bool)] = []
        for r32 in p.additions {
            let r = Int(r32), key = rows.key(r)
            if let old = leaving[key] {
                found.append((old, r, false))
            } else if let old = following.original(kind, key), old != key, let s = try stored.record(forKey: old) {
                // Stored under the old key but not leaving now (inactive already): it comes
                // back under the new key instead of being added beside the renamed one.
                found.append((old, r, !s.active))
            }
        }
        guard !found.isEmpty else { return }
        let values = try stored.values(forKeys: found.map(\.old))
        for f in found {
            proposal.pairs.append(Rekey(entity: kind, old: f.old, new: rows.key(f.row), evidence: following.evidence(kind, f.old),
                                        fields: Self.fields(kind, old: values[f.old] ?? [], row: f.row, rows: rows), reactivate: f.reactivate))
        }
    }
}
