import Foundation
import SISync

/// The applications' HTTP API (issue 30, docs/api.md): routes each request, checks its bearer
/// token and scope, and answers from the store. The transport calls `handle` on many
/// worker threads at once; each request borrows a store of its own from the tenant's pool.
/// Reads never wait for a run and never write; writes take the run lock (R9), waiting at
/// most `[api] write_wait`, then answer 503 with `Retry-After`.
package final class APIService: HTTPHandler, @unchecked Sendable {
    package let settings: APISettings
    /// Keyed by tenant name; the one store of a single-store process under "".
    let tenants: [String: APITenant]
    let servesTenants: Bool
    let log: EventLog
    package let hashing: PasswordHashingLimit
    /// How many `GET /v1/events?wait=` may be parked at once (none holds a thread).
    package let longPolls: LongPollLimit
    /// Told of each 429 (the client's name, the tenant, what failed): the metrics' hook.
    package let onThrottle: @Sendable (_ client: String, _ tenant: String?, _ kind: APIFailureKind) -> Void
    /// What `route` says for a request no route matched (for the access log and metrics).
    package static let unmatchedRoute = "unmatched"

    /// `tenants`, when given, are the tenants of `--tenants DIR`, served under `/t/NAME/…`
    /// with their own stores and clients; `configuration` then gives only `[api]`.
    package init(configuration: Configuration, tenants: [(name: String, configuration: Configuration)]? = nil, log: EventLog,
                 hashing: PasswordHashingLimit = PasswordHashingLimit(), longPolls: LongPollLimit = LongPollLimit(),
                 onThrottle: @escaping @Sendable (_ client: String, _ tenant: String?, _ kind: APIFailureKind) -> Void = { _, _, _ in }) {
        settings = configuration.api
        self.log = log
        self.hashing = hashing
        self.longPolls = longPolls
        self.onThrottle = onThrottle
        if let tenants {
            servesTenants = true
            self.tenants = Dictionary(tenants.map { ($0.name, APITenant(name: $0.name, configuration: $0.configuration, longPolls: longPolls)) }, uniquingKeysWith: { a, _ in a })
        } else {
            servesTenants = false
            self.tenants = ["": APITenant(name: nil, configuration: configuration, longPolls: longPolls)]
        }
    }

    package func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch respond(request) {
        case .answer(let r): return r
        case .later(let pending): return pending.wait()
        }
    }

    /// The answer, or for a long poll with nothing new yet the promise of one: the server
    /// parks the connection and the tenant's `LongPollWaiter` answers it.
    package func respond(_ request: HTTPRequest) -> HTTPOutcome {
        var context = RequestContext(now: Date())
        let response: HTTPResponse
        do {
            response = try dispatch(request, &context)
        } catch let e as SCIMError {
            response = Self.scimResponse(e)
        } catch {
            if Self.isSCIM(request.path) {
                let p = error as? Problem ?? failed(error, context)
                response = Self.scimResponse(SCIMError(problem: p))
            } else {
                response = answer(to: error, context)
            }
        }
        if let later = context.later { return .later(later) }
        return .answer(stamped(response, context))
    }

    /// An error as its problem document, with the route and client of the request.
    func answer(to error: any Error, _ context: RequestContext) -> HTTPResponse {
        stamped((error as? Problem ?? failed(error, context)).response, context)
    }

    /// The response with what the access log and the metrics take from it.
    func stamped(_ response: HTTPResponse, _ context: RequestContext) -> HTTPResponse {
        var r = response
        r.route = context.route
        r.clientName = context.client?.name
        return r
    }

    /// What one request has found out so far.
    struct RequestContext: Sendable {
        let now: Date
        var route = APIService.unmatchedRoute
        var tenant: APITenant?
        var client: APIClient?
        /// Set by an endpoint that answers later (a parked long poll): its answer is then
        /// this, already stamped, and the response `dispatch` returns is not used.
        var later: HTTPPendingAnswer?
    }

    private func dispatch(_ request: HTTPRequest, _ context: inout RequestContext) throws -> HTTPResponse {
        let path: RequestPath
        do { path = try RequestPath(request.path, tenants: servesTenants) } catch {
            switch error {
            case .notAbsolute: throw Problem.notFound("the path must start with /; see docs/api.md for the routes")
            case .badEncoding: throw Problem.badRequest("the path has a bad percent-encoding or is not UTF-8 once decoded")
            case .controlCharacter: throw Problem.badRequest("the path holds a control character once decoded")
            }
        }
        let tenant: APITenant
        if servesTenants {
            guard let name = path.tenant, let t = tenants[name] else {
                throw Problem.notFound("this sisync-api serves several tenants: paths start with /t/NAME/ (a tenant of its --tenants directory)")
            }
            tenant = t
        } else {
            tenant = tenants[""]!
        }
        context.tenant = tenant
        let matching = Route.all.compactMap { r in r.match(path.segments).map { (r, $0) } }
        guard !matching.isEmpty else { throw Problem.notFound("no route \(Self.shown(request.path)); the routes are in docs/api.md") }
        let prefix = servesTenants ? "/t/{tenant}" : ""
        guard let (route, parameters) = matching.first(where: { $0.0.method == request.method }) else {
            context.route = prefix + matching[0].0.template
            let allowed = Set(matching.map(\.0.method)).sorted().joined(separator: ", ")
            throw Problem(405, "method-not-allowed", "Method not allowed", "\(context.route) answers \(allowed) only",
                          headers: [("Allow", allowed)])
        }
        context.route = prefix + route.template
        if let scope = route.scope {
            let client = try authenticate(request, tenant: tenant, now: context.now)
            context.client = client
            guard client.scopes.contains(scope) else {
                throw Problem(403, "scope-missing", "The token lacks a scope",
                              "\(context.route) needs the scope `\(scope.rawValue)`; client \(client.name) has \(APIScope.list(client.scopes)). An administrator adds a client with it: sisyncctl api client add NAME --scopes \(scope.rawValue)")
            }
        }
        switch route.endpoint {
        case .health: return health(tenant)
        case .user: return try user(parameters["username"]!, tenant: tenant)
        case .staff: return try staff(parameters["id"]!, tenant: tenant)
        case .logins: return try login(request, context)
        case .pairings: return try pair(request, context)
        case .formAccess: return try formAccess(request, tenant: tenant)
        case .events: return try events(request, &context)
        case .scimConfig, .scimResourceTypes, .scimResourceType, .scimSchemas, .scimSchema, .scimUsers, .scimUser, .scimGroups, .scimGroup,
             .scimUsersSearch, .scimGroupsSearch, .scimRootSearch:
            return try scim(route.endpoint, request, parameters, context)
        }
    }

    /// The client of the bearer token. No token and a wrong one take the same path (a digest
    /// and a lookup) and get the same answer.
    private func authenticate(_ request: HTTPRequest, tenant: APITenant, now: Date) throws -> APIClient {
        let token = Self.bearerToken(request.header("authorization") ?? "")
        guard let client = try tenant.clients.client(token: token, now: now, pool: tenant.pool) else { throw Problem.unauthorized }
        writeLastUse(tenant, now: now, force: false)
        return client
    }

    /// The token of `Bearer TOKEN` (the scheme in any case, blanks around the token
    /// dropped), or "" for any other header. Byte by byte: every request passes here, and
    /// lower-casing and trimming through Foundation showed in its profile.
    static func bearerToken(_ header: String) -> String {
        let bytes = header.utf8
        let scheme = "bearer ".utf8
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return "" }
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        var rest = bytes.dropFirst(scheme.count)
        while let b = rest.first, blank(b) { rest = rest.dropFirst() }
        while let b = rest.last, blank(b) { rest = rest.dropLast() }
        return String(Substring(rest))
    }

    /// Writes the clients' last use when a minute has passed, never waiting: when a run holds
    /// the run lock, the uses wait in memory for the next time.
    private func writeLastUse(_ tenant: APITenant, now: Date, force: Bool) {
        let due = tenant.clients.usesDue(now: now, force: force)
        guard !due.isEmpty else { return }
        do {
            try tenant.pool.withStore { store in
                let lock = try RunLock.acquire(on: store, holder: "sisync-api pid \(getpid()) (last use of API clients)", wait: 0)
                try withExtendedLifetime(lock) { try store.apiClients.recordUse(due) }
            }
        } catch {
            tenant.clients.putBack(due)
        }
    }

    /// Writes what last uses are kept in memory (at shutdown).
    package func flushLastUse() {
        for t in tenants.values { writeLastUse(t, now: Date(), force: true) }
    }

    /// Runs a write under the run lock (R9), waiting at most `[api] write_wait` for a run.
    func underRunLock<T>(_ store: RosterStore, client: APIClient, _ body: () throws -> T) throws -> T {
        let wait = settings.writeWait.seconds
        let lock: RunLock?
        do {
            lock = try RunLock.acquire(on: store, holder: "sisync-api pid \(getpid()) for \(client.actor)", wait: wait)
        } catch StoreError.runInProgress(_, let holder, _) {
            throw Problem.busy(retryAfter: Int(wait.rounded(.up)),
                               "\(holder) is writing to the store and did not finish within [api] write_wait (\(ConfigDuration(seconds: wait))); nothing was written: send the request again after Retry-After seconds")
        }
        return try withExtendedLifetime(lock) { try body() }
    }

    /// The problem for an error no endpoint expected: the journal gets the error, the client
    /// only that the store did not answer (or an internal error).
    func failed(_ error: any Error, _ context: RequestContext) -> Problem {
        var fields = context.tenant?.fields ?? []
        if let c = context.client { fields.append(("SISYNC_API_CLIENT", c.name)) }
        log.log(LogEvent(.apiFailed, .error, "sisync-api: \(context.route) failed: \(error)", fields: fields))
        if error is StoreError || error is PostgresError { return .storeUnavailable }
        return Problem(500, "internal", "Internal error", "the request failed inside sisync-api; its journal (MESSAGE_ID of api_failed) says why")
    }

    /// A path as a problem's detail shows it: at most 200 characters, control characters escaped.
    static func shown(_ path: String) -> String {
        var out = ""
        for u in path.unicodeScalars.prefix(200) {
            if u.value < 0x20 || u.value == 0x7F { out += String(format: "\\x%02x", u.value) } else { out.unicodeScalars.append(u) }
        }
        return "`" + out + (path.unicodeScalars.count > 200 ? "…" : "") + "`"
    }

    static func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(value.rendered(pretty: false).utf8))
    }
}
