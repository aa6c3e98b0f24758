/// The keys of relationships and attributes as they read once their students and
/// households are carried over to new ids (issue 33): `H1/student/S1` becomes
/// `H9/student/T1` when H1 → H9 and S1 → T1. Both ways, since a stored record found
/// under its old key and an export row under its new one are the same record.
struct KeyFollowing: Sendable {
    var students: [String: String]
    var households: [String: String]
    private var studentsBack: [String: String]
    private var householdsBack: [String: String]

    init(students: [String: String], households: [String: String]) {
        self.students = students
        self.households = households
        studentsBack = Dictionary(students.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        householdsBack = Dictionary(households.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
    }

    /// From the carried-over pairs of a plan.
    init(_ pairs: [Rekey]) {
        func map(_ kind: EntityKind) -> [String: String] {
            Dictionary(pairs.filter { $0.entity == kind.rawValue }.map { ($0.old, $0.new) }, uniquingKeysWith: { a, _ in a })
        }
        self.init(students: map(.students), households: map(.households))
    }

    var isEmpty: Bool { students.isEmpty && households.isEmpty }

    /// The key under the new ids (the same key when nothing it names moved).
    func renamed(_ kind: EntityKind, _ key: String) -> String {
        translate(kind, key, students: students, households: households)
    }

    /// The key under the old ids, for a key of the export.
    func original(_ kind: EntityKind, _ key: String) -> String? {
        let back = translate(kind, key, students: studentsBack, households: householdsBack)
        return back == key ? nil : back
    }

    private func translate(_ kind: EntityKind, _ key: String, students: [String: String], households: [String: String]) -> String {
        guard !isEmpty else { return key }
        var parts = RecordKey.parts(key)
        switch kind {
        case .householdRelationships where parts.count == 3:
            if let h = households[parts[0]] { parts[0] = h }
            if parts[1] == "student", let s = students[parts[2]] { parts[2] = s }
        case .attributes where parts.count == 4:
            if parts[0] == "student", let s = students[parts[1]] { parts[1] = s }
            if parts[0] == "household", let h = households[parts[1]] { parts[1] = h }
        default:
            return key
        }
        return RecordKey.join(parts)
    }

    /// "follows student S1 → T1": why a relationship or attribute was carried over.
    func evidence(_ kind: EntityKind, _ old: String) -> String {
        let parts = RecordKey.parts(old)
        var moved: [String] = []
        if kind == .householdRelationships, parts.count == 3 {
            if let h = households[parts[0]] { moved.append("household \(parts[0]) → \(h)") }
            if parts[1] == "student", let s = students[parts[2]] { moved.append("student \(parts[2]) → \(s)") }
        } else if kind == .attributes, parts.count == 4 {
            if parts[0] == "student", let s = students[parts[1]] { moved.append("student \(parts[1]) → \(s)") }
            if parts[0] == "household", let h = households[parts[1]] { moved.append("household \(parts[1]) → \(h)") }
        }
        return "follows " + moved.joined(separator: " and ")
    }
}
