import Foundation
import SISync

/// `sisyncctl store copy --to URL [--schema NAME]`: the SQLite database this command
/// would use (`--db PATH` or the configuration's) into an empty PostgreSQL schema. The
/// run lock of the SQLite database is held meanwhile, so no run writes during the copy.
struct StoreCopyCommand: ControlSubcommand {
    static let name = "store copy"
    static let options: [CommandOption] = [.value("to", "URL"), .value("schema", "NAME")]
    static let synopsis = ["store copy --to URL [--schema NAME]"]
    static let storeAccess = StoreAccess.writes
    static let help = """
        Copies this SQLite database whole into an empty PostgreSQL schema, checking every table's count; then \
        point [sync] database at it and restart sisyncd. The run lock is held meanwhile, so no run writes during \
        the copy.
        """
    static let example = "sisyncctl store copy --to postgresql://sisync@db.district.org/sisync --schema sisync"
    static func usageProblem(_ args: Arguments, words: [String]) -> String? {
        args.value("to").map(PostgresTarget.isURI) == true ? nil : "missing --to postgresql://USER@HOST/DATABASE"
    }
    let call: CommandCall

    func run() throws -> Int32 {
        guard let uri = args.value("to"), PostgresTarget.isURI(uri) else {
            return usageError()
        }
        try Configuration.checkPostgresURI(uri, file: "sisyncctl store copy --to", line: 0)
        let c = try rulesConfiguration(args)
        guard case .sqlite(let path) = c.store else { throw StoreCopy.CopyError.notSQLite(c.store.display) }
        let schema = args.value("schema") ?? c.databaseSchema
        guard PostgresSchema.isValidName(schema) else {
            console.err("sisyncctl: --schema `\(schema)` is not a valid schema name (lower-case letters, digits and _)\n")
            return 64
        }
        let source = try RosterStore(location: .sqlite(path: path), mustExist: true)
        guard let sqlite = source.database as? SQLiteDatabase else { throw StoreCopy.CopyError.notSQLite(path) }
        let settings = PostgresStoreSettings(uri: uri, schema: schema, passwordFile: c.databasePasswordFile)
        let target = try PostgresDatabase(settings: settings, applicationName: StoreLocation.applicationName(program: "sisyncctl"))
        let copied = try StoreCopy.copy(from: sqlite, to: target)
        let total = copied.reduce(0) { $0 + $1.rows }
        emit(args, json: {
            .object([
                ("from", .string(path)), ("to", .string(settings.display)), ("rows", .int(Int64(total))),
                ("tables", .object(copied.map { ($0.table, .int(Int64($0.rows))) })),
            ])
        }, text: {
            var t = TextTable(["table", "rows"])
            for (table, rows) in copied where rows > 0 { t.add([table, String(rows)]) }
            return "copied \(total) rows in \(copied.count) tables from \(path) to \(settings.display), every count checked:\n" + t.rendered()
                + "next: set [sync] database = \(settings.target.display) (and database_schema = \(schema)), then restart sisyncd\n"
        })
        return 0
    }
}
