/// One OneRoster CSV file read row by row, with its header mapped case-insensitively.
/// Real exports are messy: a BOM, CRLF, header names in any case, trailing empty header
/// columns with rows that stop short of them. Rows are streamed, never held whole.
struct OneRosterTable {
    /// Trimmed, lower-case header names, in file order.
    let header: [String]
    private let positions: [String: Int]
    /// Fields a row must have: up to the last non-empty header name.
    let requiredFields: Int

    init(header: [String]) {
        self.header = header
        var positions: [String: Int] = [:]
        for (i, name) in header.enumerated() where !name.isEmpty && positions[name] == nil { positions[name] = i }
        self.positions = positions
        requiredFields = (header.lastIndex { !$0.isEmpty } ?? -1) + 1
    }

    /// The position of a column, by any case.
    func column(_ name: String) -> Int? { positions[name.lowercased()] }

    /// A data row: values by column position, trimmed.
    struct Row {
        let record: CSVRecord
        var line: Int { record.line }
        func value(_ column: Int?) -> String {
            guard let column, column < record.count else { return "" }
            return String(decoding: RowRules.trim(record.field(column)), as: UTF8.self)
        }
    }

    /// Reads the file at `path`. `prepare` sees the header and returns the row handler (or
    /// throws for a missing column). Rows shorter than the named columns are reported
    /// through `badRow` (R2: wrong number of fields).
    static func read(path: String, name: String, prepare: (OneRosterTable) throws -> (Row) throws -> Void,
                     badRow: ((Row, String) throws -> Void)? = nil) throws {
        try read(file: try InputFile(path: path), name: name, prepare: prepare, badRow: badRow)
    }

    /// Reads `file` from where it stands (a stream's later pass seeks back to its start);
    /// `chunk` sees every byte read, in order, before its rows are handled.
    static func read(file: InputFile, name: String, prepare: (OneRosterTable) throws -> (Row) throws -> Void,
                     badRow: ((Row, String) throws -> Void)? = nil, chunk: ((UnsafeBufferPointer<UInt8>) -> Void)? = nil) throws {
        try withoutActuallyEscaping(prepare) { prepare in
            try readRows(file: file, name: name, prepare: prepare, badRow: badRow, chunk: chunk)
        }
    }

    private static func readRows(file: InputFile, name: String, prepare: @escaping (OneRosterTable) throws -> (Row) throws -> Void,
                                 badRow: ((Row, String) throws -> Void)?, chunk observe: ((UnsafeBufferPointer<UInt8>) -> Void)?) throws {
        var reader = CSVReader(file: name)
        var table: OneRosterTable?
        var handle: ((Row) throws -> Void)?
        let onRecord: (CSVRecord) throws -> Void = { record in
            guard let t = table, let handle else {
                let names = (0..<record.count).map { String(decoding: RowRules.trim(record.field($0)), as: UTF8.self).lowercased() }
                let t = OneRosterTable(header: names)
                table = t
                handle = try prepare(t)
                return
            }
            // A blank line (one empty field) is not a record.
            if record.count == 1 && RowRules.trim(record.field(0)).isEmpty { return }
            let row = Row(record: record)
            if record.count < t.requiredFields || record.count > max(t.header.count, t.requiredFields) && !Self.extraFieldsEmpty(record, from: t.header.count) {
                try badRow?(row, "expected \(t.requiredFields) fields, found \(record.count)")
                return
            }
            try handle(row)
        }
        try file.forEachChunk { chunk in
            observe?(chunk)
            try reader.feed(chunk, onRecord: onRecord)
        }
        try reader.finish(onRecord: onRecord)
        if table == nil { throw ExportError.missingColumn(file: name, column: "sourcedId", found: []) }
    }

    private static func extraFieldsEmpty(_ record: CSVRecord, from start: Int) -> Bool {
        (start..<record.count).allSatisfy { RowRules.trim(record.field($0)).isEmpty }
    }
}
