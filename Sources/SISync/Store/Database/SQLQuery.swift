/// A statement and its values, made together: `"SELECT … WHERE username = \(name)"`
/// writes a placeholder where `name` goes and keeps `name` to bind there, so a value can
/// neither end up in the SQL text nor be bound to another placeholder than its own (the
/// model is postgres-nio's `PostgresQuery`). Only `\(unescaped:)` and `\(sql:)` put text
/// into the statement, for SQL the program itself holds: a table name from a fixed list,
/// another query to compose.
///
/// Placeholders are numbered `?1`, `?2` … in the order the values appear, which both
/// drivers read the same way (`PostgresDialect` makes them `$1`, `$2` …).
public struct SQLQuery: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// One value to bind, as the drivers' `bind` calls take it.
    public enum Value: Sendable, Equatable {
        case null
        case text(String)
        case integer(Int64)
        case boolean(Bool)
        case real(Double)
    }

    /// SQL text and placeholders in order; a placeholder's number is its position among
    /// them, so composing queries renumbers nothing by hand.
    fileprivate enum Piece: Sendable, Equatable {
        case sql(String)
        case value(Value)
    }

    private var pieces: [Piece]

    /// A statement of trusted text only (no values), e.g. a literal `"SELECT count(*) FROM forms"`.
    public init(stringLiteral sql: String) { pieces = [.sql(sql)] }

    public init(stringInterpolation: StringInterpolation) { pieces = stringInterpolation.pieces }

    /// The statement with `?1` … `?N` where the values go.
    public var sql: String {
        var text = ""
        var number = 0
        for piece in pieces {
            switch piece {
            case .sql(let s): text += s
            case .value:
                number += 1
                text += "?\(number)"
            }
        }
        return text
    }

    /// The values, in placeholder order (`values[0]` is `?1`).
    public var values: [Value] {
        pieces.compactMap { if case .value(let v) = $0 { v } else { nil } }
    }

    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var pieces: [Piece] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            pieces.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) { appendSQL(literal) }

        public mutating func appendInterpolation(_ value: String?) { pieces.append(.value(value.map(Value.text) ?? .null)) }
        public mutating func appendInterpolation(_ value: Int?) { pieces.append(.value(value.map { .integer(Int64($0)) } ?? .null)) }
        public mutating func appendInterpolation(_ value: Int64?) { pieces.append(.value(value.map(Value.integer) ?? .null)) }
        public mutating func appendInterpolation(_ value: Bool) { pieces.append(.value(.boolean(value))) }
        public mutating func appendInterpolation(_ value: Bool?) { pieces.append(.value(value.map(Value.boolean) ?? .null)) }
        public mutating func appendInterpolation(_ value: Double) { pieces.append(.value(.real(value))) }
        public mutating func appendInterpolation(value: Value) { pieces.append(.value(value)) }

        /// Text the program holds, spliced into the statement as it is: never a value that
        /// came from outside (a record, a command line, a configuration file).
        public mutating func appendInterpolation(unescaped sql: String) { appendSQL(sql) }

        /// Another query, with its values: they are numbered after the ones before it.
        public mutating func appendInterpolation(sql query: SQLQuery) {
            for piece in query.pieces {
                if case .sql(let s) = piece { appendSQL(s) } else { pieces.append(piece) }
            }
        }

        private mutating func appendSQL(_ sql: String) {
            guard !sql.isEmpty else { return }
            if case .sql(let previous)? = pieces.last {
                pieces[pieces.count - 1] = .sql(previous + sql)
            } else {
                pieces.append(.sql(sql))
            }
        }
    }
}

extension StoreStatement {
    /// Binds a query's values to `?1` … `?N`.
    public func bind(_ values: [SQLQuery.Value]) throws {
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .null: try bind(index, nil as String?)
            case .text(let s): try bind(index, s)
            case .integer(let n): try bind(index, n)
            case .boolean(let b): try bind(index, b)
            case .real(let d): try bind(index, d)
            }
        }
    }
}

extension StoreDatabase {
    /// `query`'s statement with its values bound, to `step` through (or `forEachRow`).
    /// The drivers check that the statement has exactly the placeholders the query bound.
    public func query(_ query: SQLQuery) throws -> any StoreStatement {
        let statement = try prepare(query.sql)
        try statement.bind(query.values)
        return statement
    }

    /// Runs a query that returns no rows (INSERT, UPDATE, DELETE).
    public func run(_ query: SQLQuery) throws {
        try self.query(query).run()
    }

    /// Each row of `query`.
    public func forEachRow(_ query: SQLQuery, _ body: (any StoreStatement) throws -> Void) throws {
        try self.query(query).forEachRow(body)
    }

    /// The first column of the first row as an integer (a `count(*)`), or nil without a row.
    public func int(_ query: SQLQuery) throws -> Int? {
        let statement = try self.query(query)
        defer { statement.reset() }
        return try statement.step() ? statement.int(0) : nil
    }
}
