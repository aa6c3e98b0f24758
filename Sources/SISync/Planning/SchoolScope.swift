import Foundation

/// `[source] schools`: a district that syncs only some schools manages only their records:
/// staff with one of the schools in `school_ids`, students whose `school_id` is one, the
/// households related to those students and the relationships to them, and the attributes
/// of those students and households. Applicants and donors have no school and stay fully
/// managed, with their relationships and attributes. Pure: the export's rows in, which rows
/// are in scope out; the planner treats a record whose row is out of scope as absent, so a
/// record that leaves the scope is deactivated under the guard (R4, R5).
public struct SchoolScope: Sendable, Equatable {
    public let schools: Set<String>

    /// Where staff rows keep `school_ids` and student rows `school_id` (value columns).
    static let staffSchools = EntityKind.staff.valueColumns.firstIndex(of: "school_ids")!
    public static let studentSchool = EntityKind.students.valueColumns.firstIndex(of: "school_id")!

    public init(schools: Set<String>) {
        self.schools = schools
    }

    /// `schools=101,102`: folded into the run's digests, so that an export seen under another
    /// scope (or none) is planned again instead of counting as unchanged (R3).
    public var basis: String { "schools=" + schools.sorted().joined(separator: ",") }

    /// A digest of `digest` under this scope.
    public func qualify(_ digest: String) -> String {
        SHA256.hex(of: (digest + "\n" + basis).utf8)
    }

    /// For each entity whose scope depends on schools, whether each row is in scope; an
    /// entity missing from the result is unscoped (every row is in scope). Relationships,
    /// households and attributes follow the students (and households) in scope; when the
    /// export does not carry the students (the entity is not managed), they stay unscoped.
    /// A student whose row was skipped for a bad value (R2) keeps what depends on it. A delta
    /// (OneRoster) lists only what changed: a student it does not list is judged by the
    /// school `storedSchool` gives (the mirror's, for an active student), and a household
    /// none of its relationships mentions stays in scope.
    public func rowsInScope(_ entities: [EntityKind: EntityRows], storedSchool: (String) throws -> String? = { _ in nil }) rethrows -> [EntityKind: [Bool]] {
        var masks: [EntityKind: [Bool]] = [:]
        if let staff = entities[.staff] {
            let column = Self.staffSchools
            masks[.staff] = (0..<staff.count).map { r in
                staff.value(r, column).split(separator: ";").contains { schools.contains($0.trimmingCharacters(in: .whitespaces)) }
            }
        }
        guard let students = entities[.students] else { return masks }
        let column = Self.studentSchool
        masks[.students] = (0..<students.count).map { schools.contains(students.value($0, column)) }
        var decided: [String: Bool] = [:]
        func studentInScope(_ id: String) throws -> Bool {
            if let known = decided[id] { return known }
            let inScope: Bool
            if let r = students.row(forKey: id) {
                inScope = masks[.students]![r]
            } else if students.protectedKeys.contains(id) {
                inScope = true
            } else if students.isDelta {
                inScope = try storedSchool(id).map(schools.contains) ?? false
            } else {
                inScope = false  // absent from a full export: deactivated with what depends on it
            }
            decided[id] = inScope
            return inScope
        }
        var related: Set<String>?
        var mentioned = Set<String>()
        var undecidedHouseholds = false
        if let relationships = entities[.householdRelationships] {
            var inScopeHouseholds = Set<String>()
            masks[.householdRelationships] = try (0..<relationships.count).map { r in
                let parts = RecordKey.parts(relationships.key(r))
                guard parts.count == 3 else { return true }
                mentioned.insert(parts[0])
                let inScope = try parts[1].lowercased() != "student" || studentInScope(parts[2])
                if inScope { inScopeHouseholds.insert(parts[0]) }
                return inScope
            }
            related = inScopeHouseholds
            undecidedHouseholds = relationships.isDelta
        }
        func householdInScope(_ id: String) -> Bool {
            guard let related else { return true }
            return related.contains(id) || (undecidedHouseholds && !mentioned.contains(id))
        }
        if let households = entities[.households], related != nil {
            undecidedHouseholds = undecidedHouseholds || households.isDelta
            masks[.households] = (0..<households.count).map { householdInScope(households.key($0)) }
        }
        if let attributes = entities[.attributes] {
            masks[.attributes] = try (0..<attributes.count).map { r in
                let parts = RecordKey.parts(attributes.key(r))
                guard parts.count >= 2 else { return true }
                switch parts[0].lowercased() {
                case "student": return try studentInScope(parts[1])
                case "household": return householdInScope(parts[1])
                default: return true
                }
            }
        }
        return masks
    }

    /// The configured schools no staff member or student of the export belongs to: most
    /// likely a typing error in `[source] schools`, which would deactivate that school.
    public func unmatchedSchools(_ entities: [EntityKind: EntityRows]) -> [String] {
        var seen = Set<String>()
        if let staff = entities[.staff] {
            let column = Self.staffSchools
            for r in 0..<staff.count {
                for s in staff.value(r, column).split(separator: ";") { seen.insert(s.trimmingCharacters(in: .whitespaces)) }
            }
        }
        if let students = entities[.students] {
            let column = Self.studentSchool
            for r in 0..<students.count { seen.insert(students.value(r, column)) }
        }
        return schools.subtracting(seen).sorted()
    }
}
