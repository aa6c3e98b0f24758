import Foundation
import SISync

/// `sisync-bench webhooks [--count N] [--database URI]`: the change feed's webhook delivery
/// to a local receiver (issue 31: at least 1,000 events/s over one kept-alive connection,
/// memory flat while a backlog drains). A `user import` of N users writes N `user.added`
/// events (the body size a first import's events have); one `WebhookDeliverer` then sends
/// them all, and the benchmark reports events/s, connections and the RSS as it drains.
struct WebhookBenchmark {
    let count: Int
    let uri: String?
    let passwordFile: String?

    func run() throws {
        let root = NSTemporaryDirectory() + "sisync-bench-webhooks-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let receiver = try WebhookReceiver()
        let secret = root + "/whsec"
        try "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let schema = "sisync_bench_webhooks_\(getpid())"
        let store = uri.map { "database = \($0)\ndatabase_schema = \(schema)\n" + (passwordFile.map { "database_password_file = \($0)\n" } ?? "") }
            ?? "database = \(root)/bench.db\n"
        let text = "[sync]\n\(store)school_year = 2026-2027\n[source]\nurl = /nonexistent/\n[webhook.bench]\nurl = \(receiver.url)\nsecret_file = \(secret)\n"
        let configuration = try Configuration.parse(text: text, path: root + "/sisync.conf")
        let roster = try RosterStore(configuration: configuration)
        defer { if uri != nil { try? roster.database.execute("DROP SCHEMA \(PostgresSchema.quoted(schema)) CASCADE") } }
        let deliverer = WebhookDeliverer(configuration: configuration, log: SilentLog())
        deliverer.deliverPending(store: roster, for: 1)  // the endpoint starts at the (empty) head
        let users = (1...count).map { i in "u\(i),first.last.\(i)@families.example.org,yes,,," }.joined(separator: "\n")
        let rows = try UserImport.parse(Array(("username,email,approved,student_id,household_id,donor_id\n" + users + "\n").utf8), file: "users.csv")
        _ = try roster.accounts.importUsers(rows, file: "users.csv", actor: "bench", now: Date())
        let head = Int(try roster.events.head())
        print("webhooks: \(head) events pending on \(uri == nil ? "SQLite" : "PostgreSQL"), receiver \(receiver.url)")
        // The RSS at each quarter of the backlog: flat when the deliverer holds a page at a time.
        nonisolated(unsafe) var samples: [Double] = []
        let sampler = Thread {
            var next = 1
            while next <= 4 {
                if receiver.counts.requests * 4 >= head * next { samples.append(residentMB()); next += 1 } else { usleep(2000) }
            }
        }
        let started = DispatchTime.now().uptimeNanoseconds
        sampler.start()
        deliverer.deliverPending(store: roster, for: 3600)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let (requests, connections) = receiver.counts
        let rate = Double(requests) / seconds
        print(String(format: "  %d events delivered in %.2f s: %.0f events/s (target >= 1000: %@) over %d connection(s)",
                     requests, seconds, rate, rate >= 1000 ? "met" : "MISSED", connections))
        print("  RSS at 25/50/75/100% of the backlog: " + samples.map { String(format: "%.0f MB", $0) }.joined(separator: ", "))
        print(String(format: "  a first import's 1.7M events would drain in %.0f min at this rate", 1_700_000 / rate / 60))
    }
}

/// The process's resident memory now (VmRSS).
func residentMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }
    return 0
}
