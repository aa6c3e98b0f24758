import Foundation

/// The one place where the stores' SQL (written as SQLite reads it) becomes PostgreSQL's.
/// The stores keep to what both understand (`TRUE`/`FALSE`, `RETURNING`, `||`, `lower`),
/// and this turns the rest into PostgreSQL's words:
/// - parameters `?` and `?3` become `$1` and `$3`;
/// - `INSERT OR IGNORE` becomes `ON CONFLICT DO NOTHING`, and `INSERT OR REPLACE` an
///   upsert on the table's key (`upsertKeys`);
/// - SQLite's planner hints go (`CROSS JOIN … ON` is a plain join, a unary `+` before a
///   column is dropped);
/// - `temp.` is `pg_temp.`, `WITHOUT ROWID` goes, `char(31)` is `chr(31)`, `instr` is
///   `strpos`, `LIKE` is `ILIKE` (SQLite's LIKE ignores ASCII case), `json_each(?)` is
///   `json_array_elements_text(?::json)`, `COLLATE BINARY` is `COLLATE "C"`;
/// - `COLLATE NOCASE` stays as written: the schema has a collation named `nocase`.
/// String literals and quoted names are never touched.
public enum PostgresDialect {
    /// The conflict key of each table the stores write with `INSERT OR REPLACE`.
    static let upsertKeys: [String: [String]] = [
        "source_state": ["url"],
        "email_key_basis": ["id"],
        "access_codes": ["student_id"],
    ]

    public enum TranslationError: Error, CustomStringConvertible {
        case noUpsertKey(table: String, sql: String)
        public var description: String {
            switch self {
            case .noUpsertKey(let table, let sql): return "no conflict key known for INSERT OR REPLACE INTO \(table) in `\(sql.prefix(120))`"
            }
        }
    }

    /// Translates one statement or a script of several (separated by `;`).
    public static func translate(_ sql: String) throws -> String {
        try translation(sql).sql
    }

    /// A statement in PostgreSQL's words, with the parameters it has (`$1` … `$N`) and the
    /// numbers among them it never uses: the stores bind the same numbers to related
    /// statements, and PostgreSQL needs a type for each (they are given `text`).
    public struct Translation: Sendable {
        public var sql: String
        public var parameterCount: Int
        public var unused: Set<Int>
    }

    public static func translation(_ sql: String) throws -> Translation {
        var parameter = 0
        var used: Set<Int> = []
        let text = try statements(sql).map { try translateStatement($0, parameter: &parameter, used: &used) }.joined(separator: ";\n")
        return Translation(sql: text, parameterCount: parameter, unused: Set(1...max(parameter, 1)).subtracting(used).filter { $0 <= parameter })
    }

    /// A piece of SQL text: code, or a quoted literal or name kept as it is.
    private enum Piece { case code(String), quoted(String) }

