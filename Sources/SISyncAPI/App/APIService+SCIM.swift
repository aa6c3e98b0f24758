import Foundation
import SISync

/// SCIM 2.0 under `/scim/v2` (issue 32, docs/scim.md): discovery and Users, for identity
/// providers with the scope `scim`. The parsing and mapping are values in `SCIM/`; the
/// store's work is `AccountStore`'s (`provision`, `replaceProvisioned`, `removeUser`).
/// Writes hold the run lock (R9) and are in the change log as `scim:CLIENT`.
extension APIService {
    /// Whether a path is SCIM's (`/scim/v2/…` or `/t/NAME/scim/v2/…`): its errors are RFC 7644
    /// documents, not RFC 9457 problems.
    static func isSCIM(_ path: String) -> Bool {
        path.hasPrefix("/scim/v2") || (path.hasPrefix("/t/") && path.dropFirst(3).drop { $0 != "/" }.hasPrefix("/scim/v2"))
    }

    static func scimJSON(_ value: JSONValue, status: Int = 200, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/scim+json")] + headers, body: Array(value.rendered(pretty: false).utf8))
    }

    static func scimResponse(_ e: SCIMError) -> HTTPResponse { scimJSON(e.document, status: e.status, headers: e.headers) }

    /// The transport's own refusals (a body past the limit, a malformed request, too many
    /// waiting, stopping) are SCIM error documents on SCIM's paths: a provider logs a
    /// document's `detail`, and one that is not SCIM's is only an opaque status to it.
    package func transportAnswer(status: Int, title: String, detail: String, path: String) -> HTTPResponse {
        guard Self.isSCIM(path) else { return TransportProblem.response(status, title, detail) }
        return Self.scimResponse(SCIMError(status, nil, detail))
    }

    func scim(_ endpoint: Route.Endpoint, _ request: HTTPRequest, _ parameters: [String: String], _ context: RequestContext) throws -> HTTPResponse {
        guard let client = context.client, let tenant = context.tenant else { throw Problem.unauthorized }
        let base = scimBase(request, tenant)
        switch endpoint {
        case .scimConfig:
            return Self.scimJSON(SCIMDiscovery.serviceProviderConfig(base: base))
        case .scimResourceTypes, .scimSchemas:
            let all = endpoint == .scimSchemas ? SCIMDiscovery.schemas(base: base) : SCIMDiscovery.resourceTypes(base: base)
            return Self.scimJSON(SCIMDiscovery.list(all, total: all.count, startIndex: 1))
        case .scimResourceType, .scimSchema:
            let all = endpoint == .scimSchema ? SCIMDiscovery.schemas(base: base) : SCIMDiscovery.resourceTypes(base: base)
            let id = parameters["id"]!
            guard let found = all.first(where: { $0[scim: "id"]?.stringValue == id }) else { throw SCIMError.notFound("no \(endpoint == .scimSchema ? "schema" : "resource type") `\(id)` in sisync") }
            return Self.scimJSON(found)
        case .scimGroups, .scimGroup:
            return try groups(endpoint, request, parameters["id"], client: client, tenant: tenant, base: base, now: context.now)
        case .scimUsers:
            if request.method == "POST" { return try createUser(request, client: client, tenant: tenant, base: base, now: context.now) }
            return try listUsers(SCIMListRequest(query: request), tenant: tenant, base: base)
        case .scimUsersSearch:
            return try listUsers(SCIMListRequest(searchBody: try Self.scimBody(request)), tenant: tenant, base: base)
        case .scimGroupsSearch:
            return try listGroups(SCIMListRequest(searchBody: try Self.scimBody(request)), tenant: tenant, base: base)
        case .scimRootSearch:
            return try searchAll(SCIMListRequest(searchBody: try Self.scimBody(request)), tenant: tenant, base: base)
        default:
            let id = parameters["id"]!
            switch request.method {
            case "GET":
                let projection = try SCIMProjection(attributes: request.queryValue("attributes"), excludedAttributes: request.queryValue("excludedAttributes"))
                let resource = try tenant.pool.withStore { store -> JSONValue? in
                    guard let u = try store.accounts.provisionedUser(id: id) else { return nil }
                    return try userResource(u, store: store, base: base, projection: projection)
                }
                guard let resource else { throw Self.noUser(id) }
                return Self.scimJSON(resource)
            case "DELETE":
                let username = try tenant.pool.withStore { store in
                    try underRunLock(store, client: client) {
                        guard let u = try store.accounts.provisionedUser(id: id) else { throw Self.noUser(id) }
                        try store.accounts.removeUser(u.fields.username, actor: Self.scimActor(client), now: context.now)
                        return u.fields.username
                    }
                }
                logWrite("user \(username) removed", client, tenant, username)
                return HTTPResponse(status: 204)
            default:
                return try updateUser(id, request, client: client, tenant: tenant, base: base, now: context.now)
            }
        }
    }

