/// One export row as the row sorter and `SortedRows` keep it, in memory and on disk alike:
/// a fixed header, the ends of its values, its key, then its values. Unaligned, little
/// endian, read in place, so that a run file and a block are walked without decoding.
///
///     u32 length   of the whole record
///     u32 sequence the order rows were read in: the first of two equal keys wins (R2)
///     i32 line     where it was read (a CSV line, a JSON array index), for messages
///     u8  flags    1 inactive, 2 a duplicate of it fails the read (a reader's row)
///     u64 fingerprint
///     u32 key length
///     u32 × values end of each value, from the start of the values
///     key bytes, value bytes
struct RowRecord {
    static let headerSize = 25
    static let inactiveFlag: UInt8 = 1
    static let strictFlag: UInt8 = 2

    let base: UnsafeRawPointer
    let valueCount: Int

    var length: Int { Int(base.loadUnaligned(as: UInt32.self)) }
    var sequence: UInt32 { base.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
    var line: Int32 { base.loadUnaligned(fromByteOffset: 8, as: Int32.self) }
    var flags: UInt8 { base.load(fromByteOffset: 12, as: UInt8.self) }
    var fingerprint: UInt64 { base.loadUnaligned(fromByteOffset: 13, as: UInt64.self) }
    private var keyLength: Int { Int(base.loadUnaligned(fromByteOffset: 21, as: UInt32.self)) }
    private var keyStart: Int { Self.headerSize + 4 * valueCount }

    var isInactive: Bool { flags & Self.inactiveFlag != 0 }
    var isStrict: Bool { flags & Self.strictFlag != 0 }

    func value(_ column: Int) -> UnsafeBufferPointer<UInt8> {
        let r = valueRange(column)
        return UnsafeBufferPointer(start: (base + r.lowerBound).assumingMemoryBound(to: UInt8.self), count: r.count)
    }

    /// Where the key lies, counted from the record's start.
    var keyRange: Range<Int> { keyStart..<(keyStart + keyLength) }

    var key: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: (base + keyStart).assumingMemoryBound(to: UInt8.self), count: keyLength)
    }

    /// Where value `column` lies, counted from the record's start.
    func valueRange(_ column: Int) -> Range<Int> {
        let values = keyStart + keyLength
        let start = column == 0 ? 0 : Int(base.loadUnaligned(fromByteOffset: Self.headerSize + 4 * (column - 1), as: UInt32.self))
        let end = Int(base.loadUnaligned(fromByteOffset: Self.headerSize + 4 * column, as: UInt32.self))
        return (values + start)..<(values + end)
    }

    /// Appends a record made of `values` (their bytes, and their cumulative ends as
    /// little-endian 32-bit numbers) to `buffer`: the header, the ends, the key and the
    /// values as one copy each.
    static func append(to buffer: ByteBuffer, sequence: UInt32, line: Int32, inactive: Bool, strict: Bool,
                       fingerprint: UInt64, key: UnsafeBufferPointer<UInt8>, valueEnds: UnsafeBufferPointer<UInt8>,
                       values: UnsafeBufferPointer<UInt8>) {
        let length = headerSize + valueEnds.count + key.count + values.count
        buffer.reserve(length)
        let header = buffer.claim(headerSize)
        header.storeBytes(of: UInt32(truncatingIfNeeded: length).littleEndian, toByteOffset: 0, as: UInt32.self)
        header.storeBytes(of: sequence.littleEndian, toByteOffset: 4, as: UInt32.self)
        header.storeBytes(of: line.littleEndian, toByteOffset: 8, as: Int32.self)
        header.storeBytes(of: (inactive ? inactiveFlag : 0) | (strict ? strictFlag : 0), toByteOffset: 12, as: UInt8.self)
        header.storeBytes(of: fingerprint.littleEndian, toByteOffset: 13, as: UInt64.self)
        header.storeBytes(of: UInt32(truncatingIfNeeded: key.count).littleEndian, toByteOffset: 21, as: UInt32.self)
        buffer.append(valueEnds)
        buffer.append(key)
        buffer.append(values)
    }
}

/// The order rows are kept in: the order SQL sorts a composite key column by column
/// (`ORDER BY k1, k2`, binary), which is the joined key's bytes with the separator (0x1F)
/// before every other byte. The mirror's tables are kept in this order, so the planner's
/// scan of a table meets the export's rows in the order they are stored.
enum KeyOrder {
    /// Negative, zero or positive as `a` sorts before, with or after `b`.
    /// The common prefix is skipped eight bytes at a time (ids share most of theirs:
    /// `ST0000001`, `ST0000002`), as every sort, merge and match of rows compares keys.
    static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        var i = 0
        if n >= 8, let pa = a.baseAddress, let pb = b.baseAddress {
            let ra = UnsafeRawPointer(pa), rb = UnsafeRawPointer(pb)
            while i + 8 <= n {
                let differ = UInt64(littleEndian: ra.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                    ^ UInt64(littleEndian: rb.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if differ != 0 {
                    // The first byte that differs; the loop below compares it.
                    i += differ.trailingZeroBitCount >> 3
                    break
                }
                i += 8
            }
        }
        while i < n {
            let x = a[i], y = b[i]
            if x != y {
                if x == 0x1F { return -1 }
                if y == 0x1F { return 1 }
                return x < y ? -1 : 1
            }
            i += 1
        }
        return a.count - b.count
    }
}
