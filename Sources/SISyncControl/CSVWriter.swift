/// CSV that an administrator opens in a spreadsheet or a mail merge (`access export`). The
/// cells hold text from the SIS, which a hostile or careless entry can fill with anything
/// (issue 26 item 11), so every cell is written in two steps:
/// - RFC 4180: a cell holding a comma, a double quote, CR or LF (or `;` or tab, which some
///   spreadsheets split on) is quoted and its quotes are doubled, so a name with a line
///   break stays one cell of one record;
/// - OWASP "CSV injection": a cell starting with `=`, `+`, `-`, `@`, tab or CR would be run
///   as a formula by Excel, LibreOffice or Google Sheets; it gets a leading `'` and is
///   quoted, so the spreadsheet shows the text (`'=HYPERLINK(…)`) and runs nothing.
/// Records end with LF, as sisync's other output does; readers take LF and CRLF alike.
public struct CSVWriter {
    public private(set) var text = ""

    public init(header: [String]) { add(header) }

    public mutating func add(_ row: [String]) {
        text += row.map(Self.cell).joined(separator: ",") + "\n"
    }

    /// Characters that make a spreadsheet read a cell as a formula when they come first.
    static let formulaStarts: Set<UInt8> = [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D]
    /// Characters that need the cell quoted: RFC 4180's, and the other separators a
    /// spreadsheet may split on (`;` in Excel where the decimal mark is a comma, `;` and tab
    /// among LibreOffice's import options), after which a formula would start a cell.
    static let quoted: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: "\""), 0x0D, 0x0A, UInt8(ascii: ";"), 0x09]

    /// One cell as written. Bytes, not Characters: "\r\n" is one Character in Swift, and
    /// a check for "\n" alone would miss it.
    static func cell(_ value: String) -> String {
        let formula = value.utf8.first.map(formulaStarts.contains) ?? false
        guard formula || value.utf8.contains(where: quoted.contains) else { return value }
        return "\"" + (formula ? "'" : "") + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
