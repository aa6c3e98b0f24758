import Foundation

extension MirrorStore {
    /// The name of a record, to show beside its id where an administrator judges changes by
    /// who they touch (a held run's `run show`): a person's first and last name, a
    /// household's or donor's name. nil for a record not stored and kinds without a name.
    public func name(of kind: EntityKind, id: String) throws -> String? {
        guard let expression = Self.nameExpression(kind), kind.keyColumns.count == 1 else { return nil }
        let s = try database.query("SELECT \(unescaped: expression) FROM \(unescaped: kind.table) WHERE \(unescaped: kind.keyColumns[0]) = \(id)")
        defer { s.reset() }
        return try s.step() ? s.string(0) : nil
    }

    /// The SQL of a kind's name, from its own columns (EntityKind).
    static func nameExpression(_ kind: EntityKind) -> String? {
        let columns = Set(kind.valueColumns)
        if columns.isSuperset(of: ["first_name", "last_name"]) { return "first_name || ' ' || last_name" }
        if columns.contains("name") { return "name" }
        return nil
    }
}
