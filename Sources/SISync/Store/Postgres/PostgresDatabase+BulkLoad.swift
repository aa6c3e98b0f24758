import Foundation

/// A bulk load on PostgreSQL (a district's first linking run grants 294,716 calculated
/// roles) with the table's keys, indexes and references built and checked once after the
/// rows, not kept row by row.
///
/// Row by row, each of those rows costs a b-tree insert into a key on a `nocase` username
/// (ICU compares it, at about a microsecond a comparison, some twenty comparisons a row)
/// and a foreign-key trigger that looks up and locks the user's row; afterwards, a key is
/// one sort of the table and a reference one join. Measured on the synthetic district's
/// first run (load 14, so about three times a quiet machine's times): the `user_roles`
/// insert took 13.8 s with its key and reference, 8.4 s with the key only, and 1.2 s bare,
/// then 0.5–1.1 s to build the key and 0.3 s to check the reference (by a merge of the
/// two keys' indexes).
///
/// The definitions are read from the catalog and made again as they were (same names, same
/// text; only a `username` reference to `users` a trusted load left `NOT VALID` is made
/// again checked), inside the caller's transaction: a failed run rolls back to the old ones, and
/// no reader ever sees the table without them. A rule broken by the rows (a duplicate key,
/// a user that does not exist) fails the statement that makes the constraint again, so the
/// run fails and rolls back exactly as it would have on the row. Until the commit, the
/// table (and, for a reference, the table it refers to) is held in ACCESS EXCLUSIVE mode:
/// readers such as `sisync-api` wait, for the last seconds of a first run (from its links,
/// `links` being loaded so too); that is why it happens only when the load adds at least a
/// quarter of the rows the table will have.
extension PostgresDatabase {
    /// Whether adding `adding` rows to `existing` makes the constraints again after them:
    /// the users' bulk loads' rule (`UserBulkLoad.rebuilds`, a quarter of the rows the table
    /// will have). A first run's grants are all of them; a day's, a few hundred of 300,000,
    /// which a rebuild would make slower.
    static func rebuildsConstraints(adding: Int, existing: Int) -> Bool {
        UserBulkLoad.rebuilds(adding: adding, existing: existing)
    }

    public func bulkLoading(_ table: String, adding: Int, _ load: () throws -> Void) throws {
        guard adding > 0 else { return try load() }
        let name = PostgresSchema.qualified(settings.schema, table)
        let existing = Int(try connection.execute("SELECT count(*) FROM \(name)").value(0, 0) ?? "0") ?? 0
        guard Self.rebuildsConstraints(adding: adding, existing: existing) else { return try load() }
        let rebuilt = try rebuildableDefinitions(of: name)
        guard !rebuilt.isEmpty else { return try load() }
        for d in rebuilt { try connection.executeScript(d.drop) }
        try load()
        // Trusted, a reference is made `NOT VALID` only over rows it would have read: an
        // empty table's is checked at no cost.
        let notValid = try referencesTrusted && rebuilt.contains { $0.toUsers }
            && connection.execute("SELECT count(*) FROM (SELECT 1 FROM \(name) LIMIT 1) x").value(0, 0) == "1"
        // A reference is checked by one join of the two tables, by their keys' indexes: a
        // hash join hashes every `nocase` username through ICU (1.2 s against 0.3 s for
        // the first run's grants).
        try preferringIndexLookups {
            for d in rebuilt.reversed() { try connection.executeScript(d.create + (notValid && d.toUsers ? " NOT VALID" : "")) }
        }
    }

