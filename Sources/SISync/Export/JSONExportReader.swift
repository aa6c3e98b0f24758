/// Reads the native JSON document (docs/export-format.md) into rows for the configured entities.
/// An entity that is configured but missing from the document fails the run; one that is
/// present but not configured is skipped unread.
public struct JSONExportReader {
    public let entities: [EntityKind]
    public let limit: InvalidRowLimit
    /// The run's private directory, where the rows are sorted (`EntityRows`); nil: in memory.
    public let spill: RunDirectory?
    /// How much of the file is read at a time. (Tests lower it.)
    var chunkSize = 1 << 20
    /// Told, after a document is read, the most of it the scanner held at once (tests).
    var afterReading: ((_ largestWindow: Int) -> Void)?

    public init(entities: [EntityKind], limit: InvalidRowLimit, spill: RunDirectory? = nil) {
        self.entities = entities
        self.limit = limit
        self.spill = spill
    }

    /// Reads the document at `path` as it streams, a chunk at a time (`JSONScanner`): the
    /// rows go where the CSV reader's go (`EntityRows`, sorted on disk with `spill`), so the
    /// run's memory does not grow with the document.
    ///
    /// A file's skipped rows past `problemsKeptFirst` in an entity are counted, not kept, as
    /// a CSV file's are (`CSVEntityReader`): more than `max_invalid_rows` allows, and the
    /// document is refused at once; fewer, and it is read again through the same descriptor,
    /// keeping and protecting every one (R2). A document that reads differently the second
    /// time is refused; one that cannot be read twice (a pipe) keeps every problem.
    public func read(path: String, name: String) throws -> [EntityKind: EntityRows] {
        let file = try InputFile(path: path, chunkSize: chunkSize)
        let source: JSONScanner.Source = { try file.appendNextChunk(to: &$0) }
        guard file.isRegularFile, let start = file.position else { return try read(source: source, name: name) }
        let counted: ProblemsPastKept
        do {
            return try read(source: source, name: name, keeping: problemsKeptFirst)
        } catch let past as ProblemsPastKept {
            counted = past
        }
        beforeReadingAgain?()
        try file.seek(to: start)
        var again: (rows: Int, problems: Int)?
        let result = try read(source: source, name: name, keeping: Int.max) { kind, rows in
            if kind == counted.kind { again = (rows.rowsRead, rows.problemCount) }
        }
        guard let again, again.rows == counted.rows, again.problems == counted.problems else {
            let entity = counted.kind.rawValue
            throw ExportError.changedWhileRead(file: name, first: ExportError.counted(rows: counted.rows, invalid: counted.problems, of: entity),
                                               second: again.map { ExportError.counted(rows: $0.rows, invalid: $0.problems, of: entity) } ?? "no \(entity)")
        }
        return result
    }

    /// The problems kept in full on a first read, as `CSVEntityReader.problemsKeptFirst`.
    /// (Tests lower it.)
    var problemsKeptFirst = 10_000
    /// Called between a document's two reads (tests change the file there).
    var beforeReadingAgain: (() -> Void)?

    /// An entity's skipped rows outnumbered the problems kept, within what `max_invalid_rows`
    /// allows: the document is read again, keeping them all.
    private struct ProblemsPastKept: Error {
        let kind: EntityKind
        let rows: Int
        let problems: Int
    }

    /// Reads a document whose bytes `source` hands out as they are needed, keeping the first
    /// `keeping` problems of each entity; `onEntity` sees each entity's rows once read.
    func read(source: @escaping JSONScanner.Source, name: String, keeping: Int = Int.max,
              onEntity: ((EntityKind, EntityRows) -> Void)? = nil) throws -> [EntityKind: EntityRows] {
        var s = try JSONScanner(file: name, source: source)
        defer { afterReading?(s.largestWindow) }
        return try read(&s, name: name, keeping: keeping, onEntity: onEntity)
    }

