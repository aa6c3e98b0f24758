/// The one connection a store talks through, whichever database holds it. The stores
/// write their SQL once, in the dialect SQLite reads; a driver that speaks another
/// dialect (`PostgresDatabase`) translates it in one place (`PostgresDialect`), so no
/// store, planner or command needs to know which database it has.
public protocol StoreDatabase: AnyObject {
    /// What to call the database in messages and `status`: a file path, or a URI without
    /// any password.
    var location: String { get }

    /// Runs SQL without parameters (schema, temporary tables); may hold several statements.
    func execute(_ sql: String) throws
    func prepare(_ sql: String) throws -> any StoreStatement

    /// Runs `body` in one write transaction: committed if it returns (rolled back instead
    /// when `commit` is false, for dry runs), rolled back if it throws.
    func transaction<T>(commit: Bool, _ body: () throws -> T) throws -> T

    /// Rows changed by the last INSERT, UPDATE or DELETE run through this connection.
    var changes: Int { get }

    /// Makes a running statement fail soon (safe from another thread: a stopping daemon).
    func interrupt()

    func tableExists(_ name: String) throws -> Bool

    /// The bytes the store takes up (the file, or the schema's relations).
    func sizeInBytes() throws -> Int

    /// Inserts many rows into `table` (inside the caller's transaction): a prepared INSERT
    /// per row for SQLite, one `COPY` for PostgreSQL, where a round trip per row would make
    /// a district's import take minutes. `body` gives each row's values in `columns` order.
    func insertRows(into table: String, columns: [String], _ body: (any RowSink) throws -> Void) throws

    /// Runs `load`, which adds `adding` rows to `table` inside the caller's transaction.
    /// PostgreSQL, when they are at least a quarter of the rows the table will have (a
    /// first run's grants): the table's keys, indexes and references are dropped before and
    /// made again after them, checked once instead of row by row (`PostgresDatabase+BulkLoad`).
    /// SQLite: `load` as it is.
    func bulkLoading(_ table: String, adding: Int, _ load: () throws -> Void) throws

    /// Runs `load`, which adds rows in key order to `table`, empty until now, inside the
    /// caller's transaction, and is told which table to write them to. SQLite: a temporary
    /// copy of `table`, whose rows one `INSERT … SELECT *` then moves to `table` with its
    /// pages packed full; written there directly, a key-ordered table's pages are left about
    /// 11% empty (`SQLiteDatabase+PackedLoad`); a table with references only inside
    /// `trustingReferences`, else `table` itself. PostgreSQL: `table` itself (its pages are
    /// filled to the end as rows are appended).
    func loadingPacked(_ table: String, _ load: (_ target: String) throws -> Void) throws

    /// Runs `body`, whose writes refer only to rows the same transaction already refers to
    /// through the same references (a role's username read from `links`, `user_attachments`
    /// or `access_pairings`, each of which refers to `users` with its check in force; an
    /// import's attachments, each of a user it has just read or added), with no foreign-key
    /// check per row written: the reference is already known to hold. SQLite:
    /// each calculated role of a district's first run probed `users`' key once more, a
    /// fifth of the rules' instructions. PostgreSQL, which checks a large load's references
    /// once after it (`bulkLoading`): a bulk load made inside `body` makes them again
    /// `NOT VALID`, without that check (a district's first grants: 0.12 s of 2.1 s), and
    /// other writes as they are. The caller must hold the referenced rows (the load's
    /// lock on `users`), or write only rows it reads in the same statement from tables
    /// whose references are in force. A row another writer left in those
    /// tables with its checks off (docs/schema.md: applications never write them) would give
    /// a role to a user that does not exist here, where the check would have failed the run.
    func trustingReferences<T>(_ body: () throws -> T) throws -> T

    /// Runs `body`, whose writes meet their tables' `CHECK` constraints by how they are
    /// written (a calculated grant's `source` is the constant `'calculated'`), without
    /// evaluating them per row. SQLite: `user_roles`' check on `source` was 0.17 of a
    /// district's first grants' 4.9 billion instructions (its `IN` list turns the text into
    /// a number for each row). PostgreSQL: `body` as it is.
    func trustingChecks<T>(_ body: () throws -> T) throws -> T

    /// Whether any of `tables` has a trigger (sisync's schema gives them none: an
    /// application's), true when the store cannot tell. A trigger may drop or change the
    /// rows a transaction writes, which `trustingReferences`' reasoning does not cover.
    func hasTriggers(on tables: [String]) throws -> Bool

    /// Tells the planner what temporary tables now hold. PostgreSQL never gathers
    /// statistics on temporary tables itself and plans joins against them blind; SQLite's
    /// statements fix their join order instead (`CROSS JOIN`), so it does nothing.
    func refreshStatistics(_ tables: [String]) throws

