/// How a record's fingerprint is kept in its table's `fingerprint` column: 48 bits in a
/// signed number SQLite stores in 6 bytes (schema 17).
///
/// An entity without data columns (attributes) has the digest of no values, the same in
/// every row: kept as it is, that was 8 bytes in each of a district's 200,000 attributes
/// (1.7 MB of the database; issue 34). It is kept as 0 instead, which SQLite stores in no
/// bytes at all, and read back as that digest whatever the column holds (a revert's 0
/// included): such a record has no fields to compare, so only its activity can change.
struct StoredFingerprint {
    /// The entity has no data columns.
    private let withoutValues: Bool
    private static let noValues = EntityRows.fingerprint(values: [])

    init(_ kind: EntityKind) { withoutValues = kind.valueColumns.isEmpty }

    /// The column's value for a record whose data columns have `fingerprint`: its 48 bits
    /// (`EntityRows.narrowed`) as a signed number from -2^47 to 2^47 - 1, which SQLite
    /// stores in 6 bytes (a number of 0 to 2^48 - 1 would take 8).
    func column(_ fingerprint: UInt64) -> Int64 {
        withoutValues ? 0 : Int64(bitPattern: EntityRows.narrowed(fingerprint) << 16) >> 16
    }

    /// The fingerprint the planner compares, from the column's value.
    func fingerprint(_ column: Int64) -> UInt64 {
        withoutValues ? Self.noValues : UInt64(bitPattern: column) & EntityRows.fingerprintMask
    }
}
