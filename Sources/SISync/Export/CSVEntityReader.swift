/// Reads one native CSV file (docs/export-format.md) into the rows of its entity, streaming: only one
/// chunk of the file and the compact rows are in memory at a time.
public struct CSVEntityReader {
    public let kind: EntityKind
    public let limit: InvalidRowLimit
    /// The run's private directory, where the rows are sorted (`EntityRows`); nil: in memory.
    public let spill: RunDirectory?
    /// The sorter's buffer (tests lower it to see runs spilled and merged with a few rows).
    var runBudget = RowSorter.defaultBudget

    public init(kind: EntityKind, limit: InvalidRowLimit, spill: RunDirectory? = nil) {
        self.kind = kind
        self.limit = limit
        self.spill = spill
    }

    /// The problems kept in full on a first read (`EntityRows.problemsKept`): about 2 MB of
    /// them, as many as the default `max_invalid_rows` (1%) lets a file of a million rows
    /// have. (Tests lower it.)
    var problemsKeptFirst = 10_000
    /// Called between a file's two reads (tests change the file there).
    var beforeReadingAgain: (() -> Void)?

    /// Reads the file at `path`; `name` is how messages refer to it (`staff.csv`).
    ///
    /// A regular file's skipped rows past `problemsKeptFirst` are counted, not kept (issue
    /// 34). When they are more than `max_invalid_rows` allows, the file is refused for that
    /// at once, before its ids are checked for duplicates. When they are not, the file is
    /// read again through the same descriptor, keeping and protecting every one (R2), and
    /// only that read's ids are checked: the duplicate reported is the first, as for any
    /// file. A file that reads differently the second time (rewritten in place meanwhile)
    /// is refused. A file that cannot be read twice (a pipe) keeps every problem.
    public func read(path: String, name: String) throws -> EntityRows {
        let file = try InputFile(path: path)
        guard file.isRegularFile, let start = file.position else { return try checked(read(file, name: name, keeping: Int.max), name: name) }
        let counted: (rows: Int, problems: Int)
        do {
            let rows = try read(file, name: name, keeping: problemsKeptFirst)
            if rows.problemCount == rows.problems.count { return try checked(rows, name: name) }
            try rows.refuseIfTooManySkipped(limit, file: name)
            counted = (rows.rowsRead, rows.problemCount)
        }
        // The first read's rows are let go first (its sorted runs are files of their own).
        beforeReadingAgain?()
        try file.seek(to: start)
        let rows = try read(file, name: name, keeping: Int.max)
        guard rows.rowsRead == counted.rows, rows.problemCount == counted.problems else {
            throw ExportError.changedWhileRead(file: name, first: ExportError.counted(rows: counted.rows, invalid: counted.problems),
                                               second: ExportError.counted(rows: rows.rowsRead, invalid: rows.problemCount))
        }
        return try checked(rows, name: name)
    }

    /// The rows once their ids are checked (R2: a duplicate fails the file) and their
    /// skipped rows counted against `max_invalid_rows`.
    private func checked(_ rows: EntityRows, name: String) throws -> EntityRows {
        var rows = rows
        try rows.seal { id, line, first in .duplicateID(file: name, line: line, id: id, firstLine: first, columns: kind.keyColumns) }
        try rows.refuseIfTooManySkipped(limit, file: name)
        return rows
    }

    /// Reads the rows of `file` from where it stands, keeping the first `problemsKept`
    /// problems, unsealed.
    func read(_ file: InputFile, name: String, keeping problemsKept: Int) throws -> EntityRows {
        var reader = CSVReader(file: name)
        let state = ReadState(rows: EntityRows(kind: kind, source: name, spill: spill), rules: RowRules(kind: kind), columns: kind.allColumns.count)
        state.rows.setRunBudget(runBudget)
        state.rows.problemsKept = problemsKept
        let keyFieldIndices = kind.keyColumns.indices
        func onRecord(_ record: CSVRecord) throws {
            if state.headerCount == 0 {
                state.headerCount = record.count
                state.mapping = try Self.mapHeader(record, kind: kind, name: name, rows: &state.rows)
                return
            }
            if record.count != state.headerCount {
                state.rows.noteRowRead()
                var parts: [String] = []
                for k in keyFieldIndices {
                    if let f = state.mapping[k], f < record.count {
                        parts.append(String(decoding: RowRules.trim(record.field(f)), as: UTF8.self))
                    }
                }
                let readable = parts.count == kind.keyColumns.count && !parts.contains { $0.isEmpty }
                let key = readable ? RecordKey.join(parts) : nil
                try state.rows.reportProblem(RowProblem(file: name, location: String(record.line), column: nil,
                                                        id: key.map(RecordKey.display),
                                                        message: "expected \(state.headerCount) fields, found \(record.count)"), key: key, line: record.line)
                return
            }
            for c in 0..<state.mapping.count { state.ranges[c] = state.mapping[c].map { record.range($0) } }
            try state.rules.apply(buffer: record.bytes, ranges: state.ranges, location: String(record.line), line: record.line, into: &state.rows)
        }
        try file.forEachChunk { chunk in try reader.feed(chunk, onRecord: onRecord) }
        try reader.finish(onRecord: onRecord)
        if state.headerCount == 0 {
            throw ExportError.missingColumn(file: name, column: kind.keyColumns[0], found: [])
        }
        return state.rows
    }

    /// What the reading of one file changes row by row, in one object whose fields the
    /// runtime does not check for exclusive access: as variables captured by `onRecord`
    /// (a local function passed on to the CSV reader in a closure) they were checked about
    /// ten times a row, 6% of the instructions of a day on which every file changed
    /// (callgrind, issue 34). Only `read`'s own thread touches them, one call at a time.
    private final class ReadState {
        @exclusivity(unchecked) var rows: EntityRows
        @exclusivity(unchecked) var rules: RowRules
        /// allColumns index -> field index
        @exclusivity(unchecked) var mapping: [Int?] = []
        @exclusivity(unchecked) var headerCount = 0
        @exclusivity(unchecked) var ranges: [Range<Int>?]

        init(rows: EntityRows, rules: RowRules, columns: Int) {
            self.rows = rows
            self.rules = rules
            ranges = Array(repeating: nil, count: columns)
        }
    }

    static func mapHeader(_ header: CSVRecord, kind: EntityKind, name: String, rows: inout EntityRows) throws -> [Int?] {
        var positions: [String: Int] = [:]
        var names: [String] = []
        for i in 0..<header.count {
            let n = String(decoding: RowRules.trim(header.field(i)), as: UTF8.self).lowercased()
            names.append(n)
            if positions[n] != nil { throw ExportError.duplicateColumn(file: name, column: n) }
            positions[n] = i
        }
        for column in kind.allColumns where kind.requiredColumns.contains(column) && positions[column] == nil {
            throw ExportError.missingColumn(file: name, column: column, found: names)
        }
        let known = Set(kind.allColumns)
        rows.unknownColumns = names.filter { !known.contains($0) && !$0.isEmpty }
        return kind.allColumns.map { positions[$0] }
    }
}
