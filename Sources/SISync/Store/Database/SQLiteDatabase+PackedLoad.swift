import CSQLite

/// A first load of a key-ordered table (a district's first import: 1.2 million records in
/// seven `WITHOUT ROWID` mirror tables) with its pages packed full (issue 34: the database
/// after import and linking ≤ 150 MiB).
///
/// Why: rows inserted in key order fill the rightmost leaf, and when it overflows SQLite
/// splits it with its neighbours so that the pages share the cells, leaving each about 11%
/// empty: 10.5 MB of a district's 91 MB of records. SQLite packs pages full only when it
/// knows the rows come sorted into an empty b-tree, which it knows for `CREATE INDEX` and
/// for its transfer of one table into another of the same definition (`INSERT INTO t
/// SELECT * FROM s`, t empty, no trigger on t, no reference from t while foreign keys are
/// enforced), which copies the records as they are. So the rows go first into a temporary
/// copy of the table, and one such statement moves them: students 36.3 → 32.5 MB, 1.0%
/// empty.
///
/// How: the table and its indexes are made again in the temp schema, under the same names,
/// from the text SQLite keeps of them (`sqlite_master`, always `CREATE TABLE name …` and
/// `CREATE [UNIQUE] INDEX name ON …`, whatever was written), so that the copy has the same
/// columns, types, collations, defaults, key and indexes the transfer requires. All of it
/// inside the caller's transaction: a failure or a stop rolls the copy back with the rest
/// (R1). Where SQLite declines the transfer (an application's trigger on the table), the
/// same statement inserts the copy's rows one by one, in key order, firing the trigger as
/// the direct load would have: the same rows, the pages as before. The copy's pages past
/// the temp schema's cache (SQLite's default, 2 MiB) go to a temporary file, so memory does
/// not grow with the district.
extension SQLiteDatabase {
    public func loadingPacked(_ table: String, _ load: (_ target: String) throws -> Void) throws {
        guard let definitions = try temporaryCopy(of: table) else { return try load(table) }
        let copy = "temp.\(table)"
        try execute("DROP TABLE IF EXISTS \(copy)")
        // One statement at a time: SQLite keeps an index's trailing `-- comment` in its text,
        // which would swallow a `;` and the next definition if they were joined.
        for definition in definitions { try execute(definition) }
        // Until it is dropped, the copy hides the main table from every statement that
        // names it unqualified (the run's events read the records back so): it goes before
        // anything else runs, and a failure to drop it fails the run, whose rollback
        // takes the copy back with it.
        do {
            try load(copy)
            try execute("INSERT INTO main.\(table) SELECT * FROM \(copy)")
        } catch {
            try? dropCopy(copy)
            throw error
        }
        try dropCopy(copy)
    }

    /// Drops the temporary copy without overwriting its pages: this SQLite library erases
    /// what it frees (`SECURE_DELETE`), which for the copy (rows the main table now holds,
    /// in a file deleted when the connection closes) would read and write every page again.
    private func dropCopy(_ copy: String) throws {
        let erasing = try int("PRAGMA temp.secure_delete") ?? 0
        if erasing != 0 { try execute("PRAGMA temp.secure_delete = 0") }
        // (2 is what `fast` reads back as: set as a number, 2 would mean on.)
        defer { if erasing != 0 { try? execute("PRAGMA temp.secure_delete = \(erasing == 2 ? "fast" : "\(erasing)")") } }
        try execute("DROP TABLE IF EXISTS \(copy)")
    }

    /// The statements that make `table` and its indexes again in the temp schema, or nil
    /// when the copy could not take the rows as the table would: a definition not in the
    /// form SQLite keeps; a generated or hidden column (`SELECT *` would give it, and an
    /// `INSERT` without a column list refuses it when the transfer is declined); a
    /// reference while foreign keys are enforced (the copy's would name a table of the temp
    /// schema, and SQLite declines the transfer into a table with references then: a table
    /// with references is packed inside `trustingReferences` only).
    func temporaryCopy(of table: String) throws -> [String]? {
        guard try int("SELECT count(*) FROM pragma_table_xinfo(\(table), 'main') WHERE hidden != 0") == 0 else { return nil }
        if sisync_sqlite_enforce_foreign_keys(handle, -1) == 1,
           try int("SELECT count(*) FROM pragma_foreign_key_list(\(table), 'main')") != 0 {
            return nil
        }
        var statements: [String] = []
        var unusual = false
        try forEachRow("SELECT type, sql FROM main.sqlite_master WHERE tbl_name = \(table) COLLATE NOCASE AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type = 'index', name") { row in
            let sql = row.text(1)
            let forms: [(kept: String, copy: String)] = row.text(0) == "table"
                ? [("CREATE TABLE ", "CREATE TEMP TABLE ")]
                : [("CREATE INDEX ", "CREATE INDEX temp."), ("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX temp.")]
            guard let form = forms.first(where: { sql.hasPrefix($0.kept) }) else {
                unusual = true
                return
            }
            statements.append(form.copy + sql.dropFirst(form.kept.count))
        }
        guard !unusual, statements.first?.hasPrefix("CREATE TEMP TABLE ") == true else { return nil }
        return statements
    }
}
