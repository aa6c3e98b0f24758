import Foundation
import SISync

// The change feed's webhook endpoints (`[webhook.NAME]`, docs/events.md): where each one's
// delivery stands, and resuming one that was paused.

/// `webhook list`.
struct WebhookListCommand: ControlSubcommand {
    static let name = "webhook list"
    static let help = """
        Lists each [webhook.NAME] endpoint: its URL, the last event id it acknowledged, its lag (the age of the \
        oldest event it has not acknowledged, and how many ids it is behind), its last error, since when it \
        fails, and whether it is paused.
        """
    static let example = "sisyncctl webhook list"
    let call: CommandCall

    struct Row {
        var settings: WebhookSettings
        var state: WebhookState?
        var behind: Int64
        /// Seconds; nil when no event waits for it (shown as `-`, JSON null).
        var lag: Int?
    }

    func run() throws -> Int32 {
        let c = try rulesConfiguration(args)
        let store = try openStore(args)
        let head = try store.events.head()
        let now = Date()
        // Measured as the metrics file measures it: one lag, whoever shows it.
        let rows = try c.webhooks.values.sorted { $0.name < $1.name }.map { w -> Row in
            let m = try WebhookEndpointMetrics.measure(w, store: store, head: head, now: now)
            return Row(settings: w, state: m.state, behind: m.metrics.lagEvents, lag: m.oldestPending.map { _ in Int(m.metrics.lagSeconds) })
        }
        emit(args, json: {
            .array(rows.map { r in
                .object([
                    ("name", .string(r.settings.name)), ("url", .string(DisplayedURL.redacting(in: r.settings.url))),
                    ("delivered_through", r.state.map { .int($0.deliveredThrough) } ?? .null), ("delivered_at", .string(r.state?.deliveredAt)),
                    ("behind", .int(r.behind)), ("lag_seconds", r.lag.map { .int(Int64($0)) } ?? .null),
                    ("last_error", .string(r.state?.lastError)), ("failing_since", .string(r.state?.failingSince)),
                    ("paused_at", .string(r.state?.pausedAt)),
                ])
            })
        }, text: {
            guard !rows.isEmpty else { return "no [webhook.NAME] endpoints in the configuration\n" }
            var t = TextTable(["endpoint", "url", "delivered", "behind", "lag", "failing since", "paused", "last error"], whole: ["failing since", "paused"])
            for r in rows {
                t.add([r.settings.name, DisplayedURL.redacting(in: r.settings.url), r.state.map { String($0.deliveredThrough) } ?? "not yet",
                       String(r.behind), r.lag.map { "\($0) s" } ?? "-", r.state?.failingSince.map(LocalTime.text(stored:)) ?? "-",
                       r.state?.pausedAt.map(LocalTime.text(stored:)) ?? "no", r.state?.lastError.map { PrintableText.line($0) } ?? ""])
            }
            return t.rendered()
        })
        return 0
    }
}

/// `webhook resume NAME [--from ID]`.
struct WebhookResumeCommand: ControlSubcommand {
    static let name = "webhook resume"
    static let arguments: [CommandArgument] = [.required("NAME")]
    static let options: [CommandOption] = [.value("from", "ID")]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Resumes a paused or failing [webhook.NAME] endpoint with a fresh backoff: from where it stopped, or with \
        --from ID from that event id on (a replay sends events again; a cursor older than what is kept is exit 65). \
        The running sisyncd sends at its next pass.
        """
    static let example = "sisyncctl webhook resume gradebook --from 1042"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        if let from = args.value("from"), (Int64(from) ?? 0) < 1 { return "--from takes an event id (1 or more), not `\(from)`" }
        return nil
    }
    let call: CommandCall

    func run() throws -> Int32 {
        let c = try rulesConfiguration(args)
        let name = words[0]
        guard c.webhooks[name] != nil else { throw WebhookError.noSuchEndpoint(name, configured: c.webhooks.keys.sorted()) }
        let from = args.value("from").flatMap { Int64($0) }
        let store = try openStore(args)
        let head = try store.events.head()
        // A replay from before what is kept is refused, as `events --after` is.
        if let from { _ = try store.events.events(after: from - 1, limit: 1) }
        let state = try store.webhooks.resume(name, from: from, head: head)
        log.log(LogEvent(.webhookResumed, .notice, "\(actor) resumed webhook \(name) after event \(state.deliveredThrough)",
                         fields: [("SISYNC_WEBHOOK", name), ("SISYNC_ACTOR", actor)]))
        emit(args, json: { .object([("name", .string(name)), ("delivered_through", .int(state.deliveredThrough))]) },
             text: { "webhook \(name) resumed: the next event sent is the first after \(state.deliveredThrough)\n" })
        return 0
    }
}
