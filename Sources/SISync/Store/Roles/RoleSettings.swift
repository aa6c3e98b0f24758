import Foundation

/// What R7 needs besides the data: the current school year and the parent relationships.
public struct RoleSettings: Sendable {
    public var schoolYear: String
    public var parentRelationships: [String]
    public init(schoolYear: String, parentRelationships: [String]) {
        self.schoolYear = schoolYear
        self.parentRelationships = parentRelationships
    }

    /// The parent relationships as R7's SQL takes them (a JSON array, lower case); also
    /// what `role_basis` compares.
    var relationshipsKey: String {
        String(decoding: (try? JSONEncoder().encode(parentRelationships.map { $0.lowercased() })) ?? Data("[]".utf8), as: UTF8.self)
    }
}
