/// The records of one entity as read from the export, stored compactly: all values in one
/// byte buffer with end offsets, so a district of a million rows fits in a few hundred
/// bytes per row instead of a dozen heap strings each.
public struct EntityRows: Sendable {
    public let kind: EntityKind
    /// Where the rows came from, for messages (`staff.csv`, `export.json`).
    public let source: String
    public private(set) var keys: [String] = []
    private var bytes: [UInt8] = []
    private var ends: [UInt32] = []
    private var inactiveFlags: [Bool] = []
    private var fingerprints: [UInt64] = []
    private var locations: [Int32] = []
    /// Row number for every key, including the keys of skipped rows (mapped to -1).
    private var index: [String: Int32] = [:]
    private var skippedLocations: [String: String] = [:]
    /// Keys of rows that were skipped because of a bad value (R2): never deactivated.
    public private(set) var protectedKeys: Set<String> = []
    public private(set) var problems: [RowProblem] = []
    public internal(set) var unknownColumns: [String] = []
    /// Data rows read, good and bad.
    public private(set) var rowsRead = 0

    /// Number of value columns per row (cached: `kind.valueColumns` builds an array).
    public let valueCount: Int
    private var pendingHash: UInt64 = 0xcbf2_9ce4_8422_2325

    public init(kind: EntityKind, source: String) {
        self.kind = kind
        self.source = source
        valueCount = kind.valueColumns.count
    }

    public var count: Int { keys.count }

    public func row(forKey key: String) -> Int? {
        guard let i = index[key], i >= 0 else { return nil }
        return Int(i)
    }

    public func value(_ row: Int, _ column: Int) -> String {
        let n = valueCount
        let start = row * n + column == 0 ? 0 : Int(ends[row * n + column - 1])
        return String(decoding: bytes[start..<Int(ends[row * n + column])], as: UTF8.self)
    }

    public func values(_ row: Int) -> [String] {
        (0..<valueCount).map { value(row, $0) }
    }

    public func isInactive(_ row: Int) -> Bool { inactiveFlags[row] }
    public func fingerprint(_ row: Int) -> UInt64 { fingerprints[row] }

    /// Gives the raw UTF-8 bytes of one value to `body` without making a String (used by
    /// the store to bind parameters during a large import).
    public func withValueBytes<R>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let n = valueCount
        let start = row * n + column == 0 ? 0 : Int(ends[row * n + column - 1])
        let end = Int(ends[row * n + column])
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Where a key was read ("line 12" or "staff[11]"), for duplicate messages.
    func location(ofKey key: String) -> String? {
        if let i = index[key], i >= 0 { return String(locations[Int(i)]) }
        return skippedLocations[key]
    }

    // MARK: building

    mutating func noteRowRead() { rowsRead += 1 }

    /// Records a skipped row. Returns where the key was read before, if it was (a duplicate).
    @discardableResult
    mutating func reportProblem(_ problem: RowProblem, key: String?) -> String? {
        problems.append(problem)
        guard let key else { return nil }
        if let earlier = index.updateValue(-1, forKey: key) {
            index[key] = earlier
            return location(ofKey: key)
        }
        protectedKeys.insert(key)
        skippedLocations[key] = problem.location
        return nil
    }

    /// Appends a validated row. `values` are the already-normalised value columns in order.
    mutating func append(key: String, values: [ArraySlice<UInt8>], inactive: Bool, location: Int) {
        for v in values { v.withUnsafeBufferPointer { appendValue($0) } }
        _ = finishRow(key: key, inactive: inactive, location: location)
    }

    /// Appends the next value of the row being built (the hot path of a large import).
    mutating func appendValue(_ v: UnsafeBufferPointer<UInt8>) {
        var hash = pendingHash
        for b in v { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        pendingHash = (hash ^ 0x1F) &* 0x0000_0100_0000_01B3
        bytes.append(contentsOf: v)
        ends.append(UInt32(bytes.count))
    }

    /// Completes the row whose values were given with `appendValue`. Returns where the key
    /// was read before, if it was: a duplicate id, which fails the whole read (R2).
    @discardableResult
    mutating func finishRow(key: String, inactive: Bool, location: Int) -> String? {
        if let earlier = index.updateValue(Int32(keys.count), forKey: key) {
            index[key] = earlier
            return self.location(ofKey: key)
        }
        keys.append(key)
        inactiveFlags.append(inactive)
        fingerprints.append(pendingHash)
        locations.append(Int32(clamping: location))
        pendingHash = 0xcbf2_9ce4_8422_2325
        return nil
    }

    /// The fingerprint the store keeps for a record with these values, so that an
    /// unchanged record is recognised without comparing its fields one by one.
    public static func fingerprint(values: [String]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values {
            for b in v.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            hash = (hash ^ 0x1F) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    mutating func reserve(rows: Int, bytesPerRow: Int) {
        keys.reserveCapacity(rows)
        index.reserveCapacity(rows)
        inactiveFlags.reserveCapacity(rows)
        fingerprints.reserveCapacity(rows)
        locations.reserveCapacity(rows)
        ends.reserveCapacity(rows * valueCount)
        bytes.reserveCapacity(rows * bytesPerRow)
    }
}

/// Composite keys join their parts with U+001F, which cannot appear in a trimmed id;
/// people see them joined with `/`.
public enum RecordKey {
    public static let separator: Character = "\u{1F}"
    public static func join(_ parts: [String]) -> String {
        var key = ""
        key.reserveCapacity(parts.reduce(parts.count) { $0 + $1.utf8.count })
        for (i, p) in parts.enumerated() {
            if i > 0 { key.unicodeScalars.append("\u{1F}") }
            key += p
        }
        return key
    }
    public static func parts(_ key: String) -> [String] {
        key.utf8.split(separator: 0x1F, omittingEmptySubsequences: false).map { String(Substring($0)) }
    }
    public static func display(_ key: String) -> String {
        key.contains(separator) ? parts(key).joined(separator: "/") : key
    }
}
