import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `<database>.daemon`: what a running sisyncd tells `sisyncctl status` about itself, its
/// pid, since when it runs, its state (`DaemonState`) and when its next run is due, so that the status says the
/// daemon's own time instead of guessing from the last run and the interval. Beside the
/// lock file and created as it is (`StateFile`: through its folder, never through a link,
/// 0644 so that an administrator's shell can read it). Only a file whose pid holds the
/// daemon lock is believed: a daemon that died leaves a file nobody reads as live.
/// Sendable for its `Scheduler`, which writes it from the loop and the signal queue, one
/// write at a time (under its lock).
public final class DaemonSchedule: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        public var pid: Int32
        public var started: Date?
        public var next: Date?
        /// Nil in a file a sisyncd before issue 29 wrote.
        public var state: DaemonState?
    }

    private let file: StateFile
    private let started: Date

    /// The file of a SQLite store (a PostgreSQL store's daemon may be on another host).
    public static func path(of databasePath: String) -> String { databasePath + ".daemon" }

    /// Opens (or creates) the file, for the daemon holding the lock.
    public init(databasePath: String, started: Date = Date()) throws {
        file = try StateFile(path: Self.path(of: databasePath), creatingWith: 0o644, readOnlyFallback: false)
        self.started = started
        write(state: .starting, next: nil)
    }

    /// Says where the daemon is and when the next run is due (nil: running now, or not known).
    public func write(state: DaemonState, next: Date?) {
        var text = "pid \(getpid())\nstarted \(Timestamp.format(started))\nstate \(state.rawValue)\n"
        if let next { text += "next \(Timestamp.format(next))\n" }
        let bytes = Array(text.utf8)
        _ = ftruncate(file.fd, 0)
        _ = pwrite(file.fd, bytes, bytes.count, 0)
    }

    /// Empties the file as the daemon stops: no next run.
    public func clear() { _ = ftruncate(file.fd, 0) }

    /// Reads the file's text.
    public static func parse(_ text: String) -> Entry? {
        var pid: Int32?
        var entry = Entry(pid: 0)
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "pid": pid = Int32(parts[1])
            case "started": entry.started = Timestamp.parse(parts[1])
            case "next": entry.next = Timestamp.parse(parts[1])
            case "state": entry.state = DaemonState(rawValue: parts[1])
            default: continue
            }
        }
        guard let pid else { return nil }
        entry.pid = pid
        return entry
    }

    /// What the file says now, read without creating or locking anything.
    static func read(databasePath: String) -> Entry? {
        guard let file = try? StateFile(reading: path(of: databasePath)) else { return nil }
        return parse(file.text())
    }
}
