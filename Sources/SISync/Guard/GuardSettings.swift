/// The `[guard]` thresholds. One district-wide pair used to hide a single school's missing
/// file inside a small percentage, and said nothing about links and roles; each part of a
/// run now has its own pair (issue 17), with defaults that leave everyday changes alone.
public struct GuardSettings: Sendable, Equatable {
    /// Deactivations of an entity's active records (`max_deactivate_percent`/`count`, also
    /// spelled `[sync] max_deactivate_percent`/`count`).
    public var deactivate = GuardLimit(percent: 10, count: 5)
    /// `ENTITY.max_deactivate_percent` and `ENTITY.max_deactivate_count`.
    public var entityPercent: [EntityKind: Double] = [:]
    public var entityCount: [EntityKind: Int] = [:]
    /// Also judge each school on its own (staff by `school_ids`, students by `school_id`).
    public var perSchool = false
    /// ...and only schools that would lose more than this many records.
    public var perSchoolMin = 10
    /// Auto links removed, of the auto links there are.
    public var unlink = GuardLimit(percent: 10, count: 20)
    /// Calculated roles revoked, of the calculated grants there are.
    public var revoke = GuardLimit(percent: 20, count: 50)
    /// How long a held run's plan can be approved: later the SIS and the store have moved on.
    public var heldPlanDays = 7
    /// What a run does with the records it finds renumbered (issue 33, docs/rekey.md):
    /// hold it for review (`hold`), carry them over (`apply`), or deactivate and add (`off`).
    public var rekey = RekeyMode.hold
    /// The share of an entity's active records (district-wide or in one school) a run must
    /// remove before it looks for renumbered ones: below it, removals are turnover.
    public var rekeyMinShare: Double = 50

    public init() {}

    /// The pair an entity's deactivations are judged by.
    public func deactivateLimit(for kind: EntityKind) -> GuardLimit {
        GuardLimit(percent: entityPercent[kind] ?? deactivate.percent, count: entityCount[kind] ?? deactivate.count)
    }
}
