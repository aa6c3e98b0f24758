/// What a user's profile gathers besides the account, one table each: the same three
/// columns (username, then two of the table's) so that one user's parts can be read in one
/// `UNION ALL` and every user's table by table.
enum ProfilePart: CaseIterable {
    case attachments, roles, schools, ledgers, pairings, permissionRoles

    var select: String {
        switch self {
        case .attachments: return "SELECT username, kind AS a, record_id AS b, '' AS c FROM user_attachments"
        case .roles: return "SELECT username, source AS a, role AS b, school_year AS c FROM user_roles"
        case .schools: return "SELECT username, school_id AS a, '' AS b, '' AS c FROM user_schools"
        case .ledgers: return "SELECT username, ledger AS a, '' AS b, '' AS c FROM user_ledgers"
        case .pairings: return "SELECT username, student_id AS a, '' AS b, '' AS c FROM access_pairings"
        case .permissionRoles: return "SELECT username, role AS a, buildings AS b, '' AS c FROM role_assignments WHERE suspended = FALSE"
        }
    }

    /// Adds one row's columns (`offset` is where the username is) to the profile.
    func add(_ r: any StoreStatement, to p: inout UserProfile, offset: Int32 = 0) {
        let a = r.text(offset + 1), b = r.text(offset + 2)
        switch self {
        case .attachments: if let k = AttachmentKind(rawValue: a) { p.attachments[k, default: []].append(b) }
        case .roles:
            if a == "manual" { p.manualRoles.append(b) } else {
                p.calculatedRoles.append(CalculatedRole(username: p.user.username, role: b, schoolYear: r.text(offset + 3)))
            }
        case .schools: p.schools.append(a)
        case .ledgers: p.ledgers.append(a)
        case .pairings: p.pairedStudents.append(a)
        case .permissionRoles: p.permissionRoles.append((a, b.split(separator: ";").map(String.init)))
        }
    }
}
