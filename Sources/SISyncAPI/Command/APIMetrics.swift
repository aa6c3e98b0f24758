import Foundation
import SISync

/// What sisync-api counts for Prometheus: requests by route template and status, and one
/// latency histogram. Written as a text file beside sisyncd's (`[sync] metrics_file`'s
/// directory, named `sisync-api.prom`) for node_exporter's textfile collector, so that both
/// services are scraped the same way and the API needs no unauthenticated endpoint.
package final class APIMetrics: @unchecked Sendable {
    /// Upper bounds in seconds: a read answers in milliseconds, a login hashes a password
    /// (a quarter second or so), a write may wait `[api] write_wait` for a run.
    package static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private let lock = NSLock()
    private var requests: [String: [Int: Int]] = [:]
    private var bucketCounts = [Int](repeating: 0, count: APIMetrics.buckets.count)
    private var count = 0
    private var sum = 0.0
    private var throttled: [String: Int] = [:]
    private let started = Date()

    package init() {}

    package func record(_ e: HTTPServer.Exchange) {
        lock.withLock {
            requests[e.route ?? "-", default: [:]][e.status, default: 0] += 1
            for (i, bound) in Self.buckets.enumerated() where e.duration <= bound { bucketCounts[i] += 1 }
            count += 1
            sum += e.duration
        }
    }

    /// A client passed `[api] max_failures_per_minute` (of logins or of pairings).
    package func recordThrottle(_ kind: String) {
        lock.withLock { throttled[kind, default: 0] += 1 }
    }

    /// The file's text. `refused` and `open` are the server's connection counts.
    package func text(refusedConnections: Int = 0, openConnections: Int = 0) -> String {
        lock.withLock {
            var out = "# HELP sisync_api_up 1 while sisync-api runs; the file's age says when it last wrote.\n# TYPE sisync_api_up gauge\nsisync_api_up 1\n"
            out += "# HELP sisync_api_start_time_seconds When this sisync-api started (Unix time).\n# TYPE sisync_api_start_time_seconds gauge\n"
            out += "sisync_api_start_time_seconds \(Int64(started.timeIntervalSince1970))\n"
            out += "# HELP sisync_api_requests_total Requests answered, by route template (- when no route matched) and status.\n# TYPE sisync_api_requests_total counter\n"
            for route in requests.keys.sorted() {
                for status in requests[route]!.keys.sorted() {
                    out += "sisync_api_requests_total{route=\"\(Self.escape(route))\",status=\"\(status)\"} \(requests[route]![status]!)\n"
                }
            }
            out += "# HELP sisync_api_request_duration_seconds From the request line to the answer.\n# TYPE sisync_api_request_duration_seconds histogram\n"
            for (i, bound) in Self.buckets.enumerated() {
                out += "sisync_api_request_duration_seconds_bucket{le=\"\(bound)\"} \(bucketCounts[i])\n"
            }
            out += "sisync_api_request_duration_seconds_bucket{le=\"+Inf\"} \(count)\n"
            out += "sisync_api_request_duration_seconds_sum \(sum)\nsisync_api_request_duration_seconds_count \(count)\n"
            out += "# HELP sisync_api_throttled_total Requests refused with 429 because their client passed [api] max_failures_per_minute, by kind (login, pairing).\n# TYPE sisync_api_throttled_total counter\n"
            for kind in ["login", "pairing"] { out += "sisync_api_throttled_total{kind=\"\(kind)\"} \(throttled[kind] ?? 0)\n" }
            out += "# HELP sisync_api_connections_refused_total Connections refused by [api] max_connections or max_connections_per_client.\n# TYPE sisync_api_connections_refused_total counter\n"
            out += "sisync_api_connections_refused_total \(refusedConnections)\n"
            out += "# HELP sisync_api_connections Connections open now.\n# TYPE sisync_api_connections gauge\nsisync_api_connections \(openConnections)\n"
            return out
        }
    }

    /// `sisync-api.prom` in the directory of `[sync] metrics_file`; nil when that is unset.
    package static func path(beside metricsFile: String?) -> String? {
        guard let metricsFile else { return nil }
        return (metricsFile as NSString).deletingLastPathComponent.isEmpty ? "sisync-api.prom"
            : ((metricsFile as NSString).deletingLastPathComponent as NSString).appendingPathComponent("sisync-api.prom")
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
