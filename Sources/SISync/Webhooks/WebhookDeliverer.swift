import Foundation

/// Posts the change feed's events to the `[webhook.NAME]` endpoints (docs/events.md,
/// "Webhooks"): one event per request, in event order per endpoint, signed per Standard
/// Webhooks, at least once (an event is recorded as delivered only after its 2xx). A
/// failure or a timeout is tried again after `RetrySchedule`'s wait; an endpoint failing
/// past `give_up_after` is paused, with a critical journal entry, until `sisyncctl webhook
/// resume`. Each endpoint has its own libcurl handle, so a backlog goes over one kept-alive
/// connection; a page of at most 100 events is held at a time, so memory stays flat.
///
/// The daemon runs it through `WebhookDelivery` (a store of its own, on a thread of its own:
/// `WebhookService` while the daemon is the active one, and each tenant's), and `sisyncd
/// --once` calls `deliverPending(for:)`.
public final class WebhookDeliverer {
    public let configuration: Configuration
    let log: EventLog
    let environment: [String: String]
    let credentialStore: String
    let clock: () -> Date
    /// A share in 0...1 for the full jitter (random; tests fix it).
    let share: () -> Double
    /// The first retry's ceiling (1 s; tests shorten it).
    let firstRetry: Double
    /// How long one request may take.
    let timeout: Double
    private var endpoints: [Endpoint] = []
    /// Journal fields naming the tenant, when it delivers for one.
    let fields: [(String, String)]
    /// Asked while a request is in flight: true ends it at once (the event is sent again
    /// later, with the same webhook-id). The process's stop; a reload lets it finish.
    public var abortInFlight: @Sendable () -> Bool = { false }
    /// Where each endpoint's delivery stands (`WebhookEndpointMetrics`), after a pass at most
    /// every `metricsEvery` seconds, at once when one was paused, and at the end of
    /// `deliverPending`: for the metrics file.
    public var onMetrics: (([WebhookEndpointMetrics]) -> Void)?
    public var metricsEvery: Double = 5
    private var lastMetrics = Date.distantPast
    /// Passes made so far (a test checks that an idle deliverer waits instead of spinning).
    private(set) var passes = 0
    /// The feed's head when the last pass began: what the wait after it waits past.
    private var seenHead: Int64 = 0

    /// One endpoint as the loop holds it: settings, signing keys, its connection and when
    /// it may be tried next.
    final class Endpoint {
        let settings: WebhookSettings
        let signature: WebhookSignature?
        let problem: String?
        let transfer: CurlTransfer?
        var nextAttempt = Date.distantPast
        var lagging = false

        init(settings: WebhookSettings, signature: WebhookSignature?, problem: String?) {
            self.settings = settings
            self.signature = signature
            self.problem = problem
            transfer = try? CurlTransfer()
        }
    }

    public init(configuration: Configuration, log: EventLog, environment: [String: String] = ProcessInfo.processInfo.environment,
                credentialStore: String = ExportFetcher.credentialStore, fields: [(String, String)] = [],
                clock: @escaping () -> Date = Date.init, share: @escaping () -> Double = { Double.random(in: 0...1) },
                firstRetry: Double = 1, timeout: Double = 10) {
        self.configuration = configuration
        self.log = log
        self.environment = environment
        self.credentialStore = credentialStore
        self.fields = fields
        self.clock = clock
        self.share = share
        self.firstRetry = firstRetry
        self.timeout = timeout
        endpoints = configuration.webhooks.values.sorted { $0.name < $1.name }.map(load)
    }

    /// The endpoint with its secret read (once: a rotation is a reload, README).
    private func load(_ settings: WebhookSettings) -> Endpoint {
        let path = ExportFetcher.credentialPath(settings.secretFile, environment: environment, store: credentialStore)
        guard let data = FileManager.default.contents(atPath: path) else {
            return Endpoint(settings: settings, signature: nil, problem: "\(WebhookError.secret(endpoint: settings.name, path: path, reason: "missing or unreadable"))")
        }
        do {
            let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map(String.init)
            return Endpoint(settings: settings, signature: try WebhookSignature(secretLines: lines), problem: nil)
        } catch {
            return Endpoint(settings: settings, signature: nil, problem: "\(WebhookError.secret(endpoint: settings.name, path: path, reason: error.description))")
        }
    }

    /// Delivers until `stop` says so; between passes it waits for a new event (on
    /// PostgreSQL the commit's `NOTIFY`) or for the next retry, at most a second, so a stop
    /// is seen within one.
    /// Returns too when the store's connection is lost (PostgreSQL): the caller connects again.
    public func run(store: RosterStore, until stop: StopSignal) {
        prepare(store)
        while !stop.isStopping && store.isConnected {
            let next = pass(store: store, stop: stop)
            reportMetrics(store: store, force: false)
            if stop.isStopping { return }
            wait(store: store, until: next, stop: { stop.isStopping })
        }
    }

