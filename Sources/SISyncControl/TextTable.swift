import SISync

/// A plain-text table for terminals: columns padded to the widest cell, the whole fitted to
/// the terminal's width by cutting the widest text column (a cut cell ends in `…`).
public struct TextTable {
    /// The width tables fit for the command running now: `sisyncctl` sets it from the
    /// terminal (`TerminalWidth`) around each command, so that the commands' many tables
    /// need not be handed it one by one. nil (outside a command): no limit.
    @TaskLocal public static var width: Int? = nil

    /// A column is not cut below this many characters (`ab…`): six columns still fit 40.
    static let narrowest = 4

    public var header: [String]
    public var rows: [[String]] = []
    /// Columns (by header) never cut, as a time or an id cut short says nothing; numbers
    /// are never cut either.
    public var whole: Set<String>

    public init(_ header: [String], whole: Set<String> = []) {
        self.header = header
        self.whole = whole
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public func rendered(width limit: Int? = TextTable.width) -> String {
        // Cells come from the SIS and from people: a newline or an escape in one would
        // break the table or the terminal.
        let cells = rows.map { $0.map(PrintableText.escaped) }
        var widths = header.map(\.count)
        for r in cells { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        if let limit { widths = Self.fitted(widths, into: limit, cutting: textColumns(cells)) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                let c = i < widths.count ? PrintableText.clipped(cell, to: widths[i]) : cell
                return i == cells.count - 1 ? c : c + String(repeating: " ", count: max(0, widths[i] - c.count))
            }.joined(separator: "  ")
        }
        var out = line(header) + "\n"
        for r in cells { out += line(r) + "\n" }
        return out
    }

    /// Which columns may be cut: text, not numbers (counts, run ids), and not `whole`.
    private func textColumns(_ cells: [[String]]) -> [Bool] {
        header.enumerated().map { i, name in
            !whole.contains(name) && !cells.allSatisfy { i >= $0.count || $0[i].allSatisfy(\.isNumber) }
        }
    }

    /// `widths` narrowed, the widest text column first, one character at a time, until the
    /// table (two spaces between columns) fits `limit` or no text column can give more.
    static func fitted(_ widths: [Int], into limit: Int, cutting text: [Bool]) -> [Int] {
        var widths = widths
        var total = widths.reduce(0, +) + 2 * max(0, widths.count - 1)
        while total > limit {
            let candidates = widths.indices.filter { text[$0] && widths[$0] > narrowest }
            guard let widest = candidates.max(by: { widths[$0] < widths[$1] }) else { break }
            widths[widest] -= 1
            total -= 1
        }
        return widths
    }
}
