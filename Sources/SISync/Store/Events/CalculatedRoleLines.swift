/// The `PackedLines.calculatedRole` lines of a run's role events, made block after block into
/// one buffer (`EventBatch.writeCalculatedRoles`). A district's first run grants 294,716
/// roles: appended to Swift arrays piece by piece (`CompactJSON.quote`, a capacity check
/// per piece, a new array per block) each line cost about 950 instructions for 24 bytes,
/// 0.28 billion of the 0.71 billion its events cost (issue 34: events on may cost a step
/// at most 15%). Here a line's room is made once and its bytes written straight.
///
/// The username is quoted as `CompactJSON` quotes a string (RFC 8259: `"` and `\` escaped,
/// newline, return and tab in their short forms, other control characters as `\u00XX`,
/// everything else, UTF-8 included, as it is); the role and the school year are copied
/// as they are (export keys hold no control characters, R2).
final class CalculatedRoleLines {
    /// The lines of every block so far, each block's lines joined by newlines, blocks back
    /// to back.
    private let bytes = ByteBuffer(capacity: 1 << 16)
    /// Each block made so far: where its lines end in `bytes`, and how many they are.
    private var blocks: [(end: Int, count: Int)] = []
    /// Lines in the block being made.
    private var inBlock = 0
    private let blockSize: Int

    init(blockSize: Int = EventBatch.blockSize) {
        self.blockSize = blockSize
    }

    /// Adds a role's line to the block being made; a block of `blockSize` lines is done.
    func add(username: UnsafeBufferPointer<UInt8>, role: UnsafeBufferPointer<UInt8>, schoolYear: UnsafeBufferPointer<UInt8>) {
        // At most: a newline, the quotes, each username byte as six (`\u00XX`), two tabs.
        let most = 5 + 6 * username.count + role.count + schoolYear.count
        let start = bytes.count
        let room = bytes.claim(most).assumingMemoryBound(to: UInt8.self)
        var p = room
        if inBlock > 0 { p.pointee = 0x0A; p += 1 }
        p.pointee = 0x22; p += 1
        p = Self.escaping(username, at: p)
        p[0] = 0x22; p[1] = 0x09; p += 2
        p = Self.copying(role, at: p)
        p.pointee = 0x09; p += 1
        p = Self.copying(schoolYear, at: p)
        // The room was made for the longest line; the line keeps what it used.
        bytes.truncate(to: start + (p - room))
        inBlock += 1
        if inBlock == blockSize { endBlock() }
    }

    /// Each block, in order: how many lines, and its lines (valid only inside `body`).
    func forEachBlock(_ body: (_ count: Int, _ lines: UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        if inBlock > 0 { endBlock() }
        var start = 0
        for block in blocks {
            try body(block.count, UnsafeBufferPointer(rebasing: bytes.bytes[start..<block.end]))
            start = block.end
        }
    }

    var isEmpty: Bool { blocks.isEmpty && inBlock == 0 }

    /// Whether a block of `blockSize` lines is done (`forEachBlock`, then `removeAll`, writes
    /// it and starts again in the same room).
    var hasFullBlock: Bool { !blocks.isEmpty }

    /// Forgets every line, keeping the room.
    func removeAll() {
        bytes.removeAll()
        blocks.removeAll(keepingCapacity: true)
        inBlock = 0
    }

    private func endBlock() {
        blocks.append((bytes.count, inBlock))
        inBlock = 0
    }

    /// The value's bytes at `p`, eight at a time (a call of `memcpy` per value cost more than
    /// the copy of a role's few bytes); returns where they end.
    @inline(__always)
    private static func copying(_ value: UnsafeBufferPointer<UInt8>, at p: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard let source = value.baseAddress else { return p }
        let n = value.count
        guard n >= 8 else {
            for i in 0..<n { p[i] = source[i] }
            return p + n
        }
        var i = 0
        while i + 8 < n {
            UnsafeMutableRawPointer(p + i).storeBytes(of: UnsafeRawPointer(source + i).loadUnaligned(as: UInt64.self), as: UInt64.self)
            i += 8
        }
        // The last eight bytes, overlapping those copied: the same bytes again.
        UnsafeMutableRawPointer(p + n - 8).storeBytes(of: UnsafeRawPointer(source + n - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
        return p + n
    }

    private static let hex: StaticString = "0123456789abcdef"
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any of the eight bytes of `w` needs an escape in a JSON string: one below
    /// 0x20, a `"` or a `\` (the usual tests for a zero byte and a byte below n; a byte of
    /// 0x80 or more, UTF-8's, never matches).
    @inline(__always)
    private static func needsEscape(_ w: UInt64) -> Bool {
        let below = (w &- 0x20 &* ones) & ~w
        let quote = w ^ (0x22 &* ones), backslash = w ^ (0x5C &* ones)
        let zero = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
        return (below | zero) & highs != 0
    }

    /// The value's bytes as inside a JSON string; returns where they end. Eight bytes at a
    /// time while none needs an escape.
    @inline(__always)
    private static func escaping(_ value: UnsafeBufferPointer<UInt8>, at start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        guard let source = value.baseAddress else { return start }
        let n = value.count
        var p = start
        var i = 0
        while i + 8 <= n {
            let w = UnsafeRawPointer(source + i).loadUnaligned(as: UInt64.self)
            if needsEscape(w) { break }
            UnsafeMutableRawPointer(p).storeBytes(of: w, as: UInt64.self)
            p += 8
            i += 8
        }
        if i < n && n >= 8 && i + 8 > n {
            // The last eight bytes, overlapping those written, when none needs an escape.
            let w = UnsafeRawPointer(source + n - 8).loadUnaligned(as: UInt64.self)
            if !needsEscape(w) {
                UnsafeMutableRawPointer(p - (i - (n - 8))).storeBytes(of: w, as: UInt64.self)
                return p + (n - i)
            }
        }
        while i < n {
            let b = source[i]
            i += 1
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                p.pointee = b
                p += 1
                continue
            }
            p.pointee = 0x5C
            switch b {
            case 0x22, 0x5C: p[1] = b; p += 2
            case 0x0A: p[1] = UInt8(ascii: "n"); p += 2
            case 0x0D: p[1] = UInt8(ascii: "r"); p += 2
            case 0x09: p[1] = UInt8(ascii: "t"); p += 2
            default:
                let digits = hex.utf8Start
                p[1] = UInt8(ascii: "u"); p[2] = 0x30; p[3] = 0x30
                p[4] = digits[Int(b >> 4)]; p[5] = digits[Int(b & 0xF)]
                p += 6
            }
        }
        return p
    }
}
