/// A set of OneRoster ids compared by their bytes, as the database compares keys: a
/// `Set<String>` compares them by canonical equivalence, so of two users whose ids spell `é`
/// in two ways, only the first would be protected (R2) or mentioned.
public struct OneRosterIDSet: Sendable {
    private var ids = OneRosterIDs()

    public init() {}

    public mutating func insert(_ id: String) { _ = ids.number(id) }
    public func contains(_ id: String) -> Bool { ids.find(id) != nil }
    public var count: Int { ids.count }
    public var isEmpty: Bool { ids.count == 0 }
    /// The ids, in the order they were first inserted.
    public var all: [String] { ids.all }
}
