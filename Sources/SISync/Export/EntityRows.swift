/// The records of one entity as read from the export, stored compactly: all values in one
/// byte buffer with end offsets, so a district of a million rows fits in a few hundred
/// bytes per row instead of a dozen heap strings each.
public struct EntityRows: Sendable {
    public let kind: EntityKind
    /// Where the rows came from, for messages (`staff.csv`, `export.json`).
    public let source: String
    /// Every key read, valid rows and skipped rows alike (entries).
    private var index = KeyIndex()
    /// Row number of each key entry, or -1 for a skipped row's key.
    private var rowOfEntry: [Int32] = []
    /// Key entry of each row.
    private var entryOfRow: [Int32] = []
    private var bytes: [UInt8] = []
    private var ends: [UInt32] = []
    private var inactiveFlags: [Bool] = []
    private var fingerprints: [UInt64] = []
    /// Where each key entry was read: a CSV line or a JSON array index.
    private var entryLines: [Int32] = []
    /// Keys of rows that were skipped because of a bad value (R2): never deactivated.
    public private(set) var protectedKeys: Set<String> = []
    public private(set) var problems: [RowProblem] = []
    public internal(set) var unknownColumns: [String] = []
    /// A delta (OneRoster `delta` files): only the records listed change; a record the
    /// rows do not list is left as it is, never deactivated for its absence.
    public internal(set) var isDelta = false
    /// Data rows read, good and bad.
    public private(set) var rowsRead = 0
    /// Number of value columns per row (cached: `kind.valueColumns` builds an array).
    public let valueCount: Int
    private var pendingHash: UInt64 = 0xcbf2_9ce4_8422_2325
    /// At most this many value bytes and rows: offsets are 32-bit and row numbers Int32
    /// (a district is far below). Tests lower them to see the refusal without 4 GiB.
    var byteLimit = Int(UInt32.max) - 1 {
        didSet { index.limit = byteLimit }
    }
    var rowLimit = Int(Int32.max) - 1

    public init(kind: EntityKind, source: String) {
        self.kind = kind
        self.source = source
        valueCount = kind.valueColumns.count
    }

    public var count: Int { entryOfRow.count }

    /// The key of a row (composite keys joined with U+001F).
    public func key(_ row: Int) -> String { index.key(Int(entryOfRow[row])) }

    /// All keys in export order (convenience for tests and small exports).
    public var keys: [String] { (0..<count).map(key) }

    public func withKeyBytes<R>(_ row: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try index.withKeyBytes(Int(entryOfRow[row]), body)
    }

    public func row(forKey key: String) -> Int? {
        guard let e = index.find(key) else { return nil }
        let r = rowOfEntry[e]
        return r >= 0 ? Int(r) : nil
    }

    public func row(forKeyBytes key: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let e = index.find(key) else { return nil }
        let r = rowOfEntry[e]
        return r >= 0 ? Int(r) : nil
    }

    /// Whether a key belongs to a row skipped for a bad value (R2: never deactivated).
    public func isProtected(keyBytes key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let e = index.find(key) else { return false }
        return rowOfEntry[e] < 0
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

    // MARK: building

    mutating func noteRowRead() { rowsRead += 1 }

    /// Records a skipped row. Returns where its key was read before, if it was (a duplicate).
    @discardableResult
    mutating func reportProblem(_ problem: RowProblem, key: String?, line: Int) throws(ExportError) -> String? {
        var problem = problem
        if let key { problem.entity = kind; problem.recordKey = key }
        problems.append(problem)
        guard let key else { return nil }
        let (entry, inserted) = try insert(key)
        if !inserted { return String(entryLines[entry]) }
        rowOfEntry.append(-1)
        entryLines.append(Int32(clamping: line))
        protectedKeys.insert(key)
        return nil
    }

    /// Protects a record whose source row was skipped elsewhere (a OneRoster user row that
    /// becomes several records): it is neither updated nor deactivated (R2).
    mutating func protect(_ key: String, line: Int) throws(ExportError) {
        let (_, inserted) = try insert(key)
        guard inserted else { return }
        rowOfEntry.append(-1)
        entryLines.append(Int32(clamping: line))
        protectedKeys.insert(key)
    }

    /// Appends the next value of the row being built (the hot path of a large import).
    mutating func appendValue(_ v: UnsafeBufferPointer<UInt8>) throws(ExportError) {
        let total = bytes.count + v.count
        guard total <= byteLimit, let end = UInt32(exactly: total) else {
            throw .tooLargeToHold(file: source, what: "bytes of values", limit: byteLimit)
        }
        var hash = pendingHash
        for b in v { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        pendingHash = (hash ^ 0x1F) &* 0x0000_0100_0000_01B3
        bytes.append(contentsOf: v)
        ends.append(end)
    }

    /// Completes the row whose values were given with `appendValue`. Returns where the key
    /// was read before, if it was: a duplicate id, which fails the whole read (R2).
    @discardableResult
    mutating func finishRow(key: UnsafeBufferPointer<UInt8>, inactive: Bool, line: Int) throws(ExportError) -> String? {
        let (entry, inserted) = try insert(key)
        if !inserted { return String(entryLines[entry]) }
        guard count < rowLimit, let row = Int32(exactly: count), let e = Int32(exactly: entry) else {
            throw .tooLargeToHold(file: source, what: "rows", limit: rowLimit)
        }
        rowOfEntry.append(row)
        entryOfRow.append(e)
        entryLines.append(Int32(clamping: line))
        inactiveFlags.append(inactive)
        fingerprints.append(pendingHash)
        pendingHash = 0xcbf2_9ce4_8422_2325
        return nil
    }

    /// Appends a validated row from values already normalised (tests, small tools).
    mutating func append(key: String, values: [ArraySlice<UInt8>], inactive: Bool, location: Int) throws(ExportError) {
        // withUnsafeBufferPointer and withUTF8 rethrow untyped: a Result keeps the ExportError.
        for v in values { try v.withUnsafeBufferPointer { b in Result { () throws(ExportError) in try appendValue(b) } }.get() }
        var k = key
        _ = try k.withUTF8 { b in Result { () throws(ExportError) in try finishRow(key: b, inactive: inactive, line: location) } }.get()
    }

    /// Adds a key to the index, or says the entity outgrew it.
    private mutating func insert(_ key: UnsafeBufferPointer<UInt8>) throws(ExportError) -> (entry: Int, inserted: Bool) {
        do { return try index.insert(key) } catch {
            throw .tooLargeToHold(file: source, what: "bytes of ids", limit: error.limit)
        }
    }

    private mutating func insert(_ key: String) throws(ExportError) -> (entry: Int, inserted: Bool) {
        var k = key
        return try k.withUTF8 { b in Result { () throws(ExportError) in try insert(b) } }.get()
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
        index.reserve(keys: rows, bytesPerKey: 12)
        rowOfEntry.reserveCapacity(rows)
        entryOfRow.reserveCapacity(rows)
        inactiveFlags.reserveCapacity(rows)
        fingerprints.reserveCapacity(rows)
        entryLines.reserveCapacity(rows)
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
        // A byte test: `contains(Character)` breaks the key into graphemes, which a whole
        // district's rekey (a display id per pair, per table) felt.
        key.utf8.contains(0x1F) ? parts(key).joined(separator: "/") : key
    }
}
