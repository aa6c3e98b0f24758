#if canImport(Glibc)
import Glibc
#endif
import Foundation

// libFuzzer's own driver (libclang_rt.fuzzer_no_main, linked by `make fuzz`). A harness's
// main.swift calls `fuzzMain`, which hands the command line to libFuzzer: corpus
// directories, -max_total_time, -timeout, -rss_limit_mb, or crash files to replay.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ cb: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The harness body; set once before libFuzzer starts, called on the main thread only.
nonisolated(unsafe) private var body: ((UnsafeBufferPointer<UInt8>) -> Void)?

/// Runs libFuzzer with `test` as the per-input function; never returns.
public func fuzzMain(_ test: @escaping (UnsafeBufferPointer<UInt8>) -> Void) -> Never {
    body = test
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let rc = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        body!(UnsafeBufferPointer(start: size == 0 ? nil : data, count: size))
        return 0
    }
    exit(rc)
}

/// A finding that is not a crash by itself (an error of a foreign type, a broken
/// invariant): abort, so that libFuzzer saves the input as a crash file.
public func finding(_ message: String) -> Never {
    let text = Array("\n==FINDING== \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// A directory of this process for the files a reader needs (readers take paths):
/// $SISYNC_FUZZ_TMP (set by `make fuzz` to .build-fuzz/tmp) or /tmp, plus the pid.
public let scratchDirectory: String = {
    let base = ProcessInfo.processInfo.environment["SISYNC_FUZZ_TMP"] ?? NSTemporaryDirectory()
    let dir = (base as NSString).appendingPathComponent("sisync-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    // libFuzzer ends the process with exit() (after -max_total_time, or a replay).
    atexit { removeScratch() }
    return dir
}()

private func removeScratch() { try? FileManager.default.removeItem(atPath: scratchDirectory) }

/// Writes `bytes` to `name` in the scratch directory (replacing it) and returns its path.
@discardableResult
public func writeScratch<C: Collection>(_ name: String, _ bytes: C) -> String where C.Element == UInt8 {
    let path = (scratchDirectory as NSString).appendingPathComponent(name)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { finding("harness: cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let array = Array(bytes)
    array.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let n = write(fd, raw.baseAddress! + off, raw.count - off)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { finding("harness: cannot write \(path): \(String(cString: strerror(errno)))") }
            off += n
        }
    }
    return path
}

public func scratchPath(_ name: String) -> String { (scratchDirectory as NSString).appendingPathComponent(name) }

/// FNV-1a of the input: a deterministic source of choices (split points, versions), so
/// that a saved crash file replays the same way.
public func inputHash(_ data: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}

/// The input with ASCII letters in lower case, for `contains`.
public func asciiLowercased(_ data: UnsafeBufferPointer<UInt8>) -> [UInt8] {
    data.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
}

/// True when `needle` occurs in `haystack` (libc memchr and memcmp: fast, and outside the
/// coverage, so the harness's own search does not steer the fuzzer).
public func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
    let n = Array(needle.utf8)
    guard let first = n.first else { return true }
    return haystack.withUnsafeBytes { h in
        n.withUnsafeBytes { nb in
            guard h.count >= nb.count else { return false }
            var at = 0
            let last = h.count - nb.count
            while at <= last {
                guard let hit = memchr(h.baseAddress! + at, Int32(first), last - at + 1) else { return false }
                let i = h.baseAddress!.distance(to: UnsafeRawPointer(hit))
                if memcmp(h.baseAddress! + i, nb.baseAddress!, nb.count) == 0 { return true }
                at = i + 1
            }
            return false
        }
    }
}

/// LeakSanitizer suppressions built into every harness. Only leaks outside this project:
/// - swift-foundation (Swift 6.3.1): `String(contentsOfFile:)` of an empty file leaks the
///   4 KiB read buffer of readBytesFromFile (Configuration.load of an empty file shows it).
@_cdecl("__lsan_default_suppressions")
public func lsanDefaultSuppressions() -> UnsafePointer<CChar> {
    let text: StaticString = "leak:FoundationEssentials17readBytesFromFile\n"
    return UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
}
