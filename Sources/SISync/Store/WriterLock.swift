import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one-writer lock of R9: an exclusive `flock` on `<database>.lock` holding the
/// owner's pid, so a second writer can say who holds the database. The kernel drops the
/// lock when the holder dies, so a crash never leaves a stale lock behind.
public final class WriterLock {
    public let path: String
    private let fd: Int32

    public init(databasePath: String) throws(StoreError) {
        path = databasePath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .cannotOpen(path: path, message: "cannot create the lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buffer, 63, 0)
            close(fd)
            let pid = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
            throw .locked(path: databasePath, holder: "pid \(pid)")
        }
        self.fd = fd
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