    /// Runs `body`, whose writes refer only to rows that exist and cannot go away before
    /// the commit (`StoreDatabase.trustingReferences`): a bulk load made entirely inside it
    /// (`bulkLoading`, its constraints made again before `body` returns) makes its
    /// reference from `username` to `users` again `NOT VALID` (what every caller's
    /// reasoning is about; any other reference of the table, an application's too, is
    /// checked as before), without the join of every row with the table it
    /// refers to, which could find nothing. Such a reference is enforced as any other for
    /// every row written after it; PostgreSQL only records that it did not read the rows
    /// already there (`pg_constraint.convalidated`, and `NOT VALID` in `pg_dump` and
    /// `\d`), and the next bulk load made outside this checks them all again
    /// (`rebuildableDefinitions`). A district's first run's 294,716 grants: the check took
    /// 0.12 s of the server's 2.1 s (a quiet machine; docs/schema.md).
    public func trustingReferences<T>(_ body: () throws -> T) throws -> T {
        let was = referencesTrusted
        referencesTrusted = true
        defer { referencesTrusted = was }
        return try body()
    }

    /// An application's triggers (a foreign key's own are internal and not counted).
    public func hasTriggers(on tables: [String]) throws -> Bool {
        try tables.contains { table in
            try connection.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal",
                                   [PostgresSchema.qualified(settings.schema, table)]).value(0, 0) != "0"
        }
    }

    /// Whether the reference `constraint` (a `pg_constraint` alias) is of one column named
    /// `username` to one named `username`: sisync's own reference to `users`, not an
    /// application's key on another column of the same table.
    static func referenceByUsername(_ constraint: String) -> String {
        """
        cardinality(\(constraint).conkey) = 1
          AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = \(constraint).conrelid AND a.attnum = \(constraint).conkey[1]) = 'username'
          AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = \(constraint).confrelid AND a.attnum = \(constraint).confkey[1]) = 'username'
        """
    }

    /// The table's references, plain indexes, and (when no other table refers to it) its
    /// primary key and unique constraints, as (drop, create) statements in the order to
    /// drop them (references first, so that a key is dropped after what might use it);
    /// they are made again in the reverse order.
    private func rebuildableDefinitions(of table: String) throws -> [(drop: String, create: String, reference: Bool, toUsers: Bool)] {
        let users = PostgresSchema.qualified(settings.schema, "users")
        let constraints = try connection.execute("""
            SELECT quote_ident(c.conname), pg_get_constraintdef(c.oid), c.contype,
              c.contype = 'f' AND c.confrelid = to_regclass($2) AND \(Self.referenceByUsername("c")) FROM pg_constraint c
            WHERE c.conrelid = to_regclass($1) AND (c.contype = 'f' OR (c.contype IN ('p', 'u')
              AND NOT EXISTS (SELECT 1 FROM pg_constraint r WHERE r.confrelid = c.conrelid AND r.contype = 'f')))
            ORDER BY c.contype = 'f' DESC, c.conname
            """, [table, users])
        let indexes = try connection.execute("""
            SELECT quote_ident(n.nspname) || '.' || quote_ident(i.relname), pg_get_indexdef(i.oid) FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
            WHERE x.indrelid = to_regclass($1) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
            ORDER BY i.relname
            """, [table])
        var references: [(drop: String, create: String, reference: Bool, toUsers: Bool)] = [], keys: [(drop: String, create: String, reference: Bool, toUsers: Bool)] = []
        for row in constraints.rows {
            guard let name = row[0], var definition = row[1] else { continue }
            let reference = row[2] == "f", toUsers = row[3] == "t"
            // The reference to `users` a trusted load left `NOT VALID` is made again checked:
            // this load's rows, and those before, are read (`bulkLoading` adds `NOT VALID`
            // when trusted). Any other reference is made again as it was, `NOT VALID` or not.
            if toUsers, definition.hasSuffix(" NOT VALID") { definition.removeLast(" NOT VALID".count) }
            let statements = (drop: "ALTER TABLE \(table) DROP CONSTRAINT \(name)", create: "ALTER TABLE \(table) ADD CONSTRAINT \(name) \(definition)",
                              reference: reference, toUsers: toUsers)
            if reference { references.append(statements) } else { keys.append(statements) }
        }
        let plain = indexes.rows.compactMap { row -> (drop: String, create: String, reference: Bool, toUsers: Bool)? in
            guard let name = row[0], let definition = row[1] else { return nil }
            return ("DROP INDEX \(name)", definition, false, false)
        }
        return references + plain + keys
    }
}
