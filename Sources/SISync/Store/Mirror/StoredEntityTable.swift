import Foundation

/// The stored state of one entity, read straight from its table.
final class StoredEntityTable: StoredEntityState {
    let database: any StoreDatabase
    let kind: EntityKind
    private let fingerprints: StoredFingerprint
    /// Prepared once and bound per call: a run looks records up one at a time (students in
    /// scope, explain), so the lookup is a statement kept rather than a query made each time.
    private let lookup: any StoreStatement

    init(database: any StoreDatabase, kind: EntityKind) throws {
        self.database = database
        self.kind = kind
        fingerprints = StoredFingerprint(kind)
        lookup = try database.prepare(Self.lookupQuery(kind, key: Array(repeating: "", count: kind.keyColumns.count)).sql)
    }

    /// The lookup of one record by its key parts; its SQL is the same for every key, so the
    /// statement is prepared once and each call binds this query's values.
    private static func lookupQuery(_ kind: EntityKind, key parts: [String]) -> SQLQuery {
        var query: SQLQuery = "SELECT \(unescaped: (kind.valueColumns + ["active"]).joined(separator: ", ")) FROM \(unescaped: kind.table) WHERE "
        for (i, (column, part)) in zip(kind.keyColumns, parts).enumerated() {
            query = "\(sql: query)\(unescaped: i == 0 ? "" : " AND ")\(unescaped: column) = \(part)"
        }
        return query
    }

    func activeCount() throws -> Int {
        try database.int("SELECT count(*) FROM \(unescaped: kind.table) WHERE active = TRUE") ?? 0
    }

    func forEachRecord(_ body: (StoredRecordView) throws -> Void) throws {
        let statement = try database.query("SELECT fingerprint, active, missing_since, \(unescaped: kind.keyColumns.joined(separator: ", ")) FROM \(unescaped: kind.table)")
        defer { statement.reset() }
        // SQLite's statement read as its own type, so that each column is a direct call:
        // through the protocol, the generic `withText` of a key part cost more instructions
        // than SQLite's own reading of it (a day on which every file changed: the scan was
        // 2.6e9 instructions, of which 0.36e9 the calls of `withText`; callgrind, issue 34).
        if let sqlite = statement as? SQLiteStatement {
            try scan(sqlite, body)
        } else {
            try scan(statement, body)
        }
    }

    private func scan<Row: StoreStatement>(_ row: Row, _ body: (StoredRecordView) throws -> Void) throws {
        let parts = Int32(kind.keyColumns.count)
        // A composite key's parts are joined here, in one buffer kept for the scan (joined by
        // SQLite, each row's key was a string it made and freed).
        let key = ByteBuffer()
        while try row.step() {
            let missing = row.isNull(2) ? nil : row.string(2).flatMap(Timestamp.parse)
            let fingerprint = fingerprints.fingerprint(row.int64(0)), active = row.bool(1)
            guard parts > 1 else {
                try row.withText(3) { try body(StoredRecordView(keyBytes: $0, fingerprint: fingerprint, active: active, missingSince: missing)) }
                continue
            }
            key.removeAll()
            for p in 0..<parts {
                if p > 0 { key.append(UInt8(0x1F)) }
                row.withText(3 + p) { key.append($0) }
            }
            try body(StoredRecordView(keyBytes: key.bytes, fingerprint: fingerprint, active: active, missingSince: missing))
        }
    }

    func forEachMissingRecord(_ body: (StoredRecord) throws -> Void) throws {
        // Composite keys are joined by SQLite itself: one value per row, not one per part
        // (few rows: only records missing from the export).
        let keyExpression = kind.keyColumns.joined(separator: " || char(31) || ")
        try database.forEachRow("SELECT \(unescaped: keyExpression), fingerprint, active, missing_since FROM \(unescaped: kind.table) WHERE missing_since IS NOT NULL AND active = TRUE") { row in
            let missing = row.string(3).flatMap(Timestamp.parse)
            try body(StoredRecord(key: row.text(0), fingerprint: fingerprints.fingerprint(row.int64(1)), active: row.bool(2), missingSince: missing))
        }
    }

    func values(forKey key: String) throws -> [String]? { try record(forKey: key)?.values }

    /// The keys go into a temporary table (COPY on PostgreSQL) that one SELECT joins; when
    /// they are most of the table (a renumbered district's leavers), the table is read
    /// through once instead, in its own order, and filtered here: no key written out, no
    /// look-up per key.
    func values(forKeys keys: [String]) throws -> [String: [String]] {
        if keys.count >= Self.scanningFrom, keys.count * 2 >= (try database.int("SELECT count(*) FROM \(unescaped: kind.table)") ?? 0) {
            return try valuesScanning(forKeys: keys)
        }
        let columns = kind.keyColumns
        let wanted = "wanted_\(kind.table)"
        try database.execute("""
            CREATE TEMP TABLE IF NOT EXISTS \(wanted) (\(columns.map { "\($0) TEXT NOT NULL" }.joined(separator: ", ")));
            DELETE FROM temp.\(wanted);
            """)
        try database.insertRows(into: "temp." + wanted, columns: columns) { rows in
            for key in keys {
                let parts = columns.count == 1 ? [key] : RecordKey.parts(key)
                guard parts.count == columns.count else { continue }
                for p in parts { try rows.add(p) }
                try rows.endRow()
            }
        }
        try database.refreshStatistics(["temp." + wanted])
        let keyExpression = columns.map { "t.\($0)" }.joined(separator: " || char(31) || ")
        let matches = columns.map { "t.\($0) = w.\($0)" }.joined(separator: " AND ")
        let select: SQLQuery = "SELECT \(unescaped: keyExpression)\(unescaped: kind.valueColumns.map { ", t.\($0)" }.joined()) FROM temp.\(unescaped: wanted) w JOIN \(unescaped: kind.table) t ON \(unescaped: matches)"
        var out: [String: [String]] = [:]
        out.reserveCapacity(keys.count)
        let n = Int32(kind.valueColumns.count)
        try database.forEachRow(select) { r in out[r.text(0)] = (0..<n).map { r.text($0 + 1) } }
        return out
    }

    /// Below this many keys the join is cheaper whatever the table's size.
    static let scanningFrom = 5_000

    private func valuesScanning(forKeys keys: [String]) throws -> [String: [String]] {
        let wanted = Set(keys)
        let keyExpression = kind.keyColumns.joined(separator: " || char(31) || ")
        let select: SQLQuery = "SELECT \(unescaped: keyExpression)\(unescaped: kind.valueColumns.map { ", \($0)" }.joined()) FROM \(unescaped: kind.table)"
        var out: [String: [String]] = [:]
        out.reserveCapacity(wanted.count)
        let n = Int32(kind.valueColumns.count)
        try database.forEachRow(select) { r in
            let key = r.text(0)
            if wanted.contains(key) { out[key] = (0..<n).map { r.text($0 + 1) } }
        }
        return out
    }

    func record(forKey key: String) throws -> (values: [String], active: Bool)? {
        let parts = kind.keyColumns.count == 1 ? [key] : RecordKey.parts(key)
        // A key with the wrong number of parts cannot name a stored record (ids never hold
        // the separator: RowRules refuses control characters in ids).
        guard parts.count == kind.keyColumns.count else { return nil }
        try lookup.bind(Self.lookupQuery(kind, key: parts).values)
        defer { lookup.reset() }
        guard try lookup.step() else { return nil }
        let n = Int32(kind.valueColumns.count)
        return ((0..<n).map { lookup.text($0) }, lookup.bool(n))
    }
}

