// The HTTP API's request handling: APIService.handle (RequestPath, the router, the bearer
// check, StrictJSON bodies, strict queries, every endpoint) on a real SQLite store with one
// client, and StrictJSON.readObject on the raw body.
//
// An input is a request in lines: method, path, query (`a=1&b=2`, not decoded further),
// then headers `name: value` up to an empty line, then the body's bytes. A header line
// `auth` is replaced by the client's real bearer token, so the fuzzer reaches the
// endpoints behind it. A finding is a crash, a status outside 200–599, an answer without
// its route, or a body that is not JSON.
@testable import SISync
@testable import SISyncAPI
import FuzzSupport
import Foundation

let databasePath = scratchPath("api.db")
let store = try! RosterStore(path: databasePath)
let token = try! store.apiClients.add(name: "fuzz", scopes: Set(APIScope.allCases), actor: "fuzz", now: Date()).token
try! store.accounts.addUser(username: "ann", email: "ann@district.org", name: "Ann", approved: true, actor: "fuzz", now: Date(), normalizer: nil)
var configuration = Configuration()
configuration.database = databasePath
configuration.api.writeWait = ConfigDuration(seconds: 0.05)
configuration.api.maxFailuresPerMinute = 100_000
/// Journal entries are dropped: kept, they would grow with every input.
struct DroppedLog: EventLog { func log(_ event: LogEvent) {} }
// No long polls (503 at once): `GET /v1/events?wait=60s` would hold an input for a minute (the wait
// itself is tested in APIServiceTests).
let service = APIService(configuration: configuration, log: DroppedLog(), hashing: PasswordHashingLimit(slots: 1, waiting: 0, wait: 0),
                         longPolls: LongPollLimit(slots: 0))

func request(_ bytes: [UInt8]) -> HTTPRequest {
    var lines: [[UInt8]] = []
    var rest = bytes[...]
    var body: [UInt8] = []
    while let nl = rest.firstIndex(of: 0x0A) {
        let line = Array(rest[rest.startIndex..<nl])
        rest = rest[(nl + 1)...]
        if line.isEmpty && lines.count >= 3 { body = Array(rest); rest = []; break }
        lines.append(line)
    }
    if !rest.isEmpty { lines.append(Array(rest)) }
    func text(_ i: Int) -> String { i < lines.count ? String(decoding: lines[i], as: UTF8.self) : "" }
    let query = text(2).split(separator: "&").map { pair -> (name: String, value: String) in
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
    }
    let headers = lines.dropFirst(3).map { line -> (name: String, value: String) in
        let l = String(decoding: line, as: UTF8.self)
        if l == "auth" { return ("authorization", "Bearer " + token) }
        let parts = l.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        return (parts[0].lowercased(), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
    }
    return HTTPRequest(method: text(0), path: text(1), query: query, headers: headers, body: body)
}

fuzzMain { data in
    let bytes = Array(data)
    let r = request(bytes)
    _ = try? StrictJSON.readObject(r.body, fields: ["username", "password"])
    let response = service.handle(r)
    guard (200...599).contains(response.status) else { finding("status \(response.status)") }
    guard response.route != nil else { finding("no route on the response") }
    guard (try? JSONSerialization.jsonObject(with: Data(response.body))) != nil else {
        finding("a body that is not JSON: \(String(decoding: response.body, as: UTF8.self))")
    }
}
