import Foundation

/// What the planner needs to know about one stored record.
public struct StoredRecord: Sendable, Equatable {
    public var key: String
    public var fingerprint: UInt64
    public var active: Bool
    public var missingSince: Date?

    public init(key: String, fingerprint: UInt64, active: Bool, missingSince: Date?) {
        self.key = key
        self.fingerprint = fingerprint
        self.active = active
        self.missingSince = missingSince
    }
}

/// A stored record as a full scan hands it to the planner: the key's bytes are borrowed from
/// the database (no string per row for a million-row district) and valid only during the
/// callback.
public struct StoredRecordView {
    public let keyBytes: UnsafeBufferPointer<UInt8>
    public let fingerprint: UInt64
    public let active: Bool
    public let missingSince: Date?

    public init(keyBytes: UnsafeBufferPointer<UInt8>, fingerprint: UInt64, active: Bool, missingSince: Date?) {
        self.keyBytes = keyBytes
        self.fingerprint = fingerprint
        self.active = active
        self.missingSince = missingSince
    }

    public var key: String { String(decoding: keyBytes, as: UTF8.self) }
}

/// The stored state of one entity as the planner sees it. The store implements it over
/// SQLite (streaming rows, never loading the table whole); tests implement it in memory.
public protocol StoredEntityState {
    /// Active records before the run (the base of the R5 percentage).
    func activeCount() throws -> Int
    /// Calls `body` for every stored record.
    func forEachRecord(_ body: (StoredRecordView) throws -> Void) throws
    /// Calls `body` for every active record that has a *missing since* time.
    func forEachMissingRecord(_ body: (StoredRecord) throws -> Void) throws
    /// The stored values of `EntityKind.valueColumns`, for field-by-field comparison.
    func values(forKey key: String) throws -> [String]?
    /// The stored values of many records at once, by key (a key with no record is left
    /// out): one query instead of a round trip per changed record.
    func values(forKeys keys: [String]) throws -> [String: [String]]
    /// The stored values and activity of one record (a delta export builds on them).
    func record(forKey key: String) throws -> (values: [String], active: Bool)?
}

extension StoredEntityState {
    public func values(forKeys keys: [String]) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for k in keys { if let v = try values(forKey: k) { out[k] = v } }
        return out
    }
}

/// A stored state held in memory (tests, dry runs on small data).
public struct InMemoryEntityState: StoredEntityState {
    public var records: [StoredRecord]
    public var storedValues: [String: [String]]

    public init(records: [(key: String, values: [String], active: Bool, missingSince: Date?)] = []) {
        self.records = records.map {
            StoredRecord(key: $0.key, fingerprint: EntityRows.fingerprint(values: $0.values), active: $0.active, missingSince: $0.missingSince)
        }
        storedValues = Dictionary(records.map { ($0.key, $0.values) }, uniquingKeysWith: { a, _ in a })
    }

    public func activeCount() -> Int { records.filter(\.active).count }
    public func forEachRecord(_ body: (StoredRecordView) throws -> Void) throws {
        for r in records {
            var key = r.key
            try key.withUTF8 { try body(StoredRecordView(keyBytes: $0, fingerprint: r.fingerprint, active: r.active, missingSince: r.missingSince)) }
        }
    }
    public func forEachMissingRecord(_ body: (StoredRecord) throws -> Void) throws {
        try records.filter { $0.active && $0.missingSince != nil }.forEach(body)
    }
    public func values(forKey key: String) throws -> [String]? { storedValues[key] }
    public func record(forKey key: String) throws -> (values: [String], active: Bool)? {
        guard let v = storedValues[key] else { return nil }
        return (v, records.first { $0.key == key }?.active ?? true)
    }
}
