import Foundation

/// Staff as linking sees them after this run's changes: each staff member's email key and
/// whether they are active, and who shares an email. Built from the stored staff with the
/// run's staff plan laid over it, so links follow the export of the same run.
///
/// Held compactly (issue 34): a district's staff grow with it, and a dictionary of strings
/// cost about 250 bytes a staff member; here the keys share one buffer of bytes and the
/// lookups are binary searches over sorted arrays of small integers, about 40 bytes each.
public struct StaffDirectory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var emailKey: String
        public var active: Bool
        public init(emailKey: String, active: Bool) {
            self.emailKey = emailKey
            self.active = active
        }
    }

    /// Staff ids, sorted; the arrays below are in the same order.
    private let ids: [String]
    /// Every email key, end to end; staff `i`'s key is `keyBytes[keyEnds[i-1]..<keyEnds[i]]`.
    private let keyBytes: [UInt8]
    private let keyEnds: [UInt32]
    private let active: [Bool]
    /// Indexes of the active staff with an email key, sorted by key and then id.
    private let byKey: [Int32]
    /// For each distinct key in `byKey`, the position of its first staff member there.
    private let keyStarts: [Int32]

    public init(entries: [String: Entry]) {
        var builder = Builder()
        for (id, e) in entries { builder.set(id, emailKey: e.emailKey, active: e.active) }
        self = builder.directory()
    }

    fileprivate init(ids: [String], keyBytes: [UInt8], keyEnds: [UInt32], active: [Bool]) {
        self.ids = ids
        self.keyBytes = keyBytes
        self.keyEnds = keyEnds
        self.active = active
        var byKey: [Int32] = []
        for i in ids.indices where active[i] && Self.range(i, keyEnds).count > 0 { byKey.append(Int32(i)) }
        keyBytes.withUnsafeBufferPointer { bytes in
            byKey.sort { a, b in
                let c = Self.compare(bytes, Self.range(Int(a), keyEnds), Self.range(Int(b), keyEnds))
                return c != 0 ? c < 0 : a < b
            }
        }
        var starts: [Int32] = []
        keyBytes.withUnsafeBufferPointer { bytes in
            for (p, i) in byKey.enumerated() where p == 0 || Self.compare(bytes, Self.range(Int(byKey[p - 1]), keyEnds), Self.range(Int(i), keyEnds)) != 0 {
                starts.append(Int32(p))
            }
        }
        self.byKey = byKey
        self.keyStarts = starts
    }

    /// The stored staff (`stored`, which hands each to the builder) with a run's staff plan
    /// applied, and `renames` (staff carried over to new ids, issue 33) taken as made.
    public static func after(_ plan: EntityPlan?, rows: EntityRows?, renames: [String: String] = [:], normalizer: EmailNormalizer,
                             stored: (_ add: (_ id: String, _ emailKey: String, _ active: Bool) -> Void) throws -> Void) rethrows -> StaffDirectory {
        var builder = Builder()
        try stored { id, key, active in
            if let new = renames[id] {
                // A carried-over record takes its new id over whatever had it.
                builder.set(new, emailKey: key, active: active, stage: 1)
            } else {
                builder.set(id, emailKey: key, active: active)
            }
        }
        if let plan {
            let emailColumn = EntityKind.staff.valueColumns.firstIndex(of: "email")!
            if let rows {
                for r in plan.additions {
                    let row = Int(r)
                    builder.set(rows.key(row), emailKey: normalizer.key(rows.value(row, emailColumn)), active: !rows.isInactive(row), stage: 2)
                }
            }
            for u in plan.updates {
                let email = u.fields.first(where: { $0.column == emailColumn }).map { normalizer.key($0.new) }
                let active: Bool? = u.deactivate != nil ? false : u.reactivate ? true : nil
                builder.change(u.key, emailKey: email, active: active)
            }
        }
        return builder.directory()
    }

    /// The stored staff with a run's staff plan applied (from a dictionary of them).
    public static func after(_ plan: EntityPlan?, rows: EntityRows?, stored: [String: Entry], normalizer: EmailNormalizer) -> StaffDirectory {
        after(plan, rows: rows, normalizer: normalizer) { add in
            for (id, e) in stored { add(id, e.emailKey, e.active) }
        }
    }

    /// How many email keys active staff have: a user can only gain a link through one.
    public var activeEmailKeyCount: Int { keyStarts.count }

    /// The active staff's email keys at `range` of their sorted list, for reading the
    /// users keyed like them a batch of keys at a time.
    public func activeEmailKeys(_ range: Range<Int>) -> [String] {
        range.map { key(Int(byKey[Int(keyStarts[$0])])) }
    }

    /// A staff member's email key and activity, nil for one not in the directory.
    public func entry(_ staffID: String) -> Entry? {
        guard let i = index(of: staffID) else { return nil }
        return Entry(emailKey: key(i), active: active[i])
    }

    /// Active staff whose email key is `key`, sorted by id.
    public func activeStaff(withEmailKey key: String) -> [String] {
        guard !key.isEmpty, !keyStarts.isEmpty else { return [] }
        var key = key
        return key.withUTF8 { wanted in
            keyBytes.withUnsafeBufferPointer { bytes in
                // The first distinct key not below `wanted`.
                var lo = 0, hi = keyStarts.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if Self.compare(bytes, Self.range(Int(byKey[Int(keyStarts[mid])]), keyEnds), wanted) < 0 { lo = mid + 1 } else { hi = mid }
                }
                guard lo < keyStarts.count else { return [] }
                let first = Int(keyStarts[lo])
                guard Self.compare(bytes, Self.range(Int(byKey[first]), keyEnds), wanted) == 0 else { return [] }
                let end = lo + 1 < keyStarts.count ? Int(keyStarts[lo + 1]) : byKey.count
                return byKey[first..<end].map { ids[Int($0)] }
            }
        }
    }

    private func index(of id: String) -> Int? {
        var lo = 0, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids[mid] < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < ids.count && ids[lo] == id ? lo : nil
    }

    private func key(_ i: Int) -> String {
        String(decoding: keyBytes[Self.range(i, keyEnds)], as: UTF8.self)
    }

    private static func range(_ i: Int, _ ends: [UInt32]) -> Range<Int> {
        (i == 0 ? 0 : Int(ends[i - 1]))..<Int(ends[i])
    }

    private static func compare(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Int {
        compare(UnsafeBufferPointer(rebasing: bytes[a]), UnsafeBufferPointer(rebasing: bytes[b]))
    }

    private static func compare(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        compare(UnsafeBufferPointer(rebasing: bytes[a]), b)
    }

    /// Byte order (what `String <` gives for the UTF-8 keys up to canonical equivalence,
    /// which `EmailNormalizer` has made plain: its keys are NFC).
    private static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        if n > 0, let pa = a.baseAddress, let pb = b.baseAddress {
            let c = memcmp(pa, pb, n)
            if c != 0 { return Int(c) }
        }
        return a.count - b.count
    }

    /// Collects staff one at a time, later ones over earlier ones with the same id, into a
    /// directory; what it holds is a few arrays, never a string object per key.
    struct Builder {
        private var ids: [String] = []
        private var keyBytes: [UInt8] = []
        /// Per entry: where its key starts and ends in `keyBytes`; a `change` without a
        /// new key has an empty range and `keepsKey`.
        private var keyRanges: [Range<UInt32>] = []
        /// 0 inactive, 1 active, 2 unchanged (a `change` that leaves it).
        private var activity: [UInt8] = []
        /// Which pass an entry came from: within one id, lower stages are laid down first.
        private var stages: [UInt8] = []
        private var keepsKey: [Bool] = []

        /// A staff member as it is (stage: stored 0, carried over 1, added by the run 2).
        mutating func set(_ id: String, emailKey: String, active: Bool, stage: UInt8 = 0) {
            append(id, emailKey, keep: false, activity: active ? 1 : 0, stage: stage)
        }

        /// A change to a staff member (a run's update): a new key and activity, each when
        /// given; one not seen yet starts with no key and active.
        mutating func change(_ id: String, emailKey: String?, active: Bool?) {
            append(id, emailKey ?? "", keep: emailKey == nil, activity: active.map { $0 ? 1 : 0 } ?? 2, stage: 3)
        }

        private mutating func append(_ id: String, _ key: String, keep: Bool, activity: UInt8, stage: UInt8) {
            let start = UInt32(keyBytes.count)
            keyBytes.append(contentsOf: key.utf8)
            ids.append(id)
            keyRanges.append(start..<UInt32(keyBytes.count))
            keepsKey.append(keep)
            self.activity.append(activity)
            stages.append(stage)
        }

        func directory() -> StaffDirectory {
            var order = Array(0..<Int32(ids.count))
            order.sort { a, b in
                let x = ids[Int(a)], y = ids[Int(b)]
                if x != y { return x < y }
                return stages[Int(a)] != stages[Int(b)] ? stages[Int(a)] < stages[Int(b)] : a < b
            }
            var outIDs: [String] = [], outBytes: [UInt8] = [], ends: [UInt32] = [], active: [Bool] = []
            outIDs.reserveCapacity(ids.count)
            outBytes.reserveCapacity(keyBytes.count)
            var p = 0
            while p < order.count {
                let id = ids[Int(order[p])]
                var key: Range<UInt32>? = nil, isActive: Bool? = nil
                while p < order.count, ids[Int(order[p])] == id {
                    let e = Int(order[p])
                    if stages[e] < 3 {
                        key = keyRanges[e]
                        isActive = activity[e] == 1
                    } else {
                        if !keepsKey[e] || key == nil { key = keepsKey[e] ? 0..<0 : keyRanges[e] }
                        if activity[e] != 2 { isActive = activity[e] == 1 } else if isActive == nil { isActive = true }
                    }
                    p += 1
                }
                outIDs.append(id)
                if let key { outBytes.append(contentsOf: keyBytes[Int(key.lowerBound)..<Int(key.upperBound)]) }
                ends.append(UInt32(outBytes.count))
                active.append(isActive ?? true)
            }
            return StaffDirectory(ids: outIDs, keyBytes: outBytes, keyEnds: ends, active: active)
        }
    }
}
