/// The records of one entity as read from the export. While a reader adds them they go
/// through a `RowSorter` (sorted runs in the run's private directory once they outgrow a
/// few megabytes); once read they are `SortedRows`, in key order, row numbers being
/// positions in that order. So the export a run holds costs the same few megabytes at any
/// size of district (issue 34), and the planner, the store and the change feed meet the
/// rows in the order the mirror's tables keep theirs.
///
/// Duplicate ids (R2) are found when the rows are sorted, at `seal`: the one read first
/// stays, and a reader's duplicate fails the read with the lines of both.
public struct EntityRows: Sendable {
    public let kind: EntityKind
    /// Where the rows came from, for messages (`staff.csv`, `export.json`).
    public let source: String
    private let storage: Storage
    /// The skipped rows' problems, in the order they were read: the first `problemsKept`.
    public private(set) var problems: [RowProblem] = []
    /// How many rows were skipped, kept or not.
    public private(set) var problemCount = 0
    /// How many problems are kept in full (and their records protected); past it they are
    /// counted only. A file whose every row is bad is refused (`max_invalid_rows`), and
    /// kept whole its problems made a broken export cost far more memory than a good one (a
    /// district's 300,000 students with a field too many: 150 MB, against 89 MB for a day on
    /// which every file changed; issue 34). A reader that accepts a file with more problems
    /// than it kept reads it again keeping them all (`CSVEntityReader`), so no skipped row
    /// goes unreported or unprotected (R2).
    var problemsKept = Int.max
    public internal(set) var unknownColumns: [String] = []
    /// A delta (OneRoster `delta` files): only the records listed change; a record the
    /// rows do not list is left as it is, never deactivated for its absence.
    public internal(set) var isDelta = false
    /// Data rows read, good and bad.
    public private(set) var rowsRead = 0
    /// Number of value columns per row (cached: `kind.valueColumns` builds an array).
    public let valueCount: Int
    private var pendingHash: UInt64 = 0xcbf2_9ce4_8422_2325
    /// The row being built: its values end to end, and where each ends (little-endian
    /// 32-bit, as `RowRecord` keeps them). Only the reading thread builds rows.
    private let pendingValues = ByteBuffer(capacity: 4096)
    private let pendingEnds = ByteBuffer(capacity: 256)
    private var valueBytes = 0
    private var keyBytes = 0
    private var rowsAdded = 0
    /// At most this many value bytes, id bytes and rows: values are found by 32-bit ends and
    /// rows by Int32 numbers (a district is far below). Tests lower them to see the refusal
    /// without 4 GiB.
    var byteLimit = Int(UInt32.max) - 1
    var rowLimit = Int(Int32.max) - 1

    /// `spill`: the run's private directory, where rows beyond a few megabytes are kept;
    /// nil keeps them in memory (tests, held plans, small tools).
    public init(kind: EntityKind, source: String, spill: RunDirectory? = nil) {
        self.kind = kind
        self.source = source
        valueCount = kind.valueColumns.count
        storage = Storage(sorter: RowSorter(valueCount: valueCount, label: kind.rawValue, directory: spill))
    }

    private var rows: SortedRows { storage.sealed() }

    public var count: Int { rows.count }

    /// The key of a row (composite keys joined with U+001F).
    public func key(_ row: Int) -> String { rows.withKeyBytes(row) { String(decoding: $0, as: UTF8.self) } }

    /// All keys in key order (convenience for tests and small exports).
    public var keys: [String] { (0..<count).map(key) }

    public func withKeyBytes<R>(_ row: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try rows.withKeyBytes(row, body)
    }

    public func row(forKey key: String) -> Int? {
        var k = key
        return k.withUTF8 { row(forKeyBytes: $0) }
    }

    public func row(forKeyBytes key: UnsafeBufferPointer<UInt8>) -> Int? { rows.row(forKey: key) }

    /// The first row whose key is not before `key`, and whether it has that key; with
    /// `from`, looked for from that row forward (`RowMatcher`: every row before it has a
    /// smaller key).
    func position(of key: UnsafeBufferPointer<UInt8>) -> (index: Int, found: Bool) { rows.position(of: key) }
    func position(of key: UnsafeBufferPointer<UInt8>, from start: Int) -> (index: Int, found: Bool) { rows.position(of: key, from: start) }

