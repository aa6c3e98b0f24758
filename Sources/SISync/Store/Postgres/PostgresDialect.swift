import Foundation

/// The one place where the stores' SQL (written as SQLite reads it) becomes PostgreSQL's.
/// The stores keep to what both understand (`TRUE`/`FALSE`, `RETURNING`, `||`, `lower`,
/// `INSERT … ON CONFLICT … DO NOTHING | DO UPDATE`), and this turns only what truly differs
/// into PostgreSQL's words:
/// - parameters `?` and `?3` become `$1` and `$3`;
/// - SQLite's planner hints go (`CROSS JOIN … ON` is a plain join, a unary `+` before a
///   column is dropped);
/// - `temp.` is `pg_temp.`, `WITHOUT ROWID` and `OR FAIL` go, `char(31)` is `chr(31)`, `instr` is
///   `strpos`, `LIKE` is `ILIKE` (SQLite's LIKE ignores ASCII case), `json_each(?)` is
///   `json_array_elements_text(?::json)`, `json_quote(x)` is `to_json(x)`, `group_concat` is
///   `string_agg`, `x.rowid` is `row_number() OVER ()`, `COLLATE BINARY` is `COLLATE "C"`;
/// - `COLLATE NOCASE` stays as written: the schema has a collation named `nocase`.
/// String literals and quoted names are never touched.
public enum PostgresDialect {
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
        // A statement that keeps its earlier changes when it fails (SQLite's `UPDATE OR
        // FAIL`, to spare its statement journal) is a plain UPDATE: PostgreSQL's statements
        // keep no such journal, and the transaction decides.
        (#"\bUPDATE\s+OR\s+FAIL\b"#, "UPDATE"),
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
        // A value as a JSON string, and strings joined (the change feed's set-based writes).
        (#"\bjson_quote\s*\("#, "to_json("),
        (#"\bgroup_concat\s*\("#, "string_agg("),
        // A fresh table's rows numbered 1, 2, … (PostgreSQL has no rowid).
        (#"\b\w+\.rowid\b"#, "row_number() OVER ()"),
    ].map { (try! NSRegularExpression(pattern: $0.0, options: [.caseInsensitive]), $0.1) }

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
        return text
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