    static func scimActor(_ client: APIClient) -> String { "scim:" + client.name }

    static func noUser(_ id: String) -> SCIMError {
        .notFound("no user with the id `\(id)` in sisync (ids are sisync's, in each user's `id`: find one with filter=userName eq \"…\")")
    }

    /// Where this tenant's SCIM resources are: the scheme (`X-Forwarded-Proto` from a
    /// proxy, else https when sisync-api has TLS), the `Host` the client asked, the path.
    private func scimBase(_ request: HTTPRequest, _ tenant: APITenant) -> String {
        let scheme = request.header("x-forwarded-proto").map { $0.lowercased() == "https" ? "https" : "http" } ?? (settings.tlsCertificate != nil ? "https" : "http")
        let host = request.header("host").flatMap { h in h.allSatisfy { $0.isLetter || $0.isNumber || ".-:[]".contains($0) } ? h : nil } ?? "localhost"
        return "\(scheme)://\(host)" + (tenant.name.map { "/t/\($0)" } ?? "") + "/scim/v2"
    }

    private func userResource(_ u: ProvisionedUser, store: RosterStore, base: String, projection: SCIMProjection) throws -> JSONValue {
        var facts = SCIMUser.Facts()
        if projection.mentionsExtension {
            let f = try store.accounts.provisionedFacts(u.fields.username)
            facts = SCIMUser.Facts(calculatedRoles: f.calculatedRoles, manualRoles: f.manualRoles, schools: f.schools)
        }
        return projection.apply(SCIMUser.resource(u, facts: facts, location: base + "/Users/" + Self.pathSegment(u.id)))
    }

