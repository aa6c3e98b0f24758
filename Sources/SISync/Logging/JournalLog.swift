import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Log entries in journald's native protocol: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
/// MESSAGE_ID and the event's own fields (`SISYNC_RUN_ID`, ...), so that `journalctl`
/// can select by them. Used when stderr is connected to the journal (`JOURNAL_STREAM`).
public final class JournalLog: EventLog, @unchecked Sendable {
    public static let defaultSocket = "/run/systemd/journal/socket"
    private let socket: UnixDatagramSocket
    private let identifier: String
    private let minimum: LogPriority
    private let fallback: StderrLog?

    init(socket: UnixDatagramSocket, identifier: String, minimum: LogPriority, fallbackToStderr: Bool = true) {
        self.socket = socket
        self.identifier = identifier
        self.minimum = minimum
        fallback = fallbackToStderr ? StderrLog(minimum: minimum) : nil
    }

    /// The journal for a command run from a terminal (`sisyncctl`): administrators'
    /// changes are journaled like the daemon's, whatever stderr is. Nil without a journal
    /// (`$SISYNC_JOURNAL_SOCKET` replaces the socket for tests).
    public static func direct(environment: [String: String] = ProcessInfo.processInfo.environment,
                              identifier: String, minimum: LogPriority = .info) -> JournalLog? {
        let path = environment["SISYNC_JOURNAL_SOCKET"] ?? defaultSocket
        guard FileManager.default.fileExists(atPath: path), let socket = try? UnixDatagramSocket(address: path) else { return nil }
        return JournalLog(socket: socket, identifier: identifier, minimum: minimum, fallbackToStderr: false)
    }

    /// The journal when stderr is journald's stream (its `dev:inode` equals
    /// `$JOURNAL_STREAM`), else nil. `$SISYNC_JOURNAL_SOCKET` replaces the socket (tests).
    public static func forStderr(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 identifier: String = "sisyncd", minimum: LogPriority = .info) -> JournalLog? {
        guard let stream = environment["JOURNAL_STREAM"] else { return nil }
        var st = stat()
        guard fstat(STDERR_FILENO, &st) == 0, stream == "\(st.st_dev):\(st.st_ino)" else { return nil }
        guard let socket = try? UnixDatagramSocket(address: environment["SISYNC_JOURNAL_SOCKET"] ?? defaultSocket) else { return nil }
        return JournalLog(socket: socket, identifier: identifier, minimum: minimum)
    }

    public func log(_ event: LogEvent) {
        guard event.priority <= minimum else { return }
        do { try socket.send(Self.entry(event, identifier: identifier)) } catch {
            // The journal is gone (restarting?): the line still reaches stderr, which journald reads.
            fallback?.log(event)
        }
    }

    /// One entry in the native format: `KEY=value` lines; a value with a newline as
    /// `KEY`, newline, its length (64-bit little endian), the bytes, newline.
    static func entry(_ event: LogEvent, identifier: String) -> [UInt8] {
        var out: [UInt8] = []
        func field(_ key: String, _ value: String) {
            let name = key.uppercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard !name.isEmpty, !name.hasPrefix("_") else { return }
            out += Array(name.utf8)
            let bytes = Array(value.utf8)
            if bytes.contains(0x0A) {
                out.append(0x0A)
                var n = UInt64(bytes.count).littleEndian
                withUnsafeBytes(of: &n) { out += $0 }
                out += bytes
            } else {
                out.append(UInt8(ascii: "="))
                out += bytes
            }
            out.append(0x0A)
        }
        field("MESSAGE", event.message)
        field("PRIORITY", String(event.priority.rawValue))
        field("SYSLOG_IDENTIFIER", identifier)
        field("MESSAGE_ID", event.type.rawValue)
        field("SISYNC_EVENT", event.type.name)
        for (k, v) in event.fields { field(k, v) }
        return out
    }
}

/// Sends every entry to several logs (the journal and the terminal).
public struct TeeLog: EventLog {
    public let logs: [EventLog]
    public init(_ logs: [EventLog]) { self.logs = logs }
    public func log(_ event: LogEvent) { for l in logs { l.log(event) } }
}