    /// `sisyncd --once`: what is pending, for at most `seconds` (`[events] once_deliver`).
    public func deliverPending(store: RosterStore, for seconds: Double, stop: StopSignal? = nil) {
        prepare(store)
        let deadline = clock().addingTimeInterval(seconds)
        defer { reportMetrics(store: store, force: true) }
        while clock() < deadline, !(stop?.isStopping ?? false) {
            let next = pass(store: store, stop: stop)
            guard let next else { return }  // caught up everywhere
            wait(store: store, until: min(next, deadline), stop: { stop?.isStopping ?? false })
        }
    }

    /// Hands `onMetrics` where each endpoint stands, when due (or `force`).
    private func reportMetrics(store: RosterStore, force: Bool) {
        guard let onMetrics, force || clock().timeIntervalSince(lastMetrics) >= metricsEvery else { return }
        let now = clock()
        guard let head = try? store.events.head(),
              let all = try? endpoints.map({ try WebhookEndpointMetrics.measure($0.settings, store: store, head: head, now: now).metrics }) else { return }
        lastMetrics = now
        onMetrics(all)
    }

    /// The store is the deliverer's own (it waits on it). On PostgreSQL its commits, one per
    /// acknowledged event, do not wait for the server's disk: a crash of sisyncd loses
    /// nothing the server took (at most the in-flight event is sent again), and only a crash
    /// of the server itself could send a few more again; at one flush per event a backlog
    /// would drain at the disk's pace.
    private func prepare(_ store: RosterStore) {
        store.events.settings = configuration.events
        if let pg = store.database as? PostgresDatabase { try? pg.execute("SET synchronous_commit TO off") }
        reportSecretProblems()
    }

    private func reportSecretProblems() {
        for e in endpoints {
            if let problem = e.problem { log.log(LogEvent(.webhookFailed, .error, problem, fields: fields + [("SISYNC_WEBHOOK", e.settings.name)])) }
        }
    }

    /// Until `next` (at most a second), or until an event newer than the last pass saw
    /// commits. Not past an endpoint's own cursor: one that is paused or waiting for its
    /// retry is behind the head, and waiting for "newer than its cursor" would not wait.
    private func wait(store: RosterStore, until next: Date?, stop: () -> Bool) {
        let left = min(1, max(0, (next ?? clock().addingTimeInterval(1)).timeIntervalSince(clock())))
        if next != nil && left == 0 { return }
        _ = try? store.events.waitForEvents(after: seenHead, timeout: left, stopping: stop)
    }

    /// One pass over the endpoints: each that is due gets its pending events, in order, until
    /// one fails. Returns when the next attempt is due (now, when an endpoint has more), or
    /// nil when every endpoint is caught up or paused.
    @discardableResult
    func pass(store: RosterStore, stop: StopSignal?) -> Date? {
        passes += 1
        if let head = try? store.events.head() { seenHead = head }
        var next: Date?
        for e in endpoints where e.signature != nil {
            if stop?.isStopping ?? false { return nil }
            do {
                if let due = try deliver(e, store: store, stop: stop) { next = min(next ?? due, due) }
            } catch {
                log.log(LogEvent(.webhookFailed, .warning, "webhook \(e.settings.name): cannot read or record its delivery: \(error); trying again shortly",
                                 fields: fields + [("SISYNC_WEBHOOK", e.settings.name)]))
                next = min(next ?? clock(), clock().addingTimeInterval(firstRetry))
            }
        }
        return next
    }

    /// Sends the endpoint's pending events (a page at a time) until it is caught up, fails
    /// or is stopped. Returns when to come back (nil: caught up or paused).
    private func deliver(_ e: Endpoint, store: RosterStore, stop: StopSignal?) throws -> Date? {
        let name = e.settings.name
        let head = try store.events.head()
        var state = try store.webhooks.start(name, head: head)
        if state.pausedAt != nil { return nil }
        let now = clock()
        if e.nextAttempt > now { return e.nextAttempt }
        while true {
            if stop?.isStopping ?? false { return now }
            let page: EventPage
            do { page = try store.events.events(after: state.deliveredThrough, limit: 100, filter: e.settings.types) } catch let gone as EventFeedError {
                // Pruned before it was delivered: never silently skipped.
                try store.webhooks.failed(name, error: "\(gone)", at: Timestamp.format(clock()))
                try store.webhooks.pause(name, at: Timestamp.format(clock()))
                lastMetrics = .distantPast
                log.log(LogEvent(.webhookPaused, .critical, "webhook \(name) paused: \(gone); resume it with sisyncctl webhook resume \(name) --from ID after the receiver re-read the state",
                                 fields: fields + [("SISYNC_WEBHOOK", name)]))
                return nil
            }
            checkLag(e, page: page)
            if page.events.isEmpty {
                if page.next > state.deliveredThrough { try store.webhooks.delivered(name, through: page.next, at: Timestamp.format(clock())) }
                return nil
            }
            for event in page.events {
                if stop?.isStopping ?? false { return clock() }
                if let failure = post(event, to: e) {
                    // Cut by a stop: not the receiver's failure; sent again after the restart.
                    if abortInFlight() { return clock() }
                    return try failed(e, store: store, error: failure)
                }
                try store.webhooks.delivered(name, through: event.id, at: Timestamp.format(clock()))
                state.deliveredThrough = event.id
                e.nextAttempt = .distantPast
            }
            if page.events.count < 100 && page.next > state.deliveredThrough {
                try store.webhooks.delivered(name, through: page.next, at: Timestamp.format(clock()))
                state.deliveredThrough = page.next
            }
        }
    }