    private static func pieces(_ sql: String) -> [Piece] {
        var out: [Piece] = []
        var current = ""
        var quote: Character?
        for ch in sql {
            if let q = quote {
                current.append(ch)
                if ch == q { quote = nil; out.append(.quoted(current)); current = "" }
            } else if ch == "'" || ch == "\"" {
                if !current.isEmpty { out.append(.code(current)) }
                current = String(ch)
                quote = ch
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append(quote == nil ? .code(current) : .quoted(current)) }
        return out
    }

    /// Splits a script at the `;` outside literals; empty statements are dropped.
    static func statements(_ sql: String) -> [String] {
        var out: [String] = []
        var current = ""
        for piece in pieces(sql) {
            switch piece {
            case .quoted(let q): current += q
            case .code(let c):
                let parts = c.split(separator: ";", omittingEmptySubsequences: false)
                for (i, part) in parts.enumerated() {
                    if i > 0 { out.append(current); current = "" }
                    current += part
                }
            }
        }
        out.append(current)
        return out.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    private static let rewrites: [(NSRegularExpression, String)] = [
        (#"\btemp\."#, "pg_temp."),
        (#"\bWITHOUT\s+ROWID\b"#, ""),
        (#"\bchar\s*\("#, "chr("),
        (#"\binstr\s*\("#, "strpos("),
        (#"\bNOT\s+LIKE\b"#, "NOT ILIKE"),
        (#"(?<!NOT )\bLIKE\b"#, "ILIKE"),
        (#"\bCOLLATE\s+BINARY\b"#, "COLLATE \"C\""),
        // SQLite's planner hints: `CROSS JOIN … ON` fixes its join order, and a unary `+`
        // keeps it off an index. PostgreSQL plans for itself.
        (#"\bCROSS\s+JOIN\b"#, "JOIN"),
        (#"(?<=[\s(=,])\+(?=[A-Za-z_])"#, ""),
        // A parameter tested only for NULL has no type PostgreSQL can infer: say text.
        (#"(\?\d*)\s+IS\s+(NOT\s+)?NULL\b"#, "CAST($1 AS text) IS $2NULL"),
        (#"\bjson_each\s*\(\s*(\?\d*)\s*\)"#, "json_array_elements_text(CAST($1 AS json))"),
    ].map { (try! NSRegularExpression(pattern: $0.0, options: [.caseInsensitive]), $0.1) }

    private static let insertOr = try! NSRegularExpression(
        pattern: #"\bINSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+([A-Za-z_][A-Za-z0-9_.]*)\s*(\(([^)]*)\))?"#, options: [.caseInsensitive])

    private static func translateStatement(_ sql: String, parameter: inout Int, used: inout Set<Int>) throws -> String {
        var text = ""
        for piece in pieces(sql) {
            switch piece {
            case .quoted(let q): text += q
            case .code(let c):
                var code = c
                for (regex, template) in rewrites {
                    code = regex.stringByReplacingMatches(in: code, range: NSRange(code.startIndex..., in: code), withTemplate: template)
                }
                text += numberParameters(code, &parameter, &used)
            }
        }
        let range = NSRange(text.startIndex..., in: text)
        guard let m = insertOr.firstMatch(in: text, range: range),
              let verbRange = Range(m.range(at: 1), in: text), let tableRange = Range(m.range(at: 2), in: text) else { return text }
        let verb = text[verbRange].uppercased()
        let table = String(text[tableRange])
        let columns = Range(m.range(at: 4), in: text).map { text[$0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        let wholeRange = Range(m.range, in: text)!
        var rest = String(text[wholeRange.upperBound...])
        while let last = rest.last, last.isWhitespace { rest.removeLast() }
        rest = " " + rest.drop { $0.isWhitespace }
        let head = text[..<wholeRange.lowerBound] + "INSERT INTO \(table)" + (columns.isEmpty ? "" : " (\(columns.joined(separator: ", ")))")
        if verb == "IGNORE" { return head + rest + " ON CONFLICT DO NOTHING" }
        let bare = table.split(separator: ".").last.map(String.init) ?? table
        guard let key = upsertKeys[bare], !columns.isEmpty else { throw TranslationError.noUpsertKey(table: bare, sql: sql) }
        let updates = columns.filter { !key.contains($0) }.map { "\($0) = EXCLUDED.\($0)" }
        return head + rest + " ON CONFLICT (\(key.joined(separator: ", "))) DO " + (updates.isEmpty ? "NOTHING" : "UPDATE SET " + updates.joined(separator: ", "))
    }

    /// `?` is the next number after the highest so far, `?N` is N (SQLite's rules).
    private static func numberParameters(_ code: String, _ highest: inout Int, _ used: inout Set<Int>) -> String {
        var out = ""
        var chars = code[...]
        while let ch = chars.first {
            chars = chars.dropFirst()
            guard ch == "?" else { out.append(ch); continue }
            let digits = chars.prefix { $0.isASCII && $0.isNumber }
            chars = chars.dropFirst(digits.count)
            let n = digits.isEmpty ? highest + 1 : Int(digits)!
            highest = max(highest, n)
            used.insert(n)
            out += "$\(n)"
        }
        return out
    }
}
