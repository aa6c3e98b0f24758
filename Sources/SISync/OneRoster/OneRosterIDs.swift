/// OneRoster sourcedIds, each held once, as its bytes in one array, and known by a number:
/// the users skipped (R2) and a delta's students (`OneRosterIDSet`), a 1.2 bundle's roles by
/// user (`OneRosterUserRoles`). Held as a `String` each, a district's ids took a run to
/// 331 MB when they were 36-character UUIDs (as many SIS servers send them) against 185 MB
/// for short ones: a UUID is a heap allocation of its own wherever it is held. Here one
/// costs its length and 12 to 20 bytes. (What is needed of every user of a district is
/// sorted on disk instead: `OneRosterRelationships`, `OneRosterStudents`.)
///
/// Looked up through an open-addressing table of numbers, hashed with the standard library's
/// seeded hash: an export cannot choose ids that collide.
struct OneRosterIDs {
    /// The ids end to end, and where each ends (it starts where the one before ends): in
    /// `FlatArray`s, which grow without a copy and hold no more than they are given. (Not
    /// 32 bits for the ends: a file under `max_bytes` can still give more bytes of ids, each
    /// byte that is not UTF-8 read as three.)
    private var bytes = FlatArray<UInt8>()
    private var ends = FlatArray<Int>()
    /// The table: a number, or -1 for a free slot; its size a power of two, at most half full.
    /// Made with the first id: an empty one costs nothing (a roster makes one per enrollment).
    private var slots: [Int32] = []

    /// How many ids have a number.
    var count: Int { ends.count }

    /// The number of `id`, giving it the next one if it has none yet.
    mutating func number(_ id: String) -> Int32 {
        var id = id
        if slots.isEmpty { slots = [Int32](repeating: -1, count: 1024) }
        return id.withUTF8 { id in
            let slot = self.slot(of: id)
            if slots[slot] >= 0 { return slots[slot] }
            let n = Int32(ends.count)
            bytes.append(contentsOf: id)
            ends.append(bytes.count)
            slots[slot] = n
            if ends.count * 2 > slots.count { grow() }
            return n
        }
    }

    /// The number of `id`, nil if it has none.
    func find(_ id: String) -> Int32? {
        guard !slots.isEmpty else { return nil }
        var id = id
        return id.withUTF8 { id in
            let n = slots[slot(of: id)]
            return n >= 0 ? n : nil
        }
    }

    /// The id numbered `n`.
    func id(_ n: Int32) -> String {
        bytes.withUnsafeBufferPointer(range(n)) { String(decoding: $0, as: UTF8.self) }
    }

    /// Every id, in the order of their numbers.
    var all: [String] { (0..<Int32(count)).map { id($0) } }

    private func range(_ n: Int32) -> Range<Int> {
        let i = Int(n)
        return (i == 0 ? 0 : ends[i - 1])..<ends[i]
    }

    /// The slot holding `id`, or the free one where it would go.
    private func slot(of id: UnsafeBufferPointer<UInt8>) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(id))
        let mask = slots.count - 1
        var slot = hasher.finalize() & mask
        while true {
            let n = slots[slot]
            if n < 0 { return slot }
            let stored = range(n)
            if stored.count == id.count && bytes.withUnsafeBufferPointer(stored, { $0.elementsEqual(id) }) {
                return slot
            }
            slot = (slot + 1) & mask
        }
    }

    /// Twice the slots, every number put again.
    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        for n in 0..<Int32(ends.count) {
            let slot = bytes.withUnsafeBufferPointer(range(n)) { self.slot(of: $0) }
            slots[slot] = n
        }
    }
}
