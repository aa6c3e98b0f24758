import Foundation

/// One page of a OneRoster REST collection (`{"users": [...]}`), read into the roster.
/// Servers differ: `enabledUser` comes as "true" or true, `schoolYear` as "2027" or 2027,
/// and errors come as `imsx_StatusInfo` bodies, sometimes with status 200.
public enum OneRosterAPIPage {
    /// The collections sisync reads, in the order it reads them.
    public static let collections: [OneRosterFile] = [.orgs, .academicSessions, .classes, .users, .enrollments]

    /// Parses a page and adds its records to `roster`. Returns how many records it held.
    /// A user given twice is refused by `roster.refuseDuplicateUsers()`, which the caller
    /// calls after the users' last page (and when reading them fails).
    @discardableResult
    public static func read(_ data: Data, collection: OneRosterFile, url: String, firstIndex: Int,
                            into roster: inout OneRosterRoster) throws -> Int {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw OneRosterError.badDocument(url: url, message: "the body is not JSON (\(data.count) bytes)")
        }
        guard let object = json as? [String: Any] else { throw OneRosterError.badDocument(url: url, message: "the body is not a JSON object") }
        if let failure = statusFailure(object) { throw OneRosterError.serverError(url: url, status: failure.status, description: failure.description) }
        let key = collection.rawValue
        let items: [Any]
        if let list = object[key] as? [Any] {
            items = list
        } else if let match = object.first(where: { $0.key.lowercased() == key.lowercased() })?.value as? [Any] {
            items = match
        } else {
            throw OneRosterError.badDocument(url: url, message: "no `\(key)` array (found: \(object.keys.sorted().joined(separator: ", ")))")
        }
        for (offset, item) in items.enumerated() {
            let index = firstIndex + offset
            guard let o = item as? [String: Any] else {
                roster.problems.append(RowProblem(file: url, location: "\(key)[\(index)]", column: nil, id: nil, message: "not an object"))
                continue
            }
            try add(o, collection: collection, index: index, url: url, into: &roster)
        }
        return items.count
    }

    /// `imsx_codeMajor = failure` (at the top or inside `imsx_StatusInfo`/`statusInfoSet`).
    public static func statusFailure(_ object: [String: Any]) -> (status: String, description: String)? {
        var infos: [[String: Any]] = [object]
        for key in ["imsx_StatusInfo", "imsx_statusInfo", "statusInfo"] {
            if let i = object[key] as? [String: Any] { infos.append(i) }
        }
        if let set = object["statusInfoSet"] as? [[String: Any]] { infos += set }
        for info in infos {
            guard let major = info["imsx_codeMajor"] as? String, major.lowercased() == "failure" else { continue }
            let minor = (info["imsx_CodeMinor"] ?? info["imsx_codeMinor"]).map { describeMinor($0) } ?? ""
            let description = (info["imsx_description"] as? String) ?? ""
            return ("imsx_codeMajor failure" + (minor.isEmpty ? "" : " (\(minor))"), description)
        }
        return nil
    }

    private static func describeMinor(_ value: Any) -> String {
        if let s = value as? String { return s }
        if let o = value as? [String: Any], let fields = o["imsx_codeMinorField"] as? [[String: Any]] {
            return fields.compactMap { $0["imsx_codeMinorFieldValue"] as? String }.joined(separator: ", ")
        }
        return ""
    }

    static func string(_ v: Any?) -> String {
        switch v {
        case let s as String: return String(OneRosterRoster.trimmingSpaces(s[...]))
        case let n as NSNumber:
            // JSON true/false arrive as NSNumber too; their type code is `c` (or `B`).
            let type = String(cString: n.objCType)
            return type == "c" || type == "B" ? (n.boolValue ? "true" : "false") : n.stringValue
        default: return ""
        }
    }

    static func ref(_ v: Any?) -> String { string((v as? [String: Any])?["sourcedId"]) }
    static func refs(_ v: Any?) -> [String] { ((v as? [Any]) ?? []).map(ref).filter { !$0.isEmpty } }

    private static func add(_ o: [String: Any], collection: OneRosterFile, index: Int, url: String, into roster: inout OneRosterRoster) throws {
        let id = string(o["sourcedId"])
        let location = "\(collection.rawValue)[\(index)]"
        let deleted = OneRosterRoster.isDeleted(status: string(o["status"])) ?? false
        func day(_ key: String) -> OneRosterDay? {
            let text = string(o[key])
            guard !text.isEmpty else { return nil }
            if let d = OneRosterDay.parse(text) { return d }
            roster.notices.add("unreadable dates (read as no date)", "\(location) \(key) `\(text)`")
            return nil
        }
        switch collection {
        case .orgs:
            if !id.isEmpty { roster.orgTypes[id] = string(o["type"]).lowercased() }
        case .academicSessions:
            guard !id.isEmpty else { return }
            var s = OneRosterRoster.Session(id: id)
            s.deleted = deleted
            s.start = day("startDate")
            s.end = day("endDate")
            s.schoolYear = OneRosterCSVBundle.schoolYear(string(o["schoolYear"])) ?? s.end?.year
            roster.sessions[id] = s
        case .classes:
            guard !id.isEmpty else { return }
            var c = OneRosterRoster.Class(id: id)
            c.deleted = deleted
            c.terms = refs(o["terms"])
            c.schoolID = ref(o["school"])
            roster.classes[id] = c
        case .enrollments:
            var e = OneRosterRoster.Enrollment(id: id)
            e.deleted = deleted
            e.userID = ref(o["user"])
            e.classID = ref(o["class"])
            e.schoolID = ref(o["school"])
            e.role = string(o["role"]).lowercased()
            e.begin = day("beginDate")
            e.end = day("endDate")
            guard !e.userID.isEmpty else {
                roster.problems.append(RowProblem(file: url, location: location, column: "user", id: id.isEmpty ? nil : id, message: "no user"))
                return
            }
            roster.add(e)
        case .users:
            guard !id.isEmpty else {
                roster.problems.append(RowProblem(file: url, location: location, column: "sourcedId", id: nil, message: "required field `sourcedId` is empty"))
                return
            }
            var u = OneRosterRoster.User(id: id)
            u.line = index
            guard let status = OneRosterRoster.isDeleted(status: string(o["status"])) else {
                roster.protectedUserIDs.insert(id)
                roster.problems.append(RowProblem(file: url, location: location, column: "status", id: id, message: "unknown status `\(string(o["status"]))`"))
                return
            }
            guard let enabled = RowRules.boolean(string(o["enabledUser"]).lowercased()) else {
                roster.protectedUserIDs.insert(id)
                roster.problems.append(RowProblem(file: url, location: location, column: "enabledUser", id: id, message: "`\(string(o["enabledUser"]))` is not true or false"))
                return
            }
            u.deleted = status
            u.enabled = enabled
            u.orgs = refs(o["orgs"])
            let primary = ref(o["primaryOrg"])
            if !primary.isEmpty { u.orgs.removeAll { $0 == primary }; u.orgs.insert(primary, at: 0) }
            let role = string(o["role"])
            if !role.isEmpty { u.roles.append(OneRosterRoster.Role(name: role, org: u.orgs.first)) }
            for case let r as [String: Any] in (o["roles"] as? [Any]) ?? [] {
                let name = string(r["role"])
                guard !name.isEmpty else { continue }
                let org = ref(r["org"])
                u.roles.append(OneRosterRoster.Role(name: name, primary: string(r["roleType"]).lowercased() != "secondary", org: org.isEmpty ? nil : org))
                if !org.isEmpty && !u.orgs.contains(org) { u.orgs.append(org) }
            }
            u.roles = u.roles.filter(\.primary) + u.roles.filter { !$0.primary }
            u.givenName = string(o["givenName"])
            u.familyName = string(o["familyName"])
            u.email = string(o["email"])
            u.agents = refs(o["agents"])
            u.grades = ((o["grades"] as? [Any]) ?? []).map { string($0) }.filter { !$0.isEmpty }
            // A user given twice is refused once every page is read (`userIDs`).
            if roster.userIDs != nil { roster.userIDs!.add(id, place: index, detail: url) }
            try roster.keep(u)
        case .roles:
            break
        }
    }
}
