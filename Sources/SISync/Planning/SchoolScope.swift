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
    public func rowsInScope(_ entities: [EntityKind: EntityRows]) -> [EntityKind: [Bool]] {
        var masks: [EntityKind: [Bool]] = [:]
        if let staff = entities[.staff], let column = EntityKind.staff.valueColumns.firstIndex(of: "school_ids") {
            masks[.staff] = (0..<staff.count).map { r in
                staff.value(r, column).split(separator: ";").contains { schools.contains($0.trimmingCharacters(in: .whitespaces)) }
            }
        }
        guard let students = entities[.students], let column = EntityKind.students.valueColumns.firstIndex(of: "school_id") else { return masks }
        var studentKeys = Set<String>()
        masks[.students] = (0..<students.count).map { r in
            let inScope = schools.contains(students.value(r, column))
            if inScope { studentKeys.insert(students.key(r)) }
            return inScope
        }
        var householdKeys: Set<String>?
        if let relationships = entities[.householdRelationships] {
            var related = Set<String>()
            masks[.householdRelationships] = (0..<relationships.count).map { r in
                let parts = RecordKey.parts(relationships.key(r))
                let inScope = parts.count != 3 || parts[1].lowercased() != "student" || studentKeys.contains(parts[2])
                if inScope, let household = parts.first { related.insert(household) }
                return inScope
            }
            householdKeys = related
            if let households = entities[.households] {
                masks[.households] = (0..<households.count).map { related.contains(households.key($0)) }
            }
        }
        if let attributes = entities[.attributes] {
            masks[.attributes] = (0..<attributes.count).map { r in
                let parts = RecordKey.parts(attributes.key(r))
                guard parts.count >= 2 else { return true }
                switch parts[0].lowercased() {
                case "student": return studentKeys.contains(parts[1])
                case "household": return householdKeys?.contains(parts[1]) ?? true
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
        if let staff = entities[.staff], let column = EntityKind.staff.valueColumns.firstIndex(of: "school_ids") {
            for r in 0..<staff.count {
                for s in staff.value(r, column).split(separator: ";") { seen.insert(s.trimmingCharacters(in: .whitespaces)) }
            }
        }
        if let students = entities[.students], let column = EntityKind.students.valueColumns.firstIndex(of: "school_id") {
            for r in 0..<students.count { seen.insert(students.value(r, column)) }
        }
        return schools.subtracting(seen).sorted()
    }
}