    public func read(bytes: [UInt8], name: String) throws -> [EntityKind: EntityRows] {
        var s = JSONScanner(file: name, bytes: bytes)
        defer { afterReading?(s.largestWindow) }
        return try read(&s, name: name)
    }

    /// The most text one element of an entity may hold (its values and lists together), as
    /// a CSV record of the same export may (`CSVReader.recordByteLimit`): a member given
    /// again replaces the value, and without a bound its earlier values would pile up.
    static let recordByteLimit = CSVReader.recordByteLimit

    /// How many unknown member names are kept for the notice (`unknown_columns`), and how
    /// many bytes of them: a hostile document could name a new member in every element.
    static let unknownNamesKept = (count: 1_000, bytes: 1 << 20)

    private func read(_ s: inout JSONScanner, name: String, keeping: Int = Int.max,
                      onEntity: ((EntityKind, EntityRows) -> Void)? = nil) throws -> [EntityKind: EntityRows] {
        var result: [EntityKind: EntityRows] = [:]
        var format: String?
        var version: String?
        guard case .objectStart = try s.next() else {
            throw ExportError.wrongDocument(file: name, message: "the document must be a JSON object")
        }
        var first = true
        while let key = try s.nextKey(first: first) {
            first = false
            s.path = JSONPath(top: key)
            if let kind = EntityKind(rawValue: key), entities.contains(kind) {
                guard case .arrayStart = try s.next() else { throw s.error("`\(key)` must be an array of objects") }
                let rows = try readEntity(kind, scanner: &s, name: name, keeping: keeping)
                onEntity?(kind, rows)
                result[kind] = rows
            } else if key == "format" || key == "version" {
                let token = try s.next()
                switch (key, token) {
                case ("format", .string(let v)): format = String(decoding: v, as: UTF8.self)
                case ("version", .number(let v)): version = String(decoding: v, as: UTF8.self)
                default: try s.skip(after: token)
                }
            } else {
                try s.skipValue()
            }
        }
        s.path = JSONPath()
        try s.finish()
        guard format == "sisync-export" else {
            throw ExportError.wrongDocument(file: name, message: "`format` must be \"sisync-export\" (found \(format.map { "\"\($0)\"" } ?? "none"))")
        }
        guard version == "1" else {
            throw ExportError.wrongDocument(file: name, message: "`version` must be 1 (found \(version ?? "none"))")
        }
        for kind in entities where result[kind] == nil {
            throw ExportError.missingEntity(file: name, entity: kind.rawValue)
        }
        return result
    }

    /// The column whose name is `key`'s bytes exactly, looked for first where the last
    /// member's column was followed (an export names its members in the same order in
    /// every element), so that no member name becomes a `String`.
    private static func column(named key: [UInt8], in names: [[UInt8]], after last: Int) -> Int? {
        for step in 0..<names.count {
            let c = (last + 1 + step) % names.count
            if names[c] == key { return c }
        }
        return nil
    }

    private func readEntity(_ kind: EntityKind, scanner s: inout JSONScanner, name: String, keeping: Int) throws -> EntityRows {
        var rows = EntityRows(kind: kind, source: name, spill: spill)
        rows.problemsKept = keeping
        var rules = RowRules(kind: kind)
        let columns = kind.allColumns
        let names = columns.map { Array($0.utf8) }
        var positions: [String: Int] = [:]
        for (i, c) in columns.enumerated() { positions[c] = i }
        var unknown: Set<String> = []
        var unknownBytes = 0
        var index = 0
        var first = true
        // One buffer holding the row's values, as the CSV reader hands them over, used again
        // for every element.
        var buffer: [UInt8] = []
        var ranges = [Range<Int>?](repeating: nil, count: columns.count)
        var key: [UInt8] = []
        func refuseIfElementTooLarge(_ s: inout JSONScanner) throws {
            guard buffer.count <= Self.recordByteLimit else { throw s.error("an element of more than 4 MiB of text") }
        }
        while try s.nextElement(first: first) {
            first = false
            s.path = JSONPath(top: kind.rawValue, element: index)
            buffer.removeAll(keepingCapacity: true)
            guard try s.next(appendingTo: &buffer) == .objectStart else { throw s.error("each element of `\(kind.rawValue)` must be an object") }
            for c in ranges.indices { ranges[c] = nil }
            var typeProblem: (column: String?, message: String)?
            var firstMember = true
            var last = -1
            while true {
                key.removeAll(keepingCapacity: true)
                guard try s.nextKey(first: firstMember, into: &key) else { break }
                firstMember = false
                let c: Int?, field: String
                if let exact = Self.column(named: key, in: names, after: last) {
                    c = exact
                    field = columns[exact]
                    last = exact
                } else {
                    field = String(decoding: key, as: UTF8.self)
                    c = positions[field.lowercased()]
                }
                s.path.member = field
                guard let c else {
                    if unknown.count < Self.unknownNamesKept.count, unknownBytes + key.count <= Self.unknownNamesKept.bytes, unknown.insert(field).inserted {
                        unknownBytes += key.count
                    }
                    try s.skipValue()
                    continue
                }
                let start = buffer.count
                switch try s.next(appendingTo: &buffer) {
                case .string, .number: ranges[c] = start..<buffer.count
                case .bool(let v):
                    buffer.append(contentsOf: v ? "true".utf8 : "false".utf8)
                    ranges[c] = start..<buffer.count
                case .null: ranges[c] = nil
                case .arrayStart:
                    var firstItem = true
                    while try s.nextElement(first: firstItem) {
                        firstItem = false
                        // The separator goes in first; an item that is no string or number
                        // adds no text, so it is taken out again.
                        let separated = buffer.count > start
                        if separated { buffer.append(UInt8(ascii: ";")) }
                        let itemStart = buffer.count
                        switch try s.next(appendingTo: &buffer) {
                        case .string, .number:
                            // Lists are kept `;`-separated, so a `;` inside one value would split it.
                            if buffer[itemStart...].contains(UInt8(ascii: ";")) {
                                typeProblem = typeProblem ?? (field, "a value holds `;`, which separates list values; give each value as its own array element")
                            }
                        case let other:
                            if separated { buffer.removeLast() }
                            try s.skip(after: other)
                            typeProblem = typeProblem ?? (field, "`\(field)` must be an array of strings")
                        }
                        try refuseIfElementTooLarge(&s)
                    }
                    ranges[c] = start..<buffer.count
                case .objectStart:
                    try s.skip(after: JSONScanner.Kind.objectStart)
                    typeProblem = typeProblem ?? (field, "`\(field)` must be a string, not an object")
                }
                try refuseIfElementTooLarge(&s)
            }
            s.path.member = nil
            // A row with a value of the wrong type goes through the rules too, already marked
            // bad, so that its id is read and its record protected (R2).
            try buffer.withUnsafeBufferPointer { b in
                try rules.apply(buffer: b, ranges: ranges, location: "\(kind.rawValue)[\(index)]", line: index, into: &rows, known: typeProblem)
            }
            index += 1
        }
        rows.unknownColumns = unknown.sorted()
        let shownAs = "\(name) (\(kind.rawValue))"
        // Problems past those kept: refused for their count at once, or read again keeping all.
        if rows.problemCount > rows.problems.count {
            try rows.refuseIfTooManySkipped(limit, file: shownAs)
            throw ProblemsPastKept(kind: kind, rows: rows.rowsRead, problems: rows.problemCount)
        }
        let member = kind.keyColumns.count == 1 ? "." + kind.keyColumns[0] : ""
        try rows.seal { id, line, first in
            .duplicateJSONID(file: name, path: "\(kind.rawValue)[\(line)]" + member, id: id, firstPath: "\(kind.rawValue)[\(first)]" + member, columns: kind.keyColumns)
        }
        try rows.refuseIfTooManySkipped(limit, file: shownAs)
        return rows
    }
}
