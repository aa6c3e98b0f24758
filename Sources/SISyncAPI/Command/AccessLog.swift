import SISync

/// `[api] access_log`: which answers go to the journal (or stderr), one entry each with the
/// `api_request` MESSAGE_ID. `errors` by default: journald drops entries past its rate limit
/// (about 330 a second), and would drop sisyncd's with them. An entry names the client, the
/// method, the route's template and the path without its query string; never a body, a
/// password, a token or a code.
package struct AccessLog: Sendable {
    package let setting: APIAccessLog
    package let log: EventLog

    package init(_ setting: APIAccessLog, log: EventLog) {
        self.setting = setting
        self.log = log
    }

    package func record(_ e: HTTPServer.Exchange) {
        guard let event = Self.event(for: e, setting: setting) else { return }
        log.log(event)
    }

    /// The entry for one answer, or nil when the setting leaves it out.
    package static func event(for e: HTTPServer.Exchange, setting: APIAccessLog) -> LogEvent? {
        switch setting {
        case .off: return nil
        case .errors where e.status < 400: return nil
        default: break
        }
        let method = LoggedPath.text(String(e.method.prefix(16)))
        let path = LoggedPath.text(e.target)
        let route = e.route ?? "-"
        let ms = String(format: "%.1f", e.duration * 1000)
        let who = e.clientName.map { "\(e.client) (\($0))" } ?? "\(e.client)"
        let priority: LogPriority = e.status >= 500 ? .warning : e.status >= 400 ? .notice : .info
        return LogEvent(.apiRequest, priority, "\(method) \(path) \(e.status) in \(ms) ms from \(who)", fields: [
            ("SISYNC_API_CLIENT", e.client.description), ("SISYNC_API_CLIENT_NAME", e.clientName ?? "-"), ("SISYNC_HTTP_METHOD", method),
            ("SISYNC_HTTP_ROUTE", route), ("SISYNC_HTTP_PATH", path), ("SISYNC_HTTP_STATUS", String(e.status)), ("SISYNC_HTTP_DURATION_MS", ms),
        ])
    }
}
