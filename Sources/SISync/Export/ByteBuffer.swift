#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A growable run of bytes in memory of its own, for the loops that handle every row of an
/// export (a value, a key, a sorted record). `Array<UInt8>.append(contentsOf:)` costs about
/// ninety instructions a call before it copies a byte, and `removeAll(keepingCapacity:)`
/// another uniqueness check; with a dozen of each per row they were about a tenth of the
/// instructions of a day on which every file changed (callgrind, issue 34). Here an append
/// is a bounds check and a `memcpy`.
///
/// One owner at a time: a reader, a sorter or a scan keeps it for its own loop and never
/// hands it to another thread while it writes.
final class ByteBuffer: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var count = 0

    /// `capacity`: bytes allocated at once, so that a buffer of known size is one
    /// allocation for its life (grown by doubling, each smaller copy would be left behind in
    /// the allocator's free lists, resident).
    init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    var isEmpty: Bool { count == 0 }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// The bytes from `offset` on.
    func bytes(from offset: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base + offset, count: count - offset) }

    @inline(__always)
    func append(_ source: UnsafeBufferPointer<UInt8>) {
        let n = source.count
        guard n > 0 else { return }
        if count + n > capacity { grow(to: count + n) }
        (base + count).update(from: source.baseAddress!, count: n)
        count += n
    }

    @inline(__always)
    func append(_ source: UnsafeRawBufferPointer) {
        append(source.bindMemory(to: UInt8.self))
    }

    @inline(__always)
    func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    /// Appends `value` as four little-endian bytes.
    @inline(__always)
    func append(littleEndian value: UInt32) {
        if count + 4 > capacity { grow(to: count + 4) }
        UnsafeMutableRawPointer(base + count).storeBytes(of: value.littleEndian, as: UInt32.self)
        count += 4
    }

    /// Adds `n` bytes for the caller to write at the pointer returned (a record's header).
    @inline(__always)
    func claim(_ n: Int) -> UnsafeMutableRawPointer {
        if count + n > capacity { grow(to: count + n) }
        defer { count += n }
        return UnsafeMutableRawPointer(base + count)
    }

    /// Makes room for `more` bytes after the last, without changing the count.
    func reserve(_ more: Int) {
        if count + more > capacity { grow(to: count + more) }
    }

    /// Empties the buffer and keeps its memory.
    @inline(__always)
    func removeAll() { count = 0 }

    /// Keeps the first `n` bytes (a row given up half written).
    func truncate(to n: Int) {
        precondition(n >= 0 && n <= count, "truncate to \(n) of \(count)")
        count = n
    }

    /// Gives the memory back (a sorter's last buffer, once its rows are written out).
    func release() {
        base.deallocate()
        capacity = 16
        base = .allocate(capacity: capacity)
        count = 0
    }

    private func grow(to needed: Int) {
        var c = capacity
        while c < needed { c = c > Int.max / 2 ? needed : c * 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = c
    }

    /// Whether the bytes equal `other`'s.
    func equals(_ other: UnsafeBufferPointer<UInt8>) -> Bool {
        count == other.count && (count == 0 || memcmp(base, other.baseAddress!, count) == 0)
    }
}
