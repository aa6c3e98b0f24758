import SISync

/// The discovery documents (RFC 7644 §4, RFC 7643 §5–7), accurate so that a provider can
/// rely on them: PATCH yes, filter yes (with its page limit), bulk, sort, etag and password
/// change no; `/Schemas` lists only the attributes sisync keeps.
package enum SCIMDiscovery {
    package static let groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
    static let listSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    static let configSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    static let resourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    static let schemaSchema = "urn:ietf:params:scim:schemas:core:2.0:Schema"

    static func supported(_ yes: Bool) -> JSONValue { .object([("supported", .bool(yes))]) }

    package static func serviceProviderConfig(base: String) -> JSONValue {
        .object([
            ("schemas", .array([.string(configSchema)])),
            ("documentationUri", .string("https://github.com/sisync/sisync/blob/main/docs/scim.md")),
            ("patch", supported(true)),
            ("bulk", .object([("supported", .bool(false)), ("maxOperations", .int(0)), ("maxPayloadSize", .int(0))])),
            ("filter", .object([("supported", .bool(true)), ("maxResults", .int(SCIMUserQuery.maxCount))])),
            ("changePassword", supported(false)),
            ("sort", supported(false)),
            ("etag", supported(false)),
            ("authenticationSchemes", .array([.object([
                ("type", .string("oauthbearertoken")), ("name", .string("Bearer token")),
                ("description", .string("A token of `sisyncctl api client add NAME --scopes scim`, sent as `Authorization: Bearer TOKEN`")),
                ("primary", .bool(true)),
            ])])),
            ("meta", .object([("resourceType", .string("ServiceProviderConfig")), ("location", .string(base + "/ServiceProviderConfig"))])),
        ])
    }

    package static func resourceTypes(base: String) -> [JSONValue] {
        [
            .object([
                ("schemas", .array([.string(resourceTypeSchema)])), ("id", .string("User")), ("name", .string("User")),
                ("endpoint", .string("/Users")), ("description", .string("sisync's login users")),
                ("schema", .string(SCIMUser.schema)),
                ("schemaExtensions", .array([.object([("schema", .string(SCIMUser.extensionSchema)), ("required", .bool(false))])])),
                ("meta", .object([("resourceType", .string("ResourceType")), ("location", .string(base + "/ResourceTypes/User"))])),
            ]),
            .object([
                ("schemas", .array([.string(resourceTypeSchema)])), ("id", .string("Group")), ("name", .string("Group")),
                ("endpoint", .string("/Groups")), ("description", .string("sisync's roles: calculated roles read-only, manual roles writable")),
                ("schema", .string(groupSchema)),
                ("meta", .object([("resourceType", .string("ResourceType")), ("location", .string(base + "/ResourceTypes/Group"))])),
            ]),
        ]
    }

    /// One attribute's definition (RFC 7643 §7).
    static func attribute(_ name: String, type: String = "string", multi: Bool = false, required: Bool = false, caseExact: Bool = false,
                          mutability: String = "readWrite", returned: String = "default", uniqueness: String = "none",
                          referenceTypes: [String] = [], _ description: String, sub: [JSONValue] = []) -> JSONValue {
        var m: [(String, JSONValue)] = [("name", .string(name)), ("type", .string(type)), ("multiValued", .bool(multi)),
                                        ("description", .string(description)), ("required", .bool(required))]
        if type == "string" || type == "reference" { m.append(("caseExact", .bool(caseExact))) }
        m += [("mutability", .string(mutability)), ("returned", .string(returned)), ("uniqueness", .string(uniqueness))]
        if type == "reference" { m.append(("referenceTypes", .array(referenceTypes.map { .string($0) }))) }
        if !sub.isEmpty { m.append(("subAttributes", .array(sub))) }
        return .object(m)
    }

    package static func schemas(base: String) -> [JSONValue] {
        let user: [JSONValue] = [
            attribute("userName", required: true, uniqueness: "server", "the login name, unique regardless of case; a new one renames the user (its id stays)"),
            attribute("name", type: "complex", "the user's name; sisync keeps the display name, and the given and family names as sent", sub: [
                attribute("formatted", "the display name"),
                attribute("givenName", "the given name"),
                attribute("familyName", "the family name"),
            ]),
            attribute("displayName", "the display name (sisync's user name)"),
            attribute("emails", type: "complex", multi: true, required: true,
                      "one email, unique regardless of case: the one sisync links to a staff record by; of several sent, the `work` one, else the `primary`", sub: [
                attribute("value", required: true, "the address"),
                attribute("type", "as the provider gave it (`work` for users of sisyncctl)"),
                attribute("primary", type: "boolean", "always true: sisync keeps one email"),
            ]),
            attribute("active", type: "boolean", "whether the user is approved (may log in)"),
            attribute("externalId", caseExact: true, "the provider's id for the user, kept as sent"),
            attribute("password", mutability: "writeOnly", returned: "never", "hashed as `sisyncctl user passwd` hashes it; never returned"),
        ]
        let ext: [JSONValue] = [
            attribute("staffId", mutability: "readOnly", "the staff record the user is linked to (R6), or null"),
            attribute("linkKind", mutability: "readOnly", "`auto` (by email) or `manual` (an administrator's link), or null"),
            attribute("calculatedRoles", type: "complex", multi: true, mutability: "readOnly", "roles sync computes (R7)", sub: [
                attribute("value", mutability: "readOnly", "the role"),
                attribute("schoolYear", mutability: "readOnly", "the school year of an attribute role"),
            ]),
            attribute("manualRoles", multi: true, mutability: "readOnly", "roles an administrator gave (`sisyncctl user role add`)"),
            attribute("locked", type: "boolean", mutability: "readOnly", "locked after five failed logins in a row"),
            attribute("schools", multi: true, mutability: "readOnly", "the schools an administrator listed for the user"),
        ]
        func schema(_ id: String, _ name: String, _ description: String, _ attributes: [JSONValue]) -> JSONValue {
            .object([("schemas", .array([.string(schemaSchema)])), ("id", .string(id)), ("name", .string(name)), ("description", .string(description)),
                     ("attributes", .array(attributes)),
                     ("meta", .object([("resourceType", .string("Schema")), ("location", .string(base + "/Schemas/" + id))]))])
        }
        return [
            schema(SCIMUser.schema, "User", "sisync's login users: the core attributes sisync keeps", user),
            schema(SCIMUser.extensionSchema, "sisync user", "What sisync knows of a user and a provider only reads", ext),
            schema(groupSchema, "Group", "sisync's roles: calculated roles (R7) are read-only, manual roles a provider may create, rename and fill", [
                attribute("displayName", required: true, uniqueness: "server", "the role's name, unique regardless of case"),
                attribute("members", type: "complex", multi: true, "the users who hold the role; a group of more than \(SCIMGroup.maxMembers) is refused with tooMany unless excludedAttributes=members", sub: [
                    attribute("value", mutability: "immutable", "the user's id: a member is a user (roles are held by users)"),
                    attribute("$ref", type: "reference", mutability: "immutable", referenceTypes: ["User"], "the user's location"),
                    attribute("display", mutability: "readOnly", returned: "request", "the user's userName, returned when asked for (attributes=members.display)"),
                ]),
            ]),
        ]
    }

    /// A ListResponse (RFC 7644 §3.4.2).
    package static func list(_ resources: [JSONValue], total: Int, startIndex: Int) -> JSONValue {
        .object([
            ("schemas", .array([.string(listSchema)])), ("totalResults", .int(total)), ("startIndex", .int(startIndex)),
            ("itemsPerPage", .int(resources.count)), ("Resources", .array(resources)),
        ])
    }
}