    /// Each row of `query`, for a result that may be a whole district (the linking read of
    /// every user), held at most `pageSize` rows at a time. SQLite steps through its rows
    /// as they are read anyway; PostgreSQL's libpq would hold the whole result, so a
    /// cursor hands it over a page at a time (`FETCH`).
    func forEachRowInPages(_ query: SQLQuery, pageSize: Int, _ body: (any StoreStatement) throws -> Void) throws

    /// Runs `body` with joins that probe indexes rather than hash whole tables. For the
    /// few statements that start from a handful of rows (the users a run touched, the
    /// linked users) and join tables keyed by username: PostgreSQL hashes a `nocase`
    /// username through ICU at about 1 µs a row, which its cost model does not see, so it
    /// would hash 200,000 usernames to find 2,000. SQLite's statements fix their join
    /// order instead, so it only runs `body`.
    func preferringIndexLookups<T>(_ body: () throws -> T) throws -> T

    /// Makes whoever else appends to `table` wait until this transaction has ended, so
    /// that ids drawn from its sequence become visible in order (the change feed: a reader
    /// never sees id N+1 before N). PostgreSQL: `LOCK TABLE … IN EXCLUSIVE MODE`, which
    /// readers pass; SQLite has one writer at a time already, so it does nothing.
    func serializeAppends(to table: String) throws

    /// Tells listeners on `channel` when this transaction commits (PostgreSQL `NOTIFY`,
    /// dropped on rollback); SQLite has no listeners, so it does nothing.
    func announce(channel: String, payload: String) throws

    /// Runs `body`'s reads in one snapshot, never waiting for a writer. SQLite: one
    /// deferred read transaction, so a request of several statements takes WAL's read lock
    /// once instead of once per statement (the lock calls were an eighth of a
    /// `GET /v1/users/{u}`). PostgreSQL: `body` as it is (a transaction would add two
    /// round trips to each request).
    func readingOneSnapshot<T>(_ body: () throws -> T) throws -> T
}

extension StoreDatabase {
    public func readingOneSnapshot<T>(_ body: () throws -> T) throws -> T { try body() }
    public func bulkLoading(_ table: String, adding: Int, _ load: () throws -> Void) throws { try load() }
    public func loadingPacked(_ table: String, _ load: (_ target: String) throws -> Void) throws { try load(table) }
    public func trustingReferences<T>(_ body: () throws -> T) throws -> T { try body() }
    public func trustingChecks<T>(_ body: () throws -> T) throws -> T { try body() }
    public func hasTriggers(on tables: [String]) throws -> Bool { true }
    public func forEachRowInPages(_ query: SQLQuery, pageSize: Int, _ body: (any StoreStatement) throws -> Void) throws {
        try forEachRow(query, body)
    }
}

/// Where `insertRows` takes its rows: values in column order, then `endRow`.
public protocol RowSink: AnyObject {
    func add(utf8 bytes: UnsafeBufferPointer<UInt8>) throws
    func add(_ value: String?) throws
    func add(_ value: Int64?) throws
    func add(_ value: Bool) throws
    func endRow() throws
}

extension StoreDatabase {
    public func transaction<T>(_ body: () throws -> T) throws -> T { try transaction(commit: true, body) }
}

/// One prepared statement. Parameters are always bound, never spliced into SQL text.
/// Columns read back as SQLite would give them: booleans as 0 and 1, timestamps as
/// `2026-12-01T08:15:00Z`.
public protocol StoreStatement: AnyObject {
    func bind(_ index: Int32, _ value: String?) throws
    func bind(_ index: Int32, utf8 bytes: UnsafeBufferPointer<UInt8>) throws
    func bind(_ index: Int32, _ value: Int64?) throws
    func bind(_ index: Int32, _ value: Bool) throws
    func bind(_ index: Int32, _ value: Double) throws

    /// Advances; true when a row is available.
    @discardableResult func step() throws -> Bool
    func reset()

    var columnCount: Int32 { get }
    func isNull(_ column: Int32) -> Bool
    func string(_ column: Int32) -> String?
    func int64(_ column: Int32) -> Int64
    /// The column's UTF-8 bytes without making a String; valid only inside `body`.
    func withText<R>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R
}

extension StoreStatement {
    public func bind(_ index: Int32, _ value: Int) throws { try bind(index, Int64(value)) }
    public func text(_ column: Int32) -> String { string(column) ?? "" }
    public func int(_ column: Int32) -> Int { Int(int64(column)) }
    public func bool(_ column: Int32) -> Bool { int64(column) != 0 }

    /// Runs a statement that returns no rows, then resets it for reuse.
    public func run() throws {
        defer { reset() }
        _ = try step()
    }

    /// Steps through every row, calling `body` for each.
    public func forEachRow(_ body: (any StoreStatement) throws -> Void) throws {
        defer { reset() }
        while try step() { try body(self) }
    }
}