    /// An id as one path segment (`/`, `%`, spaces and the like are encoded); sisync's ids
    /// (hex digits, `calculated-Staff`) are returned as they are without Foundation's
    /// CharacterSet, which cost a lookup more than its queries.
    static func pathSegment(_ s: String) -> String {
        if s.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 || $0 == 95 || $0 == 46 }) { return s }
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/%?#")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// `GET /Users` and `POST /Users/.search`: one page of the users the filter matches.
    private func listUsers(_ list: SCIMListRequest, tenant: APITenant, base: String) throws -> HTTPResponse {
        let query = try SCIMUserQuery(filter: list.filter, startIndex: list.startIndex, count: list.count)
        let projection = try SCIMProjection(attributes: list.attributes, excludedAttributes: list.excludedAttributes)
        let (total, resources) = try tenant.pool.withStore { store in
            let (total, users) = try store.accounts.provisionedUsers(matching: query.filter, offset: query.startIndex - 1, limit: query.count)
            return (total, try users.map { try userResource($0, store: store, base: base, projection: projection) })
        }
        return Self.scimJSON(SCIMDiscovery.list(resources, total: total, startIndex: query.startIndex))
    }

    /// `POST /.search` (RFC 7644 §3.4.3 at the root): Users, then Groups, paged as one list.
    /// A filter is applied to each resource type it can be: one whose attributes it does not
    /// name (userName for Groups, displayName for Users) contributes nothing; a filter
    /// neither type takes is 400 `invalidFilter`, as for one type.
    private func searchAll(_ list: SCIMListRequest, tenant: APITenant, base: String) throws -> HTTPResponse {
        let paging = try SCIMUserQuery(filter: nil, startIndex: list.startIndex, count: list.count)
        let projection = try SCIMProjection(attributes: list.attributes, excludedAttributes: list.excludedAttributes)
        var userFilter: UserFilter?, groupFilter: SCIMFilter?, usersTaken = true, groupsTaken = true
        if let text = list.filter, !text.trimmingCharacters(in: .whitespaces).isEmpty {
            let parsed = try SCIMFilter.parse(text)
            let forUsers = Result { () throws(SCIMError) in try SCIMUserQuery.translate(parsed) }
            let forGroups = Result { () throws(SCIMError) in try SCIMGroup.check(parsed) }
            if case .failure(let e) = forUsers, case .failure = forGroups { throw e }
            userFilter = try? forUsers.get()
            usersTaken = userFilter != nil
            groupsTaken = (try? forGroups.get()) != nil
            groupFilter = parsed
        }
        let offset = paging.startIndex - 1
        let (total, resources) = try tenant.pool.withStore { store -> (Int, [JSONValue]) in
            var total = 0, out: [JSONValue] = []
            if usersTaken {
                let (n, users) = try store.accounts.provisionedUsers(matching: userFilter, offset: offset, limit: paging.count)
                total = n
                out = try users.map { try userResource($0, store: store, base: base, projection: projection) }
            }
            if groupsTaken {
                let groups = try matchingGroups(store, groupFilter)
                let skip = max(0, offset - total)
                out += try groups.dropFirst(skip).prefix(paging.count - out.count).map { try groupResource(store, $0, base: base, projection: projection) }
                total += groups.count
            }
            return (total, out)
        }
        return Self.scimJSON(SCIMDiscovery.list(resources, total: total, startIndex: paging.startIndex))
    }

    /// A SCIM body: JSON (`application/scim+json` or `application/json`), read into a tree.
    static func scimBody(_ request: HTTPRequest) throws -> JSONValue {
        let type = (request.header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == "application/scim+json" || type == "application/json" else {
            throw SCIMError(415, nil, "send the body as `Content-Type: application/scim+json` (or application/json)")
        }
        return try SCIMJSON.read(request.body)
    }

    /// The hash of a provider's password, as `sisyncctl user passwd` makes it, on one of the
    /// hashing slots the logins use.
    private func passwordHash(_ password: String?) throws -> String? {
        guard let password else { return nil }
        do { try PasswordHash.validate(password) } catch { throw SCIMError.invalidValue("`password`: \(error)") }
        guard let hash = try hashing.run({ try PasswordHash.make(password) }) else {
            throw Problem.busy(retryAfter: 1, "every password-hashing slot of sisync-api is busy; send the request again after Retry-After seconds")
        }
        return hash
    }

    /// An account error as SCIM says it: a clash is 409 `uniqueness`.
    private static func scimError(_ error: AccountError) -> SCIMError {
        switch error {
        case .usernameTaken, .emailTaken: return SCIMError(409, .uniqueness, "\(error)")
        case .noSuchUser(let u): return noUser(u)
        case .noSuchStaff, .invalid: return .invalidValue("\(error)")
        }
    }

    private func createUser(_ request: HTTPRequest, client: APIClient, tenant: APITenant, base: String, now: Date) throws -> HTTPResponse {
        let input = try SCIMUser.input(try Self.scimBody(request))
        let hash = try passwordHash(input.password)
        let normalizer = EmailNormalizer(aliases: tenant.configuration.emailDomainAliases)
        let resource = try tenant.pool.withStore { store in
            let user = try underRunLock(store, client: client) {
                do {
                    return try store.accounts.provision(input.fields, passwordHash: hash, client: client.name, actor: Self.scimActor(client), now: now, normalizer: normalizer)
                } catch let e as AccountError { throw Self.scimError(e) }
            }
            return try userResource(user, store: store, base: base, projection: try SCIMProjection(attributes: nil, excludedAttributes: nil))
        }
        logWrite("user \(input.fields.username) created", client, tenant, input.fields.username)
        let location = resource[scim: "meta"]?[scim: "location"]?.stringValue ?? base
        return Self.scimJSON(resource, status: 201, headers: [("Location", location)])
    }

    /// PUT (the body is the whole writable user) and PATCH (operations applied to the
    /// stored user): both end as the writable fields, written by `replaceProvisioned`; a
    /// different `userName` renames the user (its `id` stays).
    private func updateUser(_ id: String, _ request: HTTPRequest, client: APIClient, tenant: APITenant, base: String, now: Date) throws -> HTTPResponse {
        let body = try Self.scimBody(request)
        let patch = request.method == "PATCH" ? try SCIMPatch(body) : nil
        func fields(of user: ProvisionedUser) throws -> SCIMUser.Input {
            try patch.map { p throws(SCIMError) in try SCIMUser.applying(p, to: user) } ?? SCIMUser.input(body)
        }
        // The password (slow to hash) is hashed before the run lock is taken; the fields are
        // computed again under it, from the user as it is then.
        let first = try tenant.pool.withStore { try $0.accounts.provisionedUser(id: id) }
        guard let first else { throw Self.noUser(id) }
        let hash = try passwordHash(try fields(of: first).password)
        let normalizer = EmailNormalizer(aliases: tenant.configuration.emailDomainAliases)
        let resource = try tenant.pool.withStore { store in
            let user = try underRunLock(store, client: client) {
                guard let current = try store.accounts.provisionedUser(id: id) else { throw Self.noUser(id) }
                let input = try fields(of: current)
                do {
                    return try store.accounts.replaceProvisioned(current.fields.username, with: input.fields, passwordHash: hash, actor: Self.scimActor(client),
                                                                 now: now, normalizer: normalizer)
                } catch let e as AccountError { throw Self.scimError(e) }
            }
            return try userResource(user, store: store, base: base, projection: try SCIMProjection(attributes: request.queryValue("attributes"),
                                                                                                   excludedAttributes: request.queryValue("excludedAttributes")))
        }
        let username = resource[scim: "userName"]?.stringValue
        logWrite("user \(username ?? id) changed", client, tenant, username)
        return Self.scimJSON(resource)
    }

    fileprivate func logWrite(_ what: String, _ client: APIClient, _ tenant: APITenant, _ username: String?) {
        log.log(LogEvent(.apiWrite, .notice, "\(what) through \(Self.scimActor(client))",
                         fields: tenant.fields + [("SISYNC_API_CLIENT", client.name)] + (username.map { [("SISYNC_USERNAME", $0)] } ?? [])))
    }
}

