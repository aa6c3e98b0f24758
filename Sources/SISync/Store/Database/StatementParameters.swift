/// The placeholders of one prepared statement and which of them have a value yet, so
/// that both drivers refuse a value for a number the statement does not have, and a run
/// with a placeholder left without one, instead of binding NULL in its place (as SQLite's
/// cleared bindings and the PostgreSQL driver's empty slots would). GRDB's
/// `Statement.validateArguments` is the model. A number no placeholder uses (`?1` and `?3`
/// without `?2`) may stay unbound: SQLite counts it, and PostgreSQL is told it is text.
struct StatementParameters {
    /// The highest placeholder number (SQLite's `sqlite3_bind_parameter_count`).
    let count: Int
    /// One bit per number up to 64, which is every statement's but a wide INSERT's: a bind
    /// is one OR (`insertRows` binds every value of an import through here).
    private let requiredLow: UInt64
    private var boundLow: UInt64 = 0
    /// Numbers 65 and up, as flags; empty for almost every statement.
    private let requiredHigh: [Bool]
    private var boundHigh: [Bool]

    init(count: Int, unused: Set<Int> = []) {
        self.count = count
        var low: UInt64 = 0
        for n in 1...max(min(count, 64), 1) where n <= count && !unused.contains(n) { low |= 1 << UInt64(n - 1) }
        requiredLow = low
        requiredHigh = count > 64 ? (65...count).map { !unused.contains($0) } : []
        boundHigh = Array(repeating: false, count: requiredHigh.count)
    }

    /// Notes a value for `number`; false for a number the statement does not have.
    @inline(__always)
    mutating func bind(_ number: Int32) -> Bool {
        guard number >= 1 && Int(number) <= count else { return false }
        if number <= 64 { boundLow |= 1 &<< UInt64(number - 1) } else { boundHigh[Int(number) - 65] = true }
        return true
    }

    /// The first number a placeholder uses that has no value, if any.
    func firstUnbound() -> Int? {
        let missing = requiredLow & ~boundLow
        if missing != 0 { return missing.trailingZeroBitCount + 1 }
        return requiredHigh.indices.first { requiredHigh[$0] && !boundHigh[$0] }.map { $0 + 65 }
    }

    /// Forgets every value (the statement was reset for the next use).
    mutating func clear() {
        boundLow = 0
        if !boundHigh.isEmpty { boundHigh = Array(repeating: false, count: boundHigh.count) }
    }

    func tooMany(_ number: Int32, sql: String, location: String) -> StoreError {
        .parameterMismatch(path: location, sql: sql, number: Int(number), parameterCount: count, unbound: false)
    }

    /// Throws, naming the first one, when a placeholder the statement uses has no value.
    func checkComplete(sql: String, location: String) throws(StoreError) {
        guard let missing = firstUnbound() else { return }
        throw .parameterMismatch(path: location, sql: sql, number: missing, parameterCount: count, unbound: true)
    }

    /// The numbers up to the highest that no placeholder of `sql` uses, by SQLite's rules
    /// (`?` is one more than the highest so far, `?N` is N); literals and quoted names are
    /// skipped.
    static func unusedNumbers(in sql: String) -> Set<Int> {
        var highest = 0
        var used: Set<Int> = []
        var quote: UInt8?
        var bytes = sql.utf8[...]
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            if let q = quote {
                if b == q { quote = nil }
            } else if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                quote = b
            } else if b == UInt8(ascii: "?") {
                let digits = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }
                bytes = bytes.dropFirst(digits.count)
                let n = digits.isEmpty ? highest + 1 : Int(String(decoding: digits, as: UTF8.self)) ?? 0
                highest = max(highest, n)
                used.insert(n)
            }
        }
        return Set(1...max(highest, 1)).subtracting(used).filter { $0 <= highest }
    }
}
