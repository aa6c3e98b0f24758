#if canImport(Glibc)
import Glibc
#endif

/// The kernel's cryptographic random bytes (its CRNG, which `SystemRandomNumberGenerator`
/// reads through getrandom(2)), drawn `words` × 8 bytes at a time instead of 8 bytes per
/// system call.
///
/// A district's first `user import` gives 207,000 SCIM ids of 128 bits each: through
/// `SystemRandomNumberGenerator` that was 414,000 `getrandom` calls (issue 34). Drawn 4 KiB
/// at a time it is one read per 256 ids, from the same source, so the ids are as
/// unpredictable as before. The buffer lives as long as the generator (one import) and no
/// byte is handed out twice.
struct BufferedSystemRandom: RandomNumberGenerator {
    /// Fills the buffer it is given, or part of it: the bytes written, or -1 with `errno`
    /// set (getrandom(2)'s contract).
    typealias Source = (UnsafeMutableRawBufferPointer) -> Int

    private var buffer: [UInt64]
    private var taken: Int
    private let source: Source

    /// A generator drawing `words` words per call of `source` (the kernel's unless a test
    /// gives another); nothing is drawn before the first `next()`.
    init(words: Int = 512, source: @escaping Source = BufferedSystemRandom.kernel) {
        buffer = Array(repeating: 0, count: max(1, words))
        taken = buffer.count
        self.source = source
    }

    mutating func next() -> UInt64 {
        if taken == buffer.count { refill() }
        defer { taken += 1 }
        return buffer[taken]
    }

    /// The whole buffer again. A call cut short (getrandom may return fewer bytes than asked
    /// above 256, or EINTR on a signal) is continued; if the source fails otherwise, the
    /// rest comes from `SystemRandomNumberGenerator`, which has its own fallbacks, so no
    /// word is ever left as it was.
    private mutating func refill() {
        let source = self.source
        buffer.withUnsafeMutableBytes { bytes in
            var filled = 0
            while filled < bytes.count {
                let n = source(UnsafeMutableRawBufferPointer(rebasing: bytes[filled...]))
                if n > 0 { filled += n; continue }
                if n < 0 && errno == EINTR { continue }
                var system = SystemRandomNumberGenerator()
                let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[filled...])
                for i in 0..<rest.count { rest[i] = UInt8(truncatingIfNeeded: system.next()) }
                filled = bytes.count
            }
        }
        taken = 0
    }

    /// The kernel's CRNG through `/dev/urandom` (Swift's Glibc module does not declare
    /// getrandom(2), and both read the same generator once it is seeded, which it is long
    /// before a daemon starts). A system without the device (a chroot) gets -1, and
    /// `refill` turns to `SystemRandomNumberGenerator`.
    static func kernel(_ into: UnsafeMutableRawBufferPointer) -> Int {
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        return read(fd, into.baseAddress, into.count)
    }
}
