import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who runs a command, as the change log and the journal name them: the person behind
/// `sudo` (`SUDO_USER`), else `USER`, else the account of the process's user id (root's
/// cron, a systemd unit, `env -i`), never "unknown".
enum CommandActor {
    static func name(environment: [String: String], uid: uid_t = getuid()) -> String {
        for key in ["SUDO_USER", "USER"] {
            if let name = environment[key]?.trimmingCharacters(in: .whitespaces), !name.isEmpty { return name }
        }
        return accountName(uid: uid) ?? "uid \(uid)"
    }

    /// The user name of `uid` in the password database (getpwuid_r: other threads may
    /// look up accounts too).
    static func accountName(uid: uid_t) -> String? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &found) == 0, found != nil, let name = entry.pw_name else { return nil }
        let text = String(cString: name)
        return text.isEmpty ? nil : text
    }
}
