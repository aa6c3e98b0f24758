import Foundation

/// A tenant's view of the log (`sisyncd --tenants`): every entry of its runs carries
/// `SISYNC_TENANT`, so `journalctl SISYNC_TENANT=lincoln` shows one district, and says
/// which tenant on a terminal.
public struct TenantLog: EventLog {
    public let base: EventLog
    public let tenant: String

    public init(base: EventLog, tenant: String) {
        self.base = base
        self.tenant = tenant
    }

    public func log(_ event: LogEvent) {
        var e = event
        e.fields.append(("SISYNC_TENANT", tenant))
        base.log(e)
    }
}