    /// Posts one event; nil when the endpoint acknowledged it (2xx), else why not.
    func post(_ event: FeedEvent, to e: Endpoint) -> String? {
        guard let transfer = e.transfer, let signature = e.signature else { return "libcurl could not make a handle" }
        let body = Array(event.json.utf8)
        // Signed anew on every attempt: receivers refuse old timestamps, and a backlog is old.
        let timestamp = Int64(clock().timeIntervalSince1970)
        let headers = [
            "Content-Type: application/json",
            "webhook-id: \(event.id)",
            "webhook-timestamp: \(timestamp)",
            "webhook-signature: \(signature.header(id: String(event.id), timestamp: timestamp, body: body))",
        ]
        do {
            let answer = try transfer.post(url: e.settings.url, headers: headers, body: body, timeoutSeconds: timeout, abort: abortInFlight)
            if (200..<300).contains(answer.status) { return nil }
            let said = PrintableText.line(String(decoding: answer.head, as: UTF8.self), limit: 200)
            if (300..<400).contains(answer.status) { return "HTTP \(answer.status): redirects are not followed; give the endpoint's final URL" }
            return "HTTP \(answer.status)" + (said.isEmpty ? "" : ": " + said)
        } catch {
            return "\(error)"
        }
    }

    /// Records a failed attempt and when to try again; pauses an endpoint failing past
    /// `give_up_after`.
    private func failed(_ e: Endpoint, store: RosterStore, error: String) throws -> Date? {
        let name = e.settings.name
        let now = clock()
        try store.webhooks.failed(name, error: error, at: Timestamp.format(now))
        guard let state = try store.webhooks.state(name) else { return nil }
        let since = state.failingSince.flatMap(Timestamp.parse) ?? now
        if now.timeIntervalSince(since) >= e.settings.giveUpAfter.seconds {
            try store.webhooks.pause(name, at: Timestamp.format(now))
            lastMetrics = .distantPast
            log.log(LogEvent(.webhookPaused, .critical, "webhook \(name) paused: failing since \(state.failingSince ?? Timestamp.format(now)) ([webhook.\(name)] give_up_after = \(e.settings.giveUpAfter)), last: \(error); events after \(state.deliveredThrough) wait for sisyncctl webhook resume \(name)",
                             fields: fields + [("SISYNC_WEBHOOK", name)]))
            return nil
        }
        let schedule = RetrySchedule(first: firstRetry, cap: e.settings.retryMax.seconds)
        e.nextAttempt = now.addingTimeInterval(schedule.wait(after: state.failures, share: share()))
        log.log(LogEvent(.webhookFailed, .warning, "webhook \(name): event \(state.deliveredThrough + 1) not delivered (\(error)); attempt \(state.failures + 1) at \(Timestamp.format(e.nextAttempt))",
                         fields: fields + [("SISYNC_WEBHOOK", name)]))
        return e.nextAttempt
    }

    /// A warning when the oldest undelivered event is older than `max_lag` (once, until the
    /// endpoint catches up again).
    private func checkLag(_ e: Endpoint, page: EventPage) {
        guard let oldest = page.events.first, let at = Timestamp.parse(oldest.at) else { e.lagging = false; return }
        let lag = clock().timeIntervalSince(at)
        if lag > e.settings.maxLag.seconds, !e.lagging {
            e.lagging = true
            log.log(LogEvent(.webhookFailed, .warning, "webhook \(e.settings.name) lags: event \(oldest.id) is \(Int(lag)) s old ([webhook.\(e.settings.name)] max_lag = \(e.settings.maxLag))",
                             fields: fields + [("SISYNC_WEBHOOK", e.settings.name)]))
        } else if lag <= e.settings.maxLag.seconds {
            e.lagging = false
        }
    }
}