extension SCIMError {
    /// A problem of the API's (401, 403, 503, …) as a SCIM error document.
    init(problem p: Problem) {
        self.init(p.status, nil, p.detail, headers: p.headers)
    }
}

/// SCIM Groups: sisync's roles (`AccountStore+RoleGroups`). Calculated roles are read-only
/// (a write is 400 `mutability`); manual roles are created, renamed and filled by the
/// provider. Members are read only when asked for, and only for groups of at most
/// `SCIMGroup.maxMembers`.
extension APIService {
    /// A group as a resource; its members only when asked for, and only for a group of at
    /// most `SCIMGroup.maxMembers` (else 400 `tooMany`).
    fileprivate func groupResource(_ store: RosterStore, _ g: RoleGroup, base: String, projection: SCIMProjection) throws -> JSONValue {
        var members: [RoleGroupMember]?
        if projection.includes(SCIMAttributePath(attribute: "members")) {
            let (count, found) = try store.accounts.roleGroupMembers(g, limit: SCIMGroup.maxMembers)
            guard let found else {
                throw SCIMError(400, .tooMany, "role \(g.name) has \(count) members, more than the \(SCIMGroup.maxMembers) a group lists; ask with excludedAttributes=members")
            }
            members = found
        }
        return projection.apply(SCIMGroup.resource(g, members: members, display: projection.requests("members", "display"), base: base, segment: Self.pathSegment))
    }

    /// The groups a (checked) filter matches, all for nil: they are few, filtered in memory.
    fileprivate func matchingGroups(_ store: RosterStore, _ filter: SCIMFilter?) throws -> [RoleGroup] {
        try store.accounts.roleGroups().filter { g in
            filter.map { SCIMPatch.matches($0, .object([("id", .string(g.id)), ("displayName", .string(g.name)),
                                                        ("externalId", g.externalID.map { .string($0) } ?? .null)])) } ?? true
        }
    }

    /// `GET /Groups` and `POST /Groups/.search`.
    fileprivate func listGroups(_ list: SCIMListRequest, tenant: APITenant, base: String) throws -> HTTPResponse {
        let query = try SCIMUserQuery(filter: nil, startIndex: list.startIndex, count: list.count)
        let projection = try SCIMProjection(attributes: list.attributes, excludedAttributes: list.excludedAttributes)
        var filter: SCIMFilter?
        if let f = list.filter, !f.trimmingCharacters(in: .whitespaces).isEmpty {
            filter = try SCIMFilter.parse(f)
            try SCIMGroup.check(filter!)
        }
        let (total, resources) = try tenant.pool.withStore { store in
            let all = try matchingGroups(store, filter)
            let page = all.dropFirst(query.startIndex - 1).prefix(query.count)
            return (all.count, try page.map { try groupResource(store, $0, base: base, projection: projection) })
        }
        return Self.scimJSON(SCIMDiscovery.list(resources, total: total, startIndex: query.startIndex))
    }

