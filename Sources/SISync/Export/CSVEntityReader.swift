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

    /// Reads the file at `path`; `name` is how messages refer to it (`staff.csv`).
    public func read(path: String, name: String) throws -> EntityRows {
        let file = try InputFile(path: path)
        var reader = CSVReader(file: name)
        var rows = EntityRows(kind: kind, source: name, spill: spill)
        rows.setRunBudget(runBudget)
        var rules = RowRules(kind: kind)
        var mapping: [Int?] = []   // allColumns index -> field index
        var headerCount = 0
        var ranges = [Range<Int>?](repeating: nil, count: kind.allColumns.count)
        let keyFieldIndices = kind.keyColumns.indices
        // A local function, not a closure kept in a variable: its captured state is then
        // checked for exclusive access when compiled, not by the runtime on every access of
        // every row (the runtime's checks were about 5% of the CPU profile of a large read).
        func onRecord(_ record: CSVRecord) throws {
            if headerCount == 0 {
                headerCount = record.count
                mapping = try Self.mapHeader(record, kind: kind, name: name, rows: &rows)
                return
            }
            if record.count != headerCount {
                rows.noteRowRead()
                var parts: [String] = []
                for k in keyFieldIndices {
                    if let f = mapping[k], f < record.count {
                        parts.append(String(decoding: RowRules.trim(record.field(f)), as: UTF8.self))
                    }
                }
                let readable = parts.count == kind.keyColumns.count && !parts.contains { $0.isEmpty }
                let key = readable ? RecordKey.join(parts) : nil
                try rows.reportProblem(RowProblem(file: name, location: String(record.line), column: nil,
                                                  id: key.map(RecordKey.display),
                                                  message: "expected \(headerCount) fields, found \(record.count)"), key: key, line: record.line)
                return
            }
            for c in 0..<mapping.count { ranges[c] = mapping[c].map { record.range($0) } }
            try record.bytes.withUnsafeBufferPointer { buffer in
                try rules.apply(buffer: buffer, ranges: ranges, location: String(record.line), line: record.line, into: &rows)
            }
        }
        try file.forEachChunk { chunk in try reader.feed(chunk, onRecord: onRecord) }
        try reader.finish(onRecord: onRecord)
        if headerCount == 0 {
            throw ExportError.missingColumn(file: name, column: kind.keyColumns[0], found: [])
        }
        try rows.seal { id, line, first in .duplicateID(file: name, line: line, id: id, firstLine: first, columns: kind.keyColumns) }
        let allowed = limit.allowed(rows: rows.rowsRead)
        if rows.problems.count > allowed {
            throw ExportError.tooManyInvalidRows(file: name, invalid: rows.problems.count, allowed: allowed, rows: rows.rowsRead)
        }
        return rows
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
