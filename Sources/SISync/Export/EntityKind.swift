/// The seven kinds of SIS record sisync mirrors. Each kind describes its columns once,
/// so that the CSV and JSON readers, the planner and the store all agree on them.
public enum EntityKind: String, Sendable, CaseIterable, Hashable, Comparable {
    case staff
    case students
    case households
    case householdRelationships = "household_relationships"
    case applicants
    case donors
    case attributes

    public static func < (a: EntityKind, b: EntityKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The database table that mirrors this entity.
    public var table: String { rawValue }

    /// The columns that identify a record. Most entities have one id column; relationships
    /// and attributes are identified by all of their identifying columns together.
    public var keyColumns: [String] {
        switch self {
        case .staff: return ["staff_id"]
        case .students: return ["student_id"]
        case .households: return ["household_id"]
        case .householdRelationships: return ["household_id", "record_type", "record_id"]
        case .applicants: return ["applicant_id"]
        case .donors: return ["donor_id"]
        case .attributes: return ["record_type", "record_id", "attribute", "school_year"]
        }
    }

    /// The data columns stored and compared field by field (R4).
    public var valueColumns: [String] {
        switch self {
        case .staff: return ["first_name", "last_name", "email", "title", "school_ids", "enabled"]
        case .students: return ["first_name", "last_name", "email", "school_id", "grade", "enrollment_status", "school_year"]
        case .households: return ["name"]
        case .householdRelationships: return ["relationship"]
        case .applicants: return ["first_name", "last_name", "status", "evaluator_staff_ids"]
        case .donors: return ["name", "email"]
        case .attributes: return []
        }
    }

    /// Columns that must be present in the header and non-empty in every row.
    public var requiredColumns: Set<String> {
        switch self {
        case .staff: return ["staff_id", "first_name", "last_name"]
        case .students: return ["student_id", "first_name", "last_name", "enrollment_status", "school_year"]
        case .households: return ["household_id"]
        case .householdRelationships: return ["household_id", "record_type", "record_id", "relationship"]
        case .applicants: return ["applicant_id", "status"]
        case .donors: return ["donor_id"]
        case .attributes: return ["record_type", "record_id", "attribute"]
        }
    }

    /// Whether the export carries a `status` column that marks the record inactive
    /// (staff only; an applicant's status is data).
    public var hasActivityStatus: Bool { self == .staff }

    /// Columns holding `;`-separated lists (JSON arrays).
    public var listColumns: Set<String> {
        switch self {
        case .staff: return ["school_ids"]
        case .applicants: return ["evaluator_staff_ids"]
        default: return []
        }
    }

    /// Optional yes/no columns, stored as "" (yes, the default) or "false". Only OneRoster's
    /// `enabledUser` feeds one today: a disabled account keeps its record active.
    public var booleanColumns: Set<String> {
        self == .staff ? ["enabled"] : []
    }

    /// Columns holding an email address, checked for form (R2).
    public var emailColumns: Set<String> {
        switch self {
        case .staff, .students, .donors: return ["email"]
        default: return []
        }
    }

    /// Columns with a closed set of values; compared case-insensitively and stored lower case.
    public var enumeratedColumns: [String: Set<String>] {
        switch self {
        case .householdRelationships: return ["record_type": ["student", "applicant"]]
        case .attributes: return ["record_type": ["student", "household", "donor"]]
        default: return [:]
        }
    }

    /// Every column the reader looks for, keys first.
    public var allColumns: [String] {
        keyColumns + valueColumns + (hasActivityStatus ? ["status"] : [])
    }

    /// The file name in a CSV export directory.
    public var fileName: String { rawValue + ".csv" }

    /// The singular noun used in messages ("staff member", "student").
    public var noun: String {
        switch self {
        case .staff: return "staff member"
        case .students: return "student"
        case .households: return "household"
        case .householdRelationships: return "household relationship"
        case .applicants: return "applicant"
        case .donors: return "donor"
        case .attributes: return "attribute"
        }
    }
}