    fileprivate func groups(_ endpoint: Route.Endpoint, _ request: HTTPRequest, _ id: String?, client: APIClient, tenant: APITenant, base: String,
                            now: Date) throws -> HTTPResponse {
        let projection = try SCIMProjection(attributes: request.queryValue("attributes"), excludedAttributes: request.queryValue("excludedAttributes"))
        func render(_ store: RosterStore, _ g: RoleGroup) throws -> JSONValue { try groupResource(store, g, base: base, projection: projection) }
        func problem(_ error: any Error) -> any Error {
            switch error {
            case RoleGroupError.exists(let n): return SCIMError(409, .uniqueness, "\(RoleGroupError.exists(n))")
            case RoleGroupError.calculated(let n): return SCIMError.mutability("\(RoleGroupError.calculated(n))")
            case AccountError.noSuchUser(let id):
                // RFC 7644 §3.12: a value "not compatible with the operation or attribute
                // type" is invalidValue; noTarget is for a path that matches nothing.
                return SCIMError.invalidValue("no user with the id `\(id)`: a member is a user of sisync (its `id`), since roles are held by users")
            case let e as AccountError: return SCIMError.invalidValue("\(e)")
            default: return error
            }
        }
        guard let id else {
            if request.method == "POST" {
                let change = try SCIMGroup.input(try Self.scimBody(request))
                let resource = try tenant.pool.withStore { store in
                    let g = try underRunLock(store, client: client) {
                        do {
                            return try store.accounts.createManualRole(change.name!, externalID: change.externalID ?? nil, members: change.replaceMembers ?? [],
                                                                       actor: Self.scimActor(client), now: now)
                        } catch { throw problem(error) }
                    }
                    return try render(store, g)
                }
                logWrite("role \(change.name!) created", client, tenant, nil)
                return Self.scimJSON(resource, status: 201, headers: [("Location", resource[scim: "meta"]?[scim: "location"]?.stringValue ?? base)])
            }
            return try listGroups(SCIMListRequest(query: request), tenant: tenant, base: base)
        }
        let noGroup = SCIMError.notFound("no group `\(id)` in sisync (GET /Groups lists the roles)")
        switch request.method {
        case "GET":
            let resource = try tenant.pool.withStore { store -> JSONValue? in
                guard let g = try store.accounts.roleGroup(id: id) else { return nil }
                return try render(store, g)
            }
            guard let resource else { throw noGroup }
            return Self.scimJSON(resource)
        case "DELETE":
            try tenant.pool.withStore { store in
                try underRunLock(store, client: client) {
                    guard let g = try store.accounts.roleGroup(id: id) else { throw noGroup }
                    do { try store.accounts.removeManualRole(g, actor: Self.scimActor(client), now: now) } catch { throw problem(error) }
                }
            }
            logWrite("role group \(id) removed", client, tenant, nil)
            return HTTPResponse(status: 204)
        default:
            let body = try Self.scimBody(request)
            let change = request.method == "PATCH" ? try SCIMGroup.change(try SCIMPatch(body)) : try SCIMGroup.input(body)
            let resource = try tenant.pool.withStore { store -> JSONValue? in
                let g = try underRunLock(store, client: client) {
                    guard let g = try store.accounts.roleGroup(id: id) else { throw noGroup }
                    do {
                        return try store.accounts.updateManualRole(g, name: change.name, externalID: change.externalID, add: change.add, remove: change.remove,
                                                                   replaceMembers: change.replaceMembers,
                                                                   actor: Self.scimActor(client), now: now)
                    } catch { throw problem(error) }
                }
                // A PATCH answers 204 unless attributes are asked for (RFC 7644 §3.5.2): a
                // large group's members are never read to answer a change to them.
                return request.method == "PATCH" && request.queryValue("attributes") == nil ? nil : try render(store, g)
            }
            logWrite("role group \(id) changed", client, tenant, nil)
            return resource.map { Self.scimJSON($0) } ?? HTTPResponse(status: 204)
        }
    }
}
