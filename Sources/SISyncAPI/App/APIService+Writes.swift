import Foundation
import SISync

/// The endpoints that may write: logins (a failure counted, an account locked) and pairings.
/// Every write holds the run lock and is in the change log as `api:NAME`.
extension APIService {
    /// A client's failures a minute before 429; never fewer than the lockout's five, so that
    /// one user's mistakes meet their lockout before any 429 (issue 30).
    var failureLimit: Int { max(settings.maxFailuresPerMinute, AccountStore.lockoutThreshold) }

    /// 429 when the client has had its failures of this kind in the last minute (counted in
    /// the store, so every process over it agrees); a warning in the journal once a minute.
    func checkThrottle(_ store: RosterStore, _ context: RequestContext, kind: APIFailureKind) throws {
        guard let client = context.client, let tenant = context.tenant else { return }
        let (count, oldest) = try store.apiClients.recentFailures(client: client.name, kind: kind, now: context.now)
        guard count >= failureLimit else { return }
        let retry = Int((oldest ?? context.now).addingTimeInterval(APIClientStore.failureWindow).timeIntervalSince(context.now).rounded(.up))
        let what = kind == .login ? "failed logins" : "failed pairings"
        if tenant.shouldWarn(client.name + "/" + kind.rawValue, now: context.now) {
            log.log(LogEvent(.apiThrottled, .warning, "API client \(client.name) had \(count) \(what) within a minute ([api] max_failures_per_minute = \(settings.maxFailuresPerMinute)); refusing its \(kind == .login ? "logins" : "pairings") with 429 for now",
                             fields: tenant.fields + [("SISYNC_API_CLIENT", client.name)]))
        }
        onThrottle(client.name, tenant.name, kind)
        throw Problem.throttled(retryAfter: retry, "client \(client.name) had \(count) \(what) within the last minute, the most [api] max_failures_per_minute allows; try again after Retry-After seconds, and check whether the application is being used to guess")
    }

    /// `POST /v1/logins` `{"username", "password"}`: `accepted`, `rejected`, `locked` or
    /// `unapproved`, by the same function as `sisyncctl user login`.
    func login(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let body = try Self.jsonBody(request, fields: ["username", "password"])
        guard let client = context.client, let tenant = context.tenant else { throw Problem.unauthorized }
        let username = body["username"]!
        var lockedNow = false
        let outcome = try tenant.pool.withStore { store in
            try checkThrottle(store, context, kind: .login)
            return try store.accounts.login(username, password: body["password"]!, actor: client.actor, now: context.now, hashing: { verify in
                guard let matches = hashing.run(verify) else {
                    throw Problem.busy(retryAfter: 1, "every password-hashing slot of sisync-api is busy (\(hashing.slots) at once, so that logins never starve the reads); send the login again after Retry-After seconds")
                }
                return matches
            }, writing: { failed, write in
                try underRunLock(store, client: client) {
                    lockedNow = !(try write()).isEmpty
                    if failed { try store.apiClients.recordFailure(client: client.name, kind: .login, now: context.now) }
                }
            })
        }
        if lockedNow {
            log.log(LogEvent(.apiWrite, .notice, "user \(username) locked after \(AccountStore.lockoutThreshold) failed logins in a row through \(client.actor)",
                             fields: tenant.fields + [("SISYNC_API_CLIENT", client.name), ("SISYNC_USERNAME", username)]))
        }
        let result: String
        switch outcome {
        case .accepted: result = "accepted"
        case .wrongPassword: result = "rejected"
        case .locked: result = "locked"
        case .notApproved: result = "unapproved"
        }
        return Self.json(.object([("result", .string(result))]))
    }

    /// `POST /v1/pairings` `{"username", "code"}`: pairs the parent with the code's student
    /// and grants Parent, as `sisyncctl access pair`. A wrong code and an inactive student's
    /// code are one problem (422); the code is never logged.
    func pair(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let body = try Self.jsonBody(request, fields: ["username", "code"])
        guard let client = context.client, let tenant = context.tenant else { throw Problem.unauthorized }
        let username = body["username"]!
        let settings = tenant.configuration.roleSettings(on: context.now)
        do {
            let (student, roles) = try tenant.pool.withStore { store in
                try checkThrottle(store, context, kind: .pairing)
                return try underRunLock(store, client: client) {
                    do {
                        return try store.pairParent(username: username, typedCode: body["code"]!, roles: settings, actor: client.actor, now: context.now)
                    } catch AccessError.badCode {
                        try store.apiClients.recordFailure(client: client.name, kind: .pairing, now: context.now)
                        throw AccessError.badCode
                    } catch AccountError.noSuchUser {
                        // Answered as a wrong code and counted against the client, so that a
                        // client holding only `pair` cannot learn which usernames exist, nor
                        // probe for them faster than its failure limit allows.
                        try store.apiClients.recordFailure(client: client.name, kind: .pairing, now: context.now)
                        throw AccessError.badCode
                    }
                }
            }
            log.log(LogEvent(.apiWrite, .notice, "user \(username) paired with student \(student) through \(client.actor)",
                             fields: tenant.fields + [("SISYNC_API_CLIENT", client.name), ("SISYNC_USERNAME", username), ("SISYNC_STUDENT_ID", student)]))
            return Self.json(.object([("username", .string(username)), ("student_id", .string(student)),
                                      ("roles_granted", .array(roles.granted.map { .string($0.label) }))]))
        } catch AccessError.badCode {
            throw Problem(422, "pairing-failed", "The code does not pair",
                          "the code pairs with no active student for this user (or there is no such user); check it against the family's letter (codes look like 7KQ4-M9TX). Five failures by a user within 15 minutes pause that user's pairing for 15 minutes")
        } catch AccessError.throttled(let until) {
            let retry = Timestamp.parse(until).map { Int($0.timeIntervalSince(context.now).rounded(.up)) } ?? 900
            throw Problem.throttled(retryAfter: retry, "user \(username) had \(AccessCodeStore.throttleAttempts) failed pairing attempts within 15 minutes; pairing is paused for this user until \(until)")
        } catch AccessError.notApproved {
            throw Problem(422, "user-not-approved", "The user is not approved",
                          "user \(username) is not approved yet; an administrator approves the account (sisyncctl user approve), then pair again")
        }
    }
}
