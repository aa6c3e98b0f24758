import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Syslog priorities, as journald's PRIORITY field uses them.
public enum LogPriority: Int, Sendable, Comparable {
    case emergency = 0, alert, critical, error, warning, notice, info, debug
    public static func < (a: LogPriority, b: LogPriority) -> Bool { a.rawValue < b.rawValue }
    public var label: String {
        switch self {
        case .emergency: return "emerg"
        case .alert: return "alert"
        case .critical: return "crit"
        case .error: return "error"
        case .warning: return "warning"
        case .notice: return "notice"
        case .info: return "info"
        case .debug: return "debug"
        }
    }
}

/// One log entry: a sentence for people plus structured fields for `journalctl` queries
/// (`SISYNC_RUN_ID`, `SISYNC_STAFF_ID`, ...). Secrets never go into either.
public struct LogEvent: Sendable {
    public var type: LogEventType
    public var priority: LogPriority
    public var message: String
    public var fields: [(String, String)]

    /// URLs in the message and the fields are redacted here (`DisplayedURL`), so that no
    /// sink, the journal, stderr or a test's memory, gets a source URL's secret.
    public init(_ type: LogEventType, _ priority: LogPriority, _ message: String, fields: [(String, String)] = []) {
        self.type = type
        self.priority = priority
        self.message = DisplayedURL.redacting(in: message)
        // A run logs an entry per changed record: copy the fields only when one holds a URL.
        self.fields = fields.contains { DisplayedURL.mentionsURL($0.1) } ? fields.map { ($0.0, DisplayedURL.redacting(in: $0.1)) } : fields
    }
}

/// Where log entries go. The daemon uses stderr lines or the journal; tests collect them.
public protocol EventLog: Sendable {
    func log(_ event: LogEvent)
}

/// One human-readable line per entry on stderr, for terminals and non-journald setups.
public struct StderrLog: EventLog {
    public let minimum: LogPriority
    public init(minimum: LogPriority = .info) { self.minimum = minimum }

    public func log(_ event: LogEvent) {
        guard event.priority <= minimum else { return }
        var line = "sisync[\(event.priority.label)] \(event.message)"
        let ids = event.fields.filter { $0.0 == "SISYNC_RUN_ID" || $0.0 == "SISYNC_TENANT" }.map { ($0.0 == "SISYNC_RUN_ID" ? "run=" : "tenant=") + $0.1 }
        if !ids.isEmpty { line += " (" + ids.joined(separator: " ") + ")" }
        line += "\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(STDERR_FILENO, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
                off += n
            }
        }
    }
}

/// Collects entries in memory (tests, and `--json` commands that report problems).
public final class MemoryLog: EventLog, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [LogEvent] = []
    public init() {}
    public func log(_ event: LogEvent) { lock.lock(); stored.append(event); lock.unlock() }
    public var events: [LogEvent] { lock.lock(); defer { lock.unlock() }; return stored }
}
