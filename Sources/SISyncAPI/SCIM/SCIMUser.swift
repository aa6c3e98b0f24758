import SISync

/// The User resource (RFC 7643 §4.1) as sisync keeps it (docs/scim.md): the core attributes
/// sisync stores, and sisync's extension with the read-only facts (link, roles, locked,
/// schools). `id` is sisync's (`users.scim_id`), not the username, so that a provider may
/// rename a user (RFC 7643 §3.1).
package enum SCIMUser {
    package static let schema = "urn:ietf:params:scim:schemas:core:2.0:User"
    package static let extensionSchema = "urn:sisync:params:scim:schemas:extension:2.0:User"

    /// The attributes a provider writes. Everything else of the core schema is either
    /// read-only here (`id`, `meta`, `groups`) or not kept, and ignored (RFC 7643 §2.2).
    static let writable: Set<String> = ["username", "name", "displayname", "emails", "active", "externalid", "password"]
    /// Attributes a PATCH may not name in its path: 400 `mutability`.
    static let readOnly: Set<String> = ["id", "meta", "groups", "schemas"]

    /// The extension's facts, read with the account.
    package struct Facts: Sendable {
        package var calculatedRoles: [CalculatedRole] = []
        package var manualRoles: [String] = []
        package var schools: [String] = []

        package init(calculatedRoles: [CalculatedRole] = [], manualRoles: [String] = [], schools: [String] = []) {
            self.calculatedRoles = calculatedRoles
            self.manualRoles = manualRoles
            self.schools = schools
        }
    }

    /// The resource, whole: `attributes`/`excludedAttributes` are applied to it afterwards
    /// (`SCIMProjection`).
    package static func resource(_ u: ProvisionedUser, facts: Facts, location: String) -> JSONValue {
        let f = u.fields
        var members: [(String, JSONValue)] = [
            ("schemas", .array([.string(schema), .string(extensionSchema)])),
            ("id", .string(u.id)),
        ]
        if let e = f.externalID { members.append(("externalId", .string(e))) }
        members.append(("userName", .string(f.username)))
        // `name` is there when the provider sent its parts; the display name stands for
        // `formatted` (sisync keeps one display name).
        if f.givenName != nil || f.familyName != nil {
            var name: [(String, JSONValue)] = []
            if !f.name.isEmpty { name.append(("formatted", .string(f.name))) }
            if let g = f.givenName { name.append(("givenName", .string(g))) }
            if let s = f.familyName { name.append(("familyName", .string(s))) }
            members.append(("name", .object(name)))
        }
        if !f.name.isEmpty { members.append(("displayName", .string(f.name))) }
        members.append(("emails", emails(f)))
        if let active = active(f) { members.append(("active", active)) }
        members.append((extensionSchema, .object([
            ("staffId", .string(u.link?.staffID)),
            ("linkKind", .string(u.link?.kind.rawValue)),
            ("calculatedRoles", .array(facts.calculatedRoles.map { r in
                .object([("value", .string(r.role))] + (r.schoolYear.isEmpty ? [] : [("schoolYear", .string(r.schoolYear))]))
            })),
            ("manualRoles", .array(facts.manualRoles.map { .string($0) })),
            ("locked", .bool(u.locked)),
            ("schools", .array(facts.schools.map { .string($0) })),
        ])))
        members.append(("meta", .object([
            ("resourceType", .string("User")),
            ("created", .string(shownTime(u.createdAt))),
            ("lastModified", .string(shownTime(u.modifiedAt))),
            ("location", .string(location)),
        ])))
        return .object(members)
    }

    /// `active` is unassigned (absent) after a provider removed it, while the user stays
    /// unapproved (an administrator's approval shows it again).
    static func active(_ f: ProvisionedUser.Fields) -> JSONValue? {
        f.activeRemoved && !f.approved ? nil : .bool(f.approved)
    }

    /// sisync's one email, with the `type` and `primary` the provider gave it; a user of
    /// `sisyncctl` (neither given) has a `work` email, its primary one.
    static func emails(_ f: ProvisionedUser.Fields) -> JSONValue {
        var email: [(String, JSONValue)] = [("value", .string(f.email))]
        if f.emailType == nil && f.emailPrimary == nil {
            email += [("type", .string("work")), ("primary", .bool(true))]
        } else {
            if let t = f.emailType { email.append(("type", .string(t))) }
            if let p = f.emailPrimary { email.append(("primary", .bool(p))) }
        }
        return .array([.object(email)])
    }

    /// Times as RFC 3339 in UTC (PostgreSQL hands them back in its own form).
    static func shownTime(_ stored: String) -> String { Timestamp.parse(stored).map(Timestamp.format) ?? stored }

    /// What a POST or PUT body (or a patched resource) says of the writable attributes.
    /// Unknown and read-only attributes are ignored; a user without an email is 400
    /// `invalidValue`, since sisync links users to staff by email.
    package struct Input: Sendable, Equatable {
        package var fields: ProvisionedUser.Fields
        package var password: String?
    }

    /// `active` absent is true in a POST and a PUT (a new user of a provider is active, as
    /// Entra and Okta mean it); after a PATCH `remove` of it, `activeWhenAbsent` is false:
    /// an unassigned `active` is not active.
    package static func input(_ body: JSONValue, activeWhenAbsent: Bool = true) throws(SCIMError) -> Input {
        guard case .object = body else { throw .invalidSyntax("the body must be a JSON object (a User resource)") }
        guard let userName = body[scim: "userName"]?.stringValue?.trimmingCharacters(in: .whitespaces), !userName.isEmpty else {
            throw .invalidValue("`userName` is required: a string, the login name (no spaces)")
        }
        guard UserRecord.isValidUsername(userName) else { throw .invalidValue("`userName` may not hold spaces") }
        let (email, emailType, emailPrimary) = try Self.email(body[scim: "emails"])
        var given: String?, family: String?, formatted: String?
        if let name = body[scim: "name"] {
            switch name {
            case .null: break
            case .object:
                given = try optionalString(name[scim: "givenName"], "name.givenName")
                family = try optionalString(name[scim: "familyName"], "name.familyName")
                formatted = try optionalString(name[scim: "formatted"], "name.formatted")
            default: throw .invalidValue("`name` must be an object (givenName, familyName, formatted)")
            }
        }
        let display = try optionalString(body[scim: "displayName"], "displayName")
        let joined = [given, family].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        let name = display ?? formatted ?? joined
        let active: Bool, activeRemoved: Bool
        switch body[scim: "active"] {
        case nil, .null?: active = activeWhenAbsent; activeRemoved = !activeWhenAbsent
        case let v?: active = try boolean(v, "active"); activeRemoved = false
        }
        let externalID = try optionalString(body[scim: "externalId"], "externalId")
        let password = try optionalString(body[scim: "password"], "password")
        return Input(fields: ProvisionedUser.Fields(username: userName, email: email, name: name, givenName: given, familyName: family,
                                                    approved: active, externalID: externalID.flatMap { $0.isEmpty ? nil : $0 }, emailType: emailType,
                                                    emailPrimary: emailPrimary, activeRemoved: activeRemoved),
                     password: password)
    }

    /// The email that links, and its `type`: the `work` one, else the `primary`, else the
    /// first with a value.
    static func email(_ emails: JSONValue?) throws(SCIMError) -> (value: String, type: String?, primary: Bool?) {
        let missing = SCIMError.invalidValue("a user needs an email (`emails` with a value, the `work` or `primary` one when there are several): sisync links users to staff records by email")
        guard let emails, case .array(let items) = emails else { throw missing }
        func isTrue(_ v: JSONValue?) -> Bool { v.flatMap { try? boolean($0, "primary") } ?? false }
        func value(_ item: JSONValue) -> String? { item[scim: "value"]?.stringValue?.trimmingCharacters(in: .whitespaces).nilIfEmpty }
        let withValue = items.filter { value($0) != nil }
        let chosen = withValue.first { $0[scim: "type"]?.stringValue?.lowercased() == "work" }
            ?? withValue.first { isTrue($0[scim: "primary"]) }
            ?? withValue.first
        guard let chosen, let email = value(chosen) else { throw missing }
        let primary = try chosen[scim: "primary"].flatMap { v throws(SCIMError) in v == .null ? nil : try boolean(v, "emails.primary") }
        return (email, chosen[scim: "type"]?.stringValue?.trimmingCharacters(in: .whitespaces).nilIfEmpty, primary)
    }

    /// A boolean as providers send it: `true`, or the string `"True"` (Entra's PATCH).
    static func boolean(_ v: JSONValue, _ name: String) throws(SCIMError) -> Bool {
        switch v {
        case .bool(let b): return b
        case .string(let s) where s.lowercased() == "true": return true
        case .string(let s) where s.lowercased() == "false": return false
        default: throw .invalidValue("`\(name)` must be true or false")
        }
    }

    static func optionalString(_ v: JSONValue?, _ name: String) throws(SCIMError) -> String? {
        switch v {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw .invalidValue("`\(name)` must be a string")
        }
    }

    /// What a PATCH leaves of a user's writable attributes: its operations applied to the
    /// user as a resource. `active` absent afterwards was removed (not active); the `work`,
    /// primary email a user of `sisyncctl` is shown with stays without a type of its own
    /// unless the operations change it.
    package static func applying(_ patch: SCIMPatch, to user: ProvisionedUser) throws(SCIMError) -> Input {
        var input = try input(patch.apply(to: writableDocument(user), handling: handling), activeWhenAbsent: false)
        let f = user.fields
        if f.emailType == nil, f.emailPrimary == nil, input.fields.email == f.email, input.fields.emailType == "work", input.fields.emailPrimary == true {
            (input.fields.emailType, input.fields.emailPrimary) = (nil, nil)
        }
        return input
    }

    /// The writable part of a user as a resource, for PATCH to apply its operations to.
    static func writableDocument(_ u: ProvisionedUser) -> JSONValue {
        let f = u.fields
        var members: [(String, JSONValue)] = [("userName", .string(f.username))]
        var name: [(String, JSONValue)] = []
        if let g = f.givenName { name.append(("givenName", .string(g))) }
        if let s = f.familyName { name.append(("familyName", .string(s))) }
        if !name.isEmpty { members.append(("name", .object(name))) }
        if !f.name.isEmpty { members.append(("displayName", .string(f.name))) }
        members.append(("emails", emails(f)))
        if let active = active(f) { members.append(("active", active)) }
        if let e = f.externalID { members.append(("externalId", .string(e))) }
        return .object(members)
    }
}

extension SCIMUser {
    /// How a PATCH treats an attribute of a User: the extension and `id`, `meta`, `groups`
    /// are read-only; attributes of other schemas (Entra's enterprise extension) and core
    /// attributes sisync does not keep are ignored.
    package static func handling(_ p: SCIMAttributePath) -> SCIMPatch.Handling {
        let full = (p.schema.map { $0 + ":" } ?? "") + p.attribute
        if full.caseInsensitiveCompare(extensionSchema) == .orderedSame || p.schema?.caseInsensitiveCompare(extensionSchema) == .orderedSame {
            return .readOnly
        }
        if let s = p.schema, s.caseInsensitiveCompare(schema) != .orderedSame { return .ignore }
        let a = p.attribute.lowercased()
        if readOnly.contains(a) { return .readOnly }
        return writable.contains(a) ? .write : .ignore
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