    /// The rows read one after another from row `row` on (`RowMatcher`).
    func walk(from row: Int) throws -> SortedRowsWalk { try SortedRowsWalk(rows: rows, from: row) }

    /// Keys of rows that were skipped because of a bad value (R2): never deactivated.
    public var protectedKeys: Set<String> {
        _ = rows
        return storage.protectedKeys
    }

    /// Whether a key belongs to a row skipped for a bad value (R2: never deactivated).
    public func isProtected(keyBytes key: UnsafeBufferPointer<UInt8>) -> Bool {
        _ = rows
        return storage.isProtected(key)
    }

    public func value(_ row: Int, _ column: Int) -> String {
        rows.withValueBytes(row, column) { String(decoding: $0, as: UTF8.self) }
    }

    public func values(_ row: Int) -> [String] {
        (0..<valueCount).map { value(row, $0) }
    }

    public func isInactive(_ row: Int) -> Bool { rows.isInactive(row) }
    public func fingerprint(_ row: Int) -> UInt64 { rows.fingerprint(row) }

    /// Gives the raw UTF-8 bytes of one value to `body` without making a String (used by
    /// the store to bind parameters during a large import).
    public func withValueBytes<R>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try rows.withValueBytes(row, column, body)
    }

    /// Row `row` whole, for the hot loops of a large import (one look-up instead of one per
    /// value): its key, values, activity and fingerprint, valid only inside `body`, which
    /// must not read these rows again (it would wait for itself).
    func withRow<R>(_ row: Int, _ body: (RowRecord) throws -> R) rethrows -> R {
        try rows.withRecord(row, body)
    }

    /// Whether the rows went to the run's directory (more than one buffer of them).
    var isOnDisk: Bool { rows.isOnDisk }

    /// The bytes allocated for the rows kept in memory (tests: a buffer of their size).
    var memoryAllocated: Int { rows.memory.capacity }

    // MARK: building

    mutating func noteRowRead() { rowsRead += 1 }

    /// R2: more skipped rows than `limit` allows fail the file (`file` as messages name it).
    func refuseIfTooManySkipped(_ limit: InvalidRowLimit, file: String) throws(ExportError) {
        let allowed = limit.allowed(rows: rowsRead)
        if problemCount > allowed {
            throw .tooManyInvalidRows(file: file, invalid: problemCount, allowed: allowed, rows: rowsRead)
        }
    }

    /// Records a skipped row; its key, if readable, is protected (R2). A key read before
    /// is a duplicate, which `seal` reports.
    mutating func reportProblem(_ problem: RowProblem, key: String?, line: Int) throws(ExportError) {
        problemCount += 1
        // Past the problems kept, the key is not protected either (a key index entry and a
        // string per row, 117 MB for 1.5 million bad rows): the file is refused, or read
        // again keeping and protecting every one.
        guard problems.count < problemsKept else { return }
        var problem = problem
        if let key { problem.entity = kind; problem.recordKey = key }
        problems.append(problem)
        guard let key else { return }
        try count(idBytes: key.utf8.count)
        storage.protect(key, line: Int32(clamping: line), strict: true)
    }

    /// Protects a record whose source row was skipped elsewhere (a OneRoster user row that
    /// becomes several records): it is neither updated nor deactivated (R2).
    mutating func protect(_ key: String, line: Int) throws(ExportError) {
        try count(idBytes: key.utf8.count)
        storage.protect(key, line: Int32(clamping: line), strict: false)
    }

    private mutating func count(idBytes n: Int) throws(ExportError) {
        guard keyBytes + n <= byteLimit else { throw .tooLargeToHold(file: source, what: "bytes of ids", limit: byteLimit) }
        keyBytes += n
    }

    /// Appends the next value of the row being built (the hot path of a large import).
    mutating func appendValue(_ v: UnsafeBufferPointer<UInt8>) throws(ExportError) {
        let total = valueBytes + v.count
        let end = pendingValues.count + v.count
        guard total <= byteLimit, end <= Int(UInt32.max) else {
            throw .tooLargeToHold(file: source, what: "bytes of values", limit: byteLimit)
        }
        var hash = pendingHash
        for b in v { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        pendingHash = (hash ^ 0x1F) &* 0x0000_0100_0000_01B3
        valueBytes = total
        pendingValues.append(v)
        pendingEnds.append(littleEndian: UInt32(truncatingIfNeeded: end))
    }

    /// Completes the row whose values were given with `appendValue`. `strict`: a duplicate
    /// of its id fails the read (a reader's row, R2); else the later one is left out.
    mutating func finishRow(key: UnsafeBufferPointer<UInt8>, inactive: Bool, line: Int, strict: Bool = true) throws(ExportError) {
        defer {
            pendingHash = 0xcbf2_9ce4_8422_2325
            pendingValues.removeAll()
            pendingEnds.removeAll()
        }
        guard rowsAdded < rowLimit else { throw .tooLargeToHold(file: source, what: "rows", limit: rowLimit) }
        try count(idBytes: key.count)
        rowsAdded += 1
        storage.add(key: key, inactive: inactive, line: Int32(clamping: line), strict: strict, fingerprint: Self.narrowed(pendingHash),
                    valueEnds: pendingEnds.bytes, values: pendingValues.bytes)
    }

    /// Appends a validated row from values already normalised (tests, small tools); a
    /// duplicate id is left out, the first row kept.
    mutating func append(key: String, values: [ArraySlice<UInt8>], inactive: Bool, location: Int) throws(ExportError) {
        // withUnsafeBufferPointer and withUTF8 rethrow untyped: a Result keeps the ExportError.
        for v in values { try v.withUnsafeBufferPointer { b in Result { () throws(ExportError) in try appendValue(b) } }.get() }
        var k = key
        try k.withUTF8 { b in Result { () throws(ExportError) in try finishRow(key: b, inactive: inactive, line: location, strict: false) } }.get()
    }

    /// Ends the reading: the rows sorted (their runs merged), duplicates found. A reader's
    /// duplicate id fails the read with `duplicate(id, line, firstLine)` (the one read
    /// earliest, as if the read had stopped there); a run's file that cannot be written is
    /// a `RunDirectoryError`.
    mutating func seal(duplicate: (_ id: String, _ line: Int, _ firstLine: Int) -> ExportError) throws {
        if let d = try storage.seal() {
            throw duplicate(RecordKey.display(d.key), Int(d.line), Int(d.firstLine))
        }
    }

    /// The fingerprint the store keeps for a record with these values, so that an
    /// unchanged record is recognised without comparing its fields one by one.
    public static func fingerprint(values: [String]) -> UInt64 { narrowed(digest(values: values)) }

    /// The 64-bit FNV-1a digest of the values, each followed by 0x1F: what a fingerprint
    /// was before version 17 (and what version 6's step extends by a value).
    static func digest(values: [String]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values {
            for b in v.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            hash = (hash ^ 0x1F) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The bits a fingerprint has (schema 17): 48, which SQLite stores in 6 bytes instead
    /// of 8 (`StoredFingerprint`; issue 34: 2 MB of a district's 1.2 million records). The
    /// trade: a record whose values change keeps its fingerprint, and so the change goes
    /// unseen until its values change again, with a chance of 2^-48 per changed record (one
    /// in 281 trillion) instead of 2^-64.
    public static let fingerprintBits = 48
    static let fingerprintMask: UInt64 = (1 << 48) - 1

    /// A record's 64-bit FNV-1a digest as its 48-bit fingerprint: the high 16 bits folded
    /// into the low 48 (FNV's low bits alone mix the input least). A value of 48 bits
    /// stays as it is, so narrowing a fingerprint again changes nothing (a plan held
    /// before the upgrade has 64-bit ones: `StoredFingerprint` stores them narrowed).
    static func narrowed(_ digest: UInt64) -> UInt64 { (digest >> 48) ^ (digest & fingerprintMask) }

    /// Lower the sorter's buffer (tests: runs and their merge with a handful of rows).
    mutating func setRunBudget(_ bytes: Int) { storage.setRunBudget(bytes) }

    /// The sorter and, once sealed, the sorted rows, shared by copies of the value (a reader
    /// builds it alone; afterwards it is only read). Skipped rows' keys are kept here too:
    /// there are few of them (`max_invalid_rows`).
    private final class Storage: @unchecked Sendable {
        private let lock = NSLock()
        /// The sorter and the row count are touched for every row, by the one thread that
        /// reads the file (and then, under the lock, by `seal`): unchecked for exclusive
        /// access, as `CSVEntityReader`'s per-row state is (the check was one runtime call a
        /// row, about 0.6% of a day on which every file changed).
        @exclusivity(unchecked) private var sorter: RowSorter?
        private var sorted: SortedRows?
        @exclusivity(unchecked) private var sequence: UInt32 = 0
        private var protectedIndex = KeyIndex()
        private var protectedSequence: [UInt32] = []
        private var protectedLine: [Int32] = []
        private var protectedStrict: [Bool] = []
        /// A protected key that a row had first is no longer protected (R2: the row stands).
        private var protectedOverridden: [Bool] = []
        private(set) var protectedKeys: Set<String> = []
        /// The earliest duplicate found while reading (two skipped rows with one key).
        private var duplicate: Duplicate?

        struct Duplicate {
            var sequence: UInt32
            var key: String
            var line: Int32
            var firstLine: Int32
        }

        init(sorter: RowSorter) { self.sorter = sorter }

        func setRunBudget(_ bytes: Int) { sorter?.budget = bytes }

        func add(key: UnsafeBufferPointer<UInt8>, inactive: Bool, line: Int32, strict: Bool, fingerprint: UInt64,
                 valueEnds: UnsafeBufferPointer<UInt8>, values: UnsafeBufferPointer<UInt8>) {
            precondition(sorter != nil, "rows added after they were sealed")
            sorter!.add(sequence: next(), line: line, inactive: inactive, strict: strict, fingerprint: fingerprint,
                        key: key, valueEnds: valueEnds, values: values)
        }

        private func next() -> UInt32 {
            defer { sequence &+= 1 }
            return sequence
        }

        func protect(_ key: String, line: Int32, strict: Bool) {
            var k = key
            let seq = next()
            k.withUTF8 { bytes in
                // At most `max_invalid_rows` keys: far below the index's 32-bit limit.
                guard let (entry, inserted) = try? protectedIndex.insert(bytes) else { return }
                if inserted {
                    protectedSequence.append(seq)
                    protectedLine.append(line)
                    protectedStrict.append(strict)
                    protectedOverridden.append(false)
                    protectedKeys.insert(key)
                } else if strict {
                    note(Duplicate(sequence: seq, key: key, line: line, firstLine: protectedLine[entry]))
                }
            }
        }

        private func note(_ d: Duplicate) {
            if duplicate.map({ d.sequence < $0.sequence }) ?? true { duplicate = d }
        }

        func isProtected(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
            guard let e = protectedIndex.find(key) else { return false }
            return !protectedOverridden[e]
        }

        /// The rows, sealed on first use when no reader sealed them (rows built by `append`:
        /// no duplicate can fail them, and no directory was given, so nothing can fail).
        func sealed() -> SortedRows {
            lock.lock()
            let done = sorted
            lock.unlock()
            if let done { return done }
            do { _ = try seal() } catch { preconditionFailure("rows sealed on first use failed: \(error)") }
            return sorted!
        }

        /// Sorts the rows and finds the earliest duplicate (R2).
        func seal() throws -> Duplicate? {
            lock.lock()
            defer { lock.unlock() }
            guard var sorter else { return duplicate }
            self.sorter = nil
            let previous = ByteBuffer()
            var havePrevious = false
            var firstLine: Int32 = 0
            let anyProtected = protectedIndex.count > 0
            sorted = try sorter.finish(keepsDistinctKeys: !anyProtected) { r in
                let key = r.key
                // (Compared with memcmp: the generic comparison walked the keys byte by byte.)
                if havePrevious && previous.equals(key) {
                    // Read after the first row with this key.
                    if r.isStrict {
                        note(Duplicate(sequence: r.sequence, key: String(decoding: key, as: UTF8.self), line: r.line, firstLine: firstLine))
                    }
                    return false
                }
                previous.removeAll()
                previous.append(key)
                havePrevious = true
                firstLine = r.line
                guard anyProtected, let e = protectedIndex.find(key) else { return true }
                if protectedSequence[e] < r.sequence {
                    // A skipped row had the key first: it stays protected, no row.
                    firstLine = protectedLine[e]
                    if r.isStrict {
                        note(Duplicate(sequence: r.sequence, key: String(decoding: key, as: UTF8.self), line: r.line, firstLine: firstLine))
                    }
                    return false
                }
                protectedOverridden[e] = true
                protectedKeys.remove(String(decoding: key, as: UTF8.self))
                if protectedStrict[e] {
                    note(Duplicate(sequence: protectedSequence[e], key: String(decoding: key, as: UTF8.self), line: protectedLine[e], firstLine: r.line))
                }
                return true
            }
            return duplicate
        }
    }
}

import Foundation

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
