/// Every kind of log entry, each with a fixed `MESSAGE_ID` so that
/// `journalctl MESSAGE_ID=...` finds all entries of one kind (README has the table).
public enum LogEventType: String, Sendable, CaseIterable {
    /// A run started.
    case runStarted = "f0eafb7ea0bcef067662b55ae0806d57"
    /// A run waits for the run lock: another run or an administrator's write is applying.
    case runWaiting = "c74532ae9ae04f68bd65d473466be17d"
    /// A run starts writing its changes (one transaction).
    case runApplying = "57e978e488cebc709497385b73697d93"
    /// A run finished (applied or unchanged).
    case runFinished = "c4b92f79d5de3d503cb0d71599875a00"
    /// A run failed (fetch, parse, validation, database).
    case runFailed = "c69cd1c8173b74a992af373fb4588bd8"
    /// The guard blocked a run (R5): deactivations, removed links or revoked roles.
    case guardBlocked = "338f1c8876dc9cd2b25fde1a34a88787"
    /// A held run was approved (its plan applied as a new run) or discarded.
    case holdEnded = "95a89ad2263341e581a9e7dcbedfdeaf"
    /// The export could not be fetched.
    case fetchFailed = "18c44c64039b558d370a68350fc89415"
    /// A staff member was added.
    case staffAdded = "efef915aa4d3d5f1c0fcfcde1091b292"
    /// A staff member was deactivated.
    case staffDeactivated = "f19c341c95382c60bcff597d0d30e8e8"
    /// A staff member was reactivated.
    case staffReactivated = "e96c98f81561c5ab8e8500773e02c6c7"
    /// A staff member's field changed in the SIS (one entry per field, old and new value).
    case staffUpdated = "95a6ff93395c492cac800dc1508703a0"
    /// A field of another entity's record changed (students, households ...).
    case recordUpdated = "b236e2475ad34af7aa22baeee54f3118"
    /// Summary of record changes when a run changes more than 100 records.
    case recordsChanged = "e71f2354161f8db268d3c5b95b4850e6"
    /// An export row was skipped (R2).
    case rowSkipped = "e80e786053886b378145e286718907a9"
    /// An export file has columns sisync does not use.
    case unknownColumns = "6ac9866a9423b2a414b608e6e7bfc729"
    /// A user was linked to a staff record.
    case userLinked = "3f231ec02774076b44cb5aa0df7a8095"
    /// A user link was removed.
    case userUnlinked = "6a4777db80727195e81fd8cf965d1cf6"
    /// A user email matches two or more active staff.
    case linkAmbiguous = "9b6af51f724f9f710feddffb29bd4c0b"
    /// A calculated role was granted.
    case roleGranted = "11896ab31e16cf1b8ec9c37fc14baa6d"
    /// A calculated role was revoked.
    case roleRevoked = "edf5d8d481188601a87d4ed072b60463"
    /// The configuration was reloaded.
    case configReloaded = "f5564753de1e7cebc0994862ae82e32e"
    /// A new configuration was rejected; the old one stays.
    case configRejected = "05885ac611f3b88664b712c9dd74eb3b"
    /// Sisyncd started.
    case daemonStarted = "223ea776ee581aab3f4840d0f8b0f008"
    /// Sisyncd is stopping.
    case daemonStopping = "fe560fd3c377e08f14338c7e4d0917f0"
    /// Sisyncd found the database held by another sisyncd (or lost it) and waits as a standby.
    case daemonStandby = "fb4d902cd4ab4110905cddcb0f40e2c4"
    /// A standby sisyncd took the database over and runs a cycle at once.
    case daemonTakeover = "cbf766439b834d36a4dc1a2745eef540"
    /// A portal access code was created, reset, paired or revoked (the code is never logged).
    case portalAccess = "8c1d2f4b6a7e4e0f9b3d5a1c7e2f6b90"
    /// What a OneRoster export held that sisync left out, one entry per reason.
    case rosterNotice = "5b0e9d7c3a2f4e6b8d1c0a9f7e5d3b21"
    /// An API client wrote: a lockout by failed logins, a pairing (never a password or a code).
    case apiWrite = "aaaedfa2fb90e4d6b03731e7dc74b3db"
    /// A request failed inside sisync-api: the store did not answer, or another error.
    case apiFailed = "380a1a8aef02c68519221a826d7d9efc"
    /// An API client passed its failure limit and is refused with 429 for a while.
    case apiThrottled = "8667f4023db543bd7d66947deddce3ed"
    /// An administrator added or revoked a client of sisync-api (never its token).
    case apiClient = "28708f7cb7262d7431f386dff870bfe3"
    /// sisync-api answered a request (the access log: `[api] access_log`).
    case apiRequest = "cb1407e9f7bd1daf738f72f16e2b8df4"
    /// sisync-api started, is stopping, or cannot start.
    case apiService = "34b9d95d6fa3860e7c48d146e00d7892"
    /// A webhook delivery failed (it is tried again), or an endpoint lags past max_lag.
    case webhookFailed = "392ef8c79e19d72005f5d49c0666c9b3"
    /// A webhook endpoint was paused: failing past give_up_after, or its events were pruned.
    case webhookPaused = "a88ef4cef0aa3113a52123fb6f803aa2"
    /// An administrator resumed a webhook endpoint (sisyncctl webhook resume).
    case webhookResumed = "964af3f50618d34e8d9ed36770266288"
    /// sisyncd started or stopped delivering webhooks: it became the active one or a
    /// standby, or a reload changed the endpoints.
    case webhookDelivery = "0f9c876e8b68447297753cd606091dae"
    /// A record was carried over to the id the SIS gives it now (issue 33): both ids.
    case recordRekeyed = "2a81092a4a09dfdc9d4f69b55494fea6"
    /// A record leaving and one arriving could be the same person, but so could another:
    /// neither is carried over.
    case rekeyAmbiguous = "6d3cfdd528e110fc5e6ac8956c8fb745"

