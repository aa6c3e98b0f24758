import Foundation
import SISync

/// The endpoints that only read: they never take the run lock and never write.
extension APIService {
    /// `GET /v1/health`, without a token: up with the schema version and the last run, or
    /// down; never an error's text, which would tell anyone how the store is reached.
    func health(_ tenant: APITenant) -> HTTPResponse {
        do {
            let last = try tenant.pool.withStore { try $0.auditTrail.lastRun() }
            return Self.json(.object([
                ("status", .string("up")), ("sisync_version", .string(SisyncVersion.current)),
                ("schema_version", .int(Int(Schema.currentVersion))),
                ("last_run", last.map { r in .object([("run_id", r.runID.map { .int($0) } ?? .null), ("started_at", .string(r.startedAt)),
                                                      ("finished_at", .string(r.finishedAt)), ("outcome", .string(r.outcome.rawValue))]) } ?? .null),
            ]))
        } catch {
            log.log(LogEvent(.apiFailed, .error, "sisync-api: the health check could not read the store: \(error)", fields: tenant.fields))
            return Self.json(.object([("status", .string("down")), ("sisync_version", .string(SisyncVersion.current))]), status: 503)
        }
    }

    /// `GET /v1/users/{username}`: `sisyncctl user show --json` without its history and
    /// without the reasons of manual links (the administrators', not the applications').
    func user(_ username: String, tenant: APITenant) throws -> HTTPResponse {
        let profile = try tenant.pool.withStore { store in try store.database.readingOneSnapshot { try store.accounts.profiles(username: username).first } }
        guard let profile else { throw Problem.notFound("no user `\(username)` in sisync; usernames are unique regardless of case") }
        return Self.json(JSONShapes.user(profile, reasons: false))
    }

    /// `GET /v1/staff/{id}`: `sisyncctl staff show --json` without its history.
    /// A record the SIS renumbered (issue 33) is found under its old id too, as `staff show`
    /// finds it, and lists the ids it had (`formerly`), so that an application holding an
    /// old id can follow it.
    func staff(_ id: String, tenant: APITenant) throws -> HTTPResponse {
        let found = try tenant.pool.withStore { store in
            try store.database.readingOneSnapshot { () -> (StaffRecord, [String], [RekeyStore.Entry])? in
                var current = id
                if try store.mirror.staffMember(id: id) == nil,
                   let r = try store.rekeys.entries(entity: .staff, id: id).first(where: { $0.old == id && $0.revertedRun == nil }) {
                    current = r.new
                }
                guard let s = try store.mirror.staffMember(id: current) else { return nil }
                let formerly = try store.rekeys.entries(entity: .staff, id: current).filter { $0.new == current && $0.revertedRun == nil }
                return (s, try store.accounts.linkedUsers(staffID: current), formerly)
            }
        }
        guard let (s, users, formerly) = found else { throw Problem.notFound("no staff record `\(id)` in sisync's mirror of the SIS") }
        return Self.json(.object(JSONShapes.staff(s) + [("users", .array(users.map { .string($0) })),
                                                        ("formerly", .array(formerly.map { .object([("staff_id", .string($0.old)), ("run_id", .int($0.runID))]) }))]))
    }

    /// `GET /v1/form-access?username=&form=&student=` (or `&building=`, and `&grant=`): what
    /// `sisyncctl access-check` computes, through the same function.
    func formAccess(_ request: HTTPRequest, tenant: APITenant) throws -> HTTPResponse {
        let q = try Self.strictQuery(request, allowed: ["username", "form", "student", "building", "grant"])
        guard let username = q["username"] else { throw Problem.badRequest("query parameter `username` is missing") }
        guard let form = q["form"] else { throw Problem.badRequest("query parameter `form` is missing") }
        guard (q["student"] == nil) != (q["building"] == nil) else {
            throw Problem.badRequest("give exactly one of the query parameters `student` and `building`")
        }
        var grant: PermissionLevel?
        if let g = q["grant"] {
            guard let level = PermissionLevel(name: g) else { throw Problem.badRequest("query parameter `grant` takes none, view, edit or owner, not `\(g)`") }
            grant = level
        }
        do {
            let check = try tenant.pool.withStore {
                try $0.formPermissions.check(username: username, form: form, building: q["building"], student: q["student"], grant: grant)
            }
            return Self.json(JSONShapes.formAccess(check))
        } catch AccountError.noSuchUser {
            throw Problem.notFound("no user `\(username)` in sisync")
        } catch FormError.noSuchForm {
            throw Problem.notFound("no form `\(form)`; an administrator lists them with sisyncctl form list")
        } catch AccessError.noSuchStudent(let s) {
            throw Problem.notFound("no student `\(s)` in sisync's mirror of the SIS")
        }
    }

    /// The query's parameters: each known, none repeated (a repeated one would be read
    /// differently by different proxies and frameworks).
    static func strictQuery(_ request: HTTPRequest, allowed: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in request.query {
            guard allowed.contains(name) else {
                throw Problem.badRequest("unknown query parameter `\(name.prefix(64))`; this route takes \(allowed.joined(separator: ", "))")
            }
            guard out[name] == nil else { throw Problem.badRequest("query parameter `\(name)` is given twice") }
            guard !value.utf8.contains(0) else { throw Problem.badRequest("query parameter `\(name)` holds a NUL character (%00)") }
            out[name] = value
        }
        return out
    }

    /// A POST's JSON body with exactly these string fields.
    static func jsonBody(_ request: HTTPRequest, fields: [String]) throws -> [String: String] {
        let type = (request.header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == "application/json" else {
            throw Problem(415, "unsupported-media-type", "The body must be JSON", "send the body as `Content-Type: application/json`")
        }
        do { return try StrictJSON.readObject(request.body, fields: fields) } catch {
            throw Problem.badRequest("\(error); this route takes a JSON object with the string fields \(fields.joined(separator: ", "))")
        }
    }
}
