/// The records a run changed that calculated roles (R7) depend on, so that only the users
/// they reach are recomputed. Derived from the plan alone (a value, no I/O).
public struct RoleInputChanges: Sendable, Equatable {
    /// Staff whose activity changed (Staff, Admissions Evaluator of linked users).
    public var staff: Set<String> = []
    /// Students added or changed (Student of attached users, Parent through households).
    public var students: Set<String> = []
    /// Households whose relationships were added or changed.
    public var households: Set<String> = []
    /// Applicants added or changed (Applicant through households, evaluators).
    public var applicants: Set<String> = []
    /// Evaluator staff ids applicants named before this run.
    public var formerEvaluators: Set<String> = []
    /// `(record_type, record_id)` of attributes added or changed.
    public var attributeRecords: Set<RecordRef> = []
    /// Users whose link this run made or removed.
    public var users: Set<String> = []

    public struct RecordRef: Sendable, Hashable {
        public var type: String
        public var id: String
    }

    public init() {}

    public var count: Int {
        staff.count + students.count + households.count + applicants.count + formerEvaluators.count + attributeRecords.count + users.count
    }

    /// More inputs changed than `limit`: recompute everyone instead.
    public var exceedsLimit = false

    /// What `plan` changes, after it is applied. Past `limit` changed records it stops
    /// collecting and says so (a first import touches every record).
    public init(_ plan: Plan, limit: Int = .max) {
        let total = plan.entities.reduce(0) { $0 + $1.additions.count + $1.updates.count } + plan.links.changes.count
        if total > limit {
            exceedsLimit = true
            return
        }
        for p in plan.entities {
            let rows = plan.snapshot?.entities[p.kind]
            var keys: [String] = []
            if let rows { keys = p.additions.map { rows.key(Int($0)) } }
            for u in p.updates {
                switch p.kind {
                case .staff:
                    if u.deactivate != nil || u.reactivate { keys.append(u.key) }
                case .households, .donors:
                    break  // names only: no role depends on them
                case .applicants:
                    keys.append(u.key)
                    for f in u.fields where f.name == "evaluator_staff_ids" {
                        formerEvaluators.formUnion(f.old.split(separator: ";").map(String.init))
                    }
                default:
                    keys.append(u.key)
                }
            }
            for key in keys {
                switch p.kind {
                case .staff: staff.insert(key)
                case .students: students.insert(key)
                case .householdRelationships: households.insert(RecordKey.parts(key)[0])
                case .applicants: applicants.insert(key)
                case .attributes:
                    let parts = RecordKey.parts(key)
                    attributeRecords.insert(RecordRef(type: parts[0], id: parts[1]))
                case .households, .donors: break
                }
            }
        }
        for c in plan.links.changes {
            switch c {
            case .link(let user, _, _), .unlink(let user, _, _, _): users.insert(user)
            case .ambiguous, .unapprove: break
            }
        }
    }
}
