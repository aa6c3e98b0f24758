import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Talks to systemd through `$NOTIFY_SOCKET` (sd_notify without libsystemd): READY,
/// RELOADING, STOPPING, STATUS and the watchdog. Without the variable (a terminal, a
/// test) it does nothing.
public final class ServiceNotifier: @unchecked Sendable {
    private let socket: UnixDatagramSocket?
    /// Half of `WATCHDOG_USEC`, when systemd watches this process.
    public let watchdogInterval: TimeInterval?
    private let lock = NSLock()
    private var lastPing: UInt64 = 0
    private let log: EventLog
    /// Monotonic nanoseconds; a test passes its own to replay an order of readings.
    private let clock: @Sendable () -> UInt64

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, log: EventLog,
                clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.log = log
        self.clock = clock
        var socket: UnixDatagramSocket?
        if let address = environment["NOTIFY_SOCKET"], !address.isEmpty {
            do { socket = try UnixDatagramSocket(address: address) } catch {
                log.log(LogEvent(.runFailed, .warning, "NOTIFY_SOCKET: \(error); systemd will not hear from sisyncd"))
            }
        }
        self.socket = socket
        var interval: TimeInterval?
        if socket != nil, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
           environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true {
            interval = TimeInterval(usec) / 2_000_000
        }
        watchdogInterval = interval
    }

    public var isActive: Bool { socket != nil }

    /// Sends `KEY=VALUE` lines in one datagram.
    public func notify(_ lines: [String]) {
        guard let socket else { return }
        do { try socket.send(Array(lines.joined(separator: "\n").utf8)) } catch {
            log.log(LogEvent(.runFailed, .warning, "sd_notify: \(error)"))
        }
    }

    public func ready(status: String? = nil) { notify(["READY=1"] + (status.map { ["STATUS=" + Self.oneLine($0)] } ?? [])) }
    public func reloading() { notify(["RELOADING=1"]) }
    public func stopping() { notify(["STOPPING=1"]) }
    public func status(_ text: String) { notify(["STATUS=" + Self.oneLine(text)]) }

    /// Sends `WATCHDOG=1` when half the watchdog interval has passed since the last one.
    /// Called by the loop and from a run's progress, so it stops when they hang. Tenants'
    /// threads and curl's progress call it at once: the clock is read under the lock, so
    /// that no thread compares a reading older than the ping another thread just recorded.
    public func keepAlive() {
        guard let interval = watchdogInterval else { return }
        let due = lock.withLock { () -> Bool in
            let now = clock()
            guard Self.pingIsDue(now: now, lastPing: lastPing, interval: interval) else { return false }
            lastPing = now
            return true
        }
        if due { notify(["WATCHDOG=1"]) }
    }

    /// Whether 90% of `interval` seconds lie between `lastPing` and `now` (nanoseconds; 0:
    /// never pinged). A `now` before `lastPing` (a clock that went back, an injected one) is
    /// not due, never a negative difference: issue 26 item 6, where `UInt64` subtraction trapped.
    static func pingIsDue(now: UInt64, lastPing: UInt64, interval: TimeInterval) -> Bool {
        guard lastPing != 0 else { return true }
        guard now > lastPing else { return false }
        return Double(now - lastPing) / 1e9 >= interval * 0.9
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

extension StopSignal {
    /// A service's stop flag whose every check pets systemd's watchdog (when it watches):
    /// a run that hangs stops the pings, and systemd restarts the daemon.
    package convenience init(petting notifier: ServiceNotifier) {
        var heartbeat: (@Sendable () -> Void)?
        if notifier.watchdogInterval != nil { heartbeat = { notifier.keepAlive() } }
        self.init(heartbeat: heartbeat)
    }
}