    public var messageID: String { rawValue }

    /// A short name for human-readable log lines and the README table.
    public var name: String {
        switch self {
        case .runStarted: return "run_started"
        case .runWaiting: return "run_waiting"
        case .runApplying: return "run_applying"
        case .runFinished: return "run_finished"
        case .runFailed: return "run_failed"
        case .guardBlocked: return "guard_blocked"
        case .holdEnded: return "hold_ended"
        case .fetchFailed: return "fetch_failed"
        case .staffAdded: return "staff_added"
        case .staffDeactivated: return "staff_deactivated"
        case .staffReactivated: return "staff_reactivated"
        case .staffUpdated: return "staff_updated"
        case .recordUpdated: return "record_updated"
        case .recordsChanged: return "records_changed"
        case .rowSkipped: return "row_skipped"
        case .unknownColumns: return "unknown_columns"
        case .userLinked: return "user_linked"
        case .userUnlinked: return "user_unlinked"
        case .linkAmbiguous: return "link_ambiguous"
        case .roleGranted: return "role_granted"
        case .roleRevoked: return "role_revoked"
        case .configReloaded: return "config_reloaded"
        case .configRejected: return "config_rejected"
        case .daemonStarted: return "daemon_started"
        case .daemonStopping: return "daemon_stopping"
        case .daemonStandby: return "daemon_standby"
        case .daemonTakeover: return "daemon_takeover"
        case .portalAccess: return "portal_access"
        case .rosterNotice: return "roster_notice"
        case .apiWrite: return "api_write"
        case .apiThrottled: return "api_throttled"
        case .apiFailed: return "api_failed"
        case .apiClient: return "api_client"
        case .apiRequest: return "api_request"
        case .apiService: return "api_service"
        case .webhookFailed: return "webhook_failed"
        case .webhookPaused: return "webhook_paused"
        case .webhookResumed: return "webhook_resumed"
        case .webhookDelivery: return "webhook_delivery"
        case .recordRekeyed: return "record_rekeyed"
        case .rekeyAmbiguous: return "rekey_ambiguous"
        }
    }

    public var summary: String {
        switch self {
        case .runStarted: return "a run started"
        case .runWaiting: return "a run waits for the run lock (another run or an administrator's write is applying)"
        case .runApplying: return "a run starts writing its changes in one transaction"
        case .runFinished: return "a run finished (applied or unchanged)"
        case .runFailed: return "a run failed (fetch, parse, validation, database)"
        case .guardBlocked: return "the guard blocked a run (R5)"
        case .holdEnded: return "a held run was approved (its plan applied as a new run) or discarded"
        case .fetchFailed: return "the export could not be fetched"
        case .staffAdded: return "a staff member was added"
        case .staffDeactivated: return "a staff member was deactivated"
        case .staffReactivated: return "a staff member was reactivated"
        case .staffUpdated: return "a staff member's field changed in the SIS (field, old and new value)"
        case .recordUpdated: return "a field of another entity's record changed (entity, id, field, old and new value)"
        case .recordsChanged: return "summary of record changes when a run changes more than 100 records"
        case .rowSkipped: return "an export row was skipped (R2)"
        case .unknownColumns: return "an export file has columns sisync does not use"
        case .userLinked: return "a user was linked to a staff record"
        case .userUnlinked: return "a user link was removed"
        case .linkAmbiguous: return "a user email matches two or more active staff"
        case .roleGranted: return "a calculated role was granted"
        case .roleRevoked: return "a calculated role was revoked"
        case .configReloaded: return "the configuration was reloaded"
        case .configRejected: return "a new configuration was rejected; the old one stays"
        case .daemonStarted: return "sisyncd started"
        case .daemonStopping: return "sisyncd is stopping"
        case .daemonStandby: return "sisyncd waits as a standby: another sisyncd holds the database, or this one lost its lock"
        case .daemonTakeover: return "a standby sisyncd took the database over and runs a cycle at once"
        case .portalAccess: return "A portal access code was created, reset, paired or revoked (the code itself is never logged)"
        case .apiRequest: return "sisync-api answered a request (access log: client, method, route, path, status, duration)"
        case .apiService: return "sisync-api started, is stopping, or cannot start"
        case .rosterNotice: return "a OneRoster export held rows sisync leaves out (unmapped roles, agents that are not parents, unreadable dates)"
        case .apiWrite: return "an API client wrote: an account locked by failed logins, a parent paired (never a password or a code)"
        case .apiFailed: return "a request failed inside sisync-api (the store did not answer, or another error); the client got 503 or 500"
        case .apiThrottled: return "an API client passed [api] max_failures_per_minute failed logins or pairings and gets 429 for a while"
        case .apiClient: return "an administrator added or revoked a client of sisync-api (its token is never logged)"
        case .webhookFailed: return "a webhook delivery failed and is tried again after a backoff, or an endpoint lags past max_lag (warning)"
        case .webhookPaused: return "a webhook endpoint was paused: failing past give_up_after, or its events were pruned first (critical); sisyncctl webhook resume sends again"
        case .webhookResumed: return "an administrator resumed a webhook endpoint (sisyncctl webhook resume), from where it stopped or from --from ID"
        case .webhookDelivery: return "sisyncd started or stopped delivering webhooks (it became the active sisyncd or a standby, a tenant was claimed or let go, or a reload changed the endpoints)"
        case .recordRekeyed: return "a record was carried over to the id the SIS gives it now (entity, old and new id, evidence)"
        case .rekeyAmbiguous: return "a record leaving and one arriving could be the same person, but so could another: none is carried over"
        }
    }
}
