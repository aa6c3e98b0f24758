/// Record keys stored as bytes in one arena and found through an open-addressing hash
/// table: the keys of an entity's skipped rows (R2), which `EntityRows` checks every row
/// against as the rows are merged, without a string per look-up. The seed is random per
/// process, so crafted ids cannot force collisions.
struct KeyIndex: Sendable {
    private static let seed: UInt64 = UInt64.random(in: 1...UInt64.max)
    /// Each slot holds `entry + 1` in the low 32 bits (0 = empty) and the high 32 bits of
    /// the key's hash, so most probes are settled without touching the key arena.
    private var slots: [UInt64] = Array(repeating: 0, count: 1024)
    private var hashes: [UInt64] = []
    private var bytes: [UInt8] = []
    private var ends: [UInt32] = []
    /// At most this many key bytes, and entries: offsets and entry numbers are 32-bit.
    /// Tests lower it to see the refusal without a 4 GiB export.
    var limit = Int(UInt32.max) - 1

    /// An insert that would outgrow the 32-bit offsets: refused instead of trapping.
    struct Full: Error, Equatable { let limit: Int }

    var count: Int { ends.count }

    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        // Final avalanche (splitmix64), so the low bits used for slots are well mixed.
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }

    private func matches(_ entry: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = entry == 0 ? 0 : Int(ends[entry - 1])
        let end = Int(ends[entry])
        guard end - start == key.count else { return false }
        return bytes.withUnsafeBufferPointer { all in
            for i in 0..<key.count where all[start + i] != key[i] { return false }
            return true
        }
    }

    /// The entry number of `key`, if present.
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int? {
        let h = Self.hash(key)
        let tag = h & 0xFFFF_FFFF_0000_0000
        return slots.withUnsafeBufferPointer { table in
            let mask = table.count - 1
            var i = Int(truncatingIfNeeded: h) & mask
            while true {
                let slot = table[i]
                if slot == 0 { return nil }
                if slot & 0xFFFF_FFFF_0000_0000 == tag {
                    let e = Int(slot & 0xFFFF_FFFF) - 1
                    if hashes[e] == h && matches(e, key) { return e }
                }
                i = (i + 1) & mask
            }
        }
    }

    func find(_ key: String) -> Int? {
        var k = key
        return k.withUTF8 { find($0) }
    }

    /// Adds `key` unless present. Returns its entry number and whether it was new.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>) throws(Full) -> (entry: Int, inserted: Bool) {
        if (count + 1) * 2 > slots.count { rehash(slots.count * 2) }
        let h = Self.hash(key)
        let tag = h & 0xFFFF_FFFF_0000_0000
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[i]
            if slot == 0 { break }
            if slot & 0xFFFF_FFFF_0000_0000 == tag {
                let e = Int(slot & 0xFFFF_FFFF) - 1
                if hashes[e] == h && matches(e, key) { return (e, false) }
            }
            i = (i + 1) & mask
        }
        let entry = count
        let total = bytes.count + key.count
        guard total <= limit, entry < limit, let end = UInt32(exactly: total) else { throw Full(limit: limit) }
        slots[i] = tag | UInt64(entry + 1)
        hashes.append(h)
        bytes.append(contentsOf: key)
        ends.append(end)
        return (entry, true)
    }

    private mutating func rehash(_ capacity: Int) {
        var fresh = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for (e, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while fresh[i] != 0 { i = (i + 1) & mask }
            fresh[i] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(e + 1)
        }
        slots = fresh
    }

    func key(_ entry: Int) -> String {
        let start = entry == 0 ? 0 : Int(ends[entry - 1])
        return String(decoding: bytes[start..<Int(ends[entry])], as: UTF8.self)
    }
}
