import Foundation

/// `[guard] rekey`: what a run does with records the SIS renumbered (issue 33).
public enum RekeyMode: String, Sendable, CaseIterable {
    /// Hold the run for review (`run show`, then `run approve` or `--without-rekeys`).
    case hold
    /// Carry the records over at once, unless a pair rests on names alone.
    case apply
    /// Deactivate the old records and add the new ones, as before issue 33.
    case off
}

extension EntityKind {
    /// Whether a rekey can carry this entity's records over (issue 33): staff and students
    /// on their evidence, households on their members, relationships and attributes with
    /// what they hang on. Applicants and donors never are (`RekeyDetector` does not search
    /// them, `staff rekey`/`student rekey` name only staff and students).
    public var canBeRekeyed: Bool {
        switch self {
        case .staff, .students, .households, .householdRelationships, .attributes: return true
        case .applicants, .donors: return false
        }
    }
}

/// One record carried over from the id the SIS used to give it to the one it gives it now:
/// the record, its history and everything that names it keep going under the new id. A
/// value of the plan (proposed, then applied), kept with a hold and in the `rekeys` table.
public struct Rekey: Sendable, Equatable, Codable {
    /// The entity's name (`staff`, `students`, …): a rekey never crosses entities.
    public var entity: String
    /// The record's key before and after (composite keys joined as `RecordKey` joins them).
    public var old: String
    public var new: String
    /// Why the two are the same record, in words ("same email …, same name …").
    public var evidence: String
    /// Matched on names without an email: such a run is held even with `rekey = apply`,
    /// since a wrong pair would hand one child's pairings and code to another.
    public var nameOnly: Bool
    /// Fields of the new row that differ from the stored record's (written as an update).
    public var fields: [RekeyField]
    /// The old record was inactive (a relationship or attribute that follows its student).
    public var reactivate: Bool

    public init(entity: EntityKind, old: String, new: String, evidence: String, nameOnly: Bool = false,
                fields: [RekeyField] = [], reactivate: Bool = false) {
        self.entity = entity.rawValue
        self.old = old
        self.new = new
        self.evidence = evidence
        self.nameOnly = nameOnly
        self.fields = fields
        self.reactivate = reactivate
    }

    public var kind: EntityKind? { EntityKind(rawValue: entity) }

    /// "S1042 → 8f1c… (same email jsmith@…, same name Jane Smith)", as `run show` lists it.
    public var described: String {
        "\(RecordKey.display(old)) → \(RecordKey.display(new)) (\(evidence))"
    }
}

/// A field that differs between the stored old record and the export's new row.
public struct RekeyField: Sendable, Equatable, Codable {
    public var column: Int
    public var name: String
    public var old: String
    public var new: String

    public init(column: Int, name: String, old: String, new: String) {
        self.column = column
        self.name = name
        self.old = old
        self.new = new
    }
}

/// Records that could be the same person as more than one record on the other side: never
/// carried over, listed so that an administrator can pair them by hand (`staff rekey`).
public struct AmbiguousRekey: Sendable, Equatable, Codable {
    public var entity: String
    public var old: [String]
    public var new: [String]
    public var evidence: String

    public init(entity: EntityKind, old: [String], new: [String], evidence: String) {
        self.entity = entity.rawValue
        self.old = old.sorted()
        self.new = new.sorted()
        self.evidence = evidence
    }

    /// "S1, S2 or T7, T8 (same name Jane Smith, school 101, grade 3)".
    public var described: String {
        "\(old.map(RecordKey.display).joined(separator: ", ")) ↔ \(new.map(RecordKey.display).joined(separator: ", ")) (\(evidence))"
    }
}

/// What the rekey detection found in a run's plan.
public struct RekeyProposal: Sendable, Equatable {
    public var pairs: [Rekey] = []
    public var ambiguous: [AmbiguousRekey] = []

    public init(pairs: [Rekey] = [], ambiguous: [AmbiguousRekey] = []) {
        self.pairs = pairs
        self.ambiguous = ambiguous
    }

    public var isEmpty: Bool { pairs.isEmpty && ambiguous.isEmpty }
    /// Pairs that rest on names alone (no email on one side).
    public var nameOnly: [Rekey] { pairs.filter(\.nameOnly) }
}
