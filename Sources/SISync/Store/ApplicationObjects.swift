/// What applications made on a table that a migration step makes again (SQLite's way to
/// change a table: make the new one, copy the rows, drop the old, rename), kept across it.
///
/// docs/schema.md invites applications to read `users` and to insert into it, so some add
/// their own index or trigger on it, a view over it, or a column. Dropping the old table
/// would drop their indexes and triggers on it without a word, and a view or another
/// table's trigger that reads it makes the rename fail ("error in view …: no such table"),
/// so the daemon could not start until someone dropped it by hand. Their views and triggers
/// are set aside before the step and every such object is made again after it, word for
/// word; a column the new table does not have would be dropped with its values, so it stops
/// the upgrade instead, which rolls back and says what to do.
struct ApplicationObjects {
    let table: String
    let columns: [String]
    /// The table's generated columns before the step (`pragma_table_xinfo`'s hidden 2 or 3).
    let generated: Set<String>
    /// In the order SQLite made them (a view over another view comes after it).
    let objects: [(type: String, name: String, sql: String)]

    /// sisync's own objects on or over the tables it makes again: each step makes or drops
    /// these itself (version 13 drops `users_by_email_key`, 14 drops `users_scim_id`, 16 makes
    /// `users_by_other_scim_id`).
    static let sisyncs: Set<String> = [
        "change_log", "users_scim_id", "users_by_email_key", "users_by_email", "users_by_scim_id", "users_by_other_email_key",
        "users_by_external_id", "users_by_other_scim_id",
    ]

    /// Reads what applications made on `table` and drops their views and triggers that read
    /// it, inside the step's transaction (a failed step rolls the drops back too).
    static func setAside(on table: String, in db: SQLiteDatabase) throws -> ApplicationObjects {
        var columns: [String] = []
        var generated: Set<String> = []
        let info = try SQLiteStatement(database: db, sql: "SELECT name, hidden IN (2, 3) FROM pragma_table_xinfo(?)")
        defer { info.reset() }
        try info.bind(1, table)
        while try info.step() {
            columns.append(info.text(0))
            if info.int(1) != 0 { generated.insert(info.text(0).lowercased()) }
        }
        // Indexes and triggers on the table; views and other tables' triggers that name it
        // anywhere in their text (one named only in a comment is made again all the same).
        let found = try SQLiteStatement(database: db, sql: """
            SELECT type, name, sql FROM sqlite_master
            WHERE sql IS NOT NULL AND (
              (type IN ('index', 'trigger') AND tbl_name = ?1 COLLATE NOCASE)
              OR (type IN ('view', 'trigger') AND instr(lower(sql), lower(?1)) > 0))
            ORDER BY rowid
            """)
        defer { found.reset() }
        try found.bind(1, table)
        var objects: [(type: String, name: String, sql: String)] = []
        while try found.step() {
            if !sisyncs.contains(found.text(1)) { objects.append((found.text(0), found.text(1), found.text(2))) }
        }
        for o in objects where o.type != "index" {
            try db.execute("DROP \(o.type == "view" ? "VIEW" : "TRIGGER") IF EXISTS \(quoted(o.name))")
        }
        return ApplicationObjects(table: table, columns: columns, generated: generated, objects: objects)
    }

    /// After the step: refuses it if the new table lacks a column the old one had, then
    /// makes each object set aside again, unless the step made one of that name itself.
    func restore(in db: SQLiteDatabase, version: Int, step: String) throws {
        var now: Set<String> = [], generatedNow: Set<String> = []
        let info = try SQLiteStatement(database: db, sql: "SELECT name, hidden IN (2, 3) FROM pragma_table_xinfo(?)")
        defer { info.reset() }
        try info.bind(1, table)
        while try info.step() {
            now.insert(info.text(0).lowercased())
            if info.int(1) != 0 { generatedNow.insert(info.text(0).lowercased()) }
        }
        let lost = columns.filter { !now.contains($0.lowercased()) }
        if !lost.isEmpty {
            let names = lost.joined(separator: ", ")
            throw StoreError.upgradeBlocked(path: db.path, version: version, step: step, problem:
                "`\(table)` has columns sisync does not know (\(names)), added by an application; this step makes `\(table)` again "
                + "and would drop them with their values. Copy them to a table of the application's own, drop them "
                + "(`ALTER TABLE \(table) DROP COLUMN …`), then start sisync again (docs/schema.md: applications keep their own data in their own tables)")
        }
        // A column the step made generated (16: `email_key`, `scim_id`) can no longer be
        // written, and `UPDATE OF` it never fires again: an application's trigger made again
        // word for word would make every later insert into the table fail ("cannot UPDATE
        // generated column"), user import and SCIM included. A trigger that only reads it
        // would be fine, but its text does not say which, so any trigger naming one stops.
        let nowGenerated = generatedNow.subtracting(generated)
        for o in objects where o.type == "trigger" {
            let named = nowGenerated.filter { Self.names(o.sql, $0) }.sorted()
            guard !named.isEmpty else { continue }
            let list = named.map { "`\($0)`" }.joined(separator: " and ")
            throw StoreError.upgradeBlocked(path: db.path, version: version, step: step, problem:
                "the trigger `\(o.name)`, made by an application, names \(list) of `\(table)`, which this step makes a computed "
                + "(generated) column: it may still be read but never written, and `UPDATE OF` it no longer fires. "
                + "Keep the trigger's text (`SELECT sql FROM sqlite_master WHERE name = '\(o.name)'`), drop it "
                + "(`DROP TRIGGER \(Self.quoted(o.name))`), start sisync again, then make it again without writing \(list) "
                + "(docs/schema.md, `users`)")
        }
        for o in objects {
            let exists = try SQLiteStatement(database: db, sql: "SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE")
            defer { exists.reset() }
            try exists.bind(1, o.name)
            if try !exists.step() { try db.execute(o.sql) }
        }
    }

    /// Whether `sql` names `column` as a word of its own (not inside a longer name).
    static func names(_ sql: String, _ column: String) -> Bool {
        let text = Array(sql.lowercased().utf8), word = Array(column.utf8)
        func isNamePart(_ b: UInt8) -> Bool { b == 95 || (48...57).contains(b) || (97...122).contains(b) || b >= 128 }
        guard word.count <= text.count else { return false }
        for start in 0...(text.count - word.count) where text[start..<(start + word.count)].elementsEqual(word) {
            let before = start == 0 || !isNamePart(text[start - 1])
            let after = start + word.count == text.count || !isNamePart(text[start + word.count])
            if before && after { return true }
        }
        return false
    }

    private static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}
