import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's table of file locks (`/proc/locks`), read to learn who holds a lock file
/// without trying the lock: a `flock` probe, however short, makes a sisyncd starting at
/// that moment find its lock taken and exit 75. Also the start time of a process, from
/// `/proc/PID/stat`, to say since when a daemon runs.
public enum ProcLocks {
    /// The pids holding a `flock` on the file with this device and inode, as the table
    /// `text` lists them: waiters (`->`) and other kinds of lock (POSIX, OFD) left out.
    /// The table writes the device as hexadecimal `major:minor`, the inode in decimal.
    public static func flockHolders(device: UInt64, inode: UInt64, in text: String) -> [Int32] {
        let wanted = String(major(device), radix: 16) + ":" + String(minor(device), radix: 16) + ":" + String(inode)
        var pids: [Int32] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // "1: FLOCK  ADVISORY  WRITE 812 08:01:1234 0 EOF"; a waiter has "->" after the number.
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]) else { continue }
            if normalized(fields[5]) == wanted { pids.append(pid) }
        }
        return pids
    }

    /// `08:01:1234` with leading zeros of the device numbers dropped, to compare with ours.
    private static func normalized(_ id: Substring) -> String {
        let parts = id.split(separator: ":")
        guard parts.count == 3, let maj = UInt64(parts[0], radix: 16), let min = UInt64(parts[1], radix: 16) else { return "" }
        return String(maj, radix: 16) + ":" + String(min, radix: 16) + ":" + parts[2]
    }

    /// glibc's `major()` and `minor()` of a `dev_t` (macros Swift does not import).
    static func major(_ dev: UInt64) -> UInt64 { ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)) }
    static func minor(_ dev: UInt64) -> UInt64 { (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)) }

    /// When a process started, from its `/proc/PID/stat` text (field 22, clock ticks after
    /// boot) and the boot time (`btime` of `/proc/stat`). The command name (field 2) may
    /// hold spaces and parentheses: the fields are counted after its last `)`.
    public static func startTime(stat text: String, bootTime: Double, ticksPerSecond: Double) -> Date? {
        guard let close = text.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (the state): field 22 is fields[19].
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        return Date(timeIntervalSince1970: bootTime + ticks / ticksPerSecond)
    }

    /// The holders of a lock on this file, now.
    static func holders(of identity: (device: UInt64, inode: UInt64)) -> [Int32] {
        guard let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return [] }
        return flockHolders(device: identity.device, inode: identity.inode, in: text)
    }

    /// When the process `pid` started; nil when it is gone or cannot be read.
    static func startTime(of pid: Int32) -> Date? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let boot = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = boot.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let btime = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        return startTime(stat: stat, bootTime: btime, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// Whether a process `pid` exists (a zombie counts as gone).
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }
}
