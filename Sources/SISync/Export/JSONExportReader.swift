/// Reads the native JSON document (docs/export-format.md) into rows for the configured entities.
/// An entity that is configured but missing from the document fails the run; one that is
/// present but not configured is skipped unread.
public struct JSONExportReader {
    public let entities: [EntityKind]
    public let limit: InvalidRowLimit
    /// The run's private directory, where the rows are sorted (`EntityRows`); nil: in memory.
    public let spill: RunDirectory?

    public init(entities: [EntityKind], limit: InvalidRowLimit, spill: RunDirectory? = nil) {
        self.entities = entities
        self.limit = limit
        self.spill = spill
    }

    public func read(path: String, name: String) throws -> [EntityKind: EntityRows] {
        var bytes: [UInt8] = []
        let file = try InputFile(path: path)
        try file.forEachChunk { bytes.append(contentsOf: $0) }
        return try read(bytes: bytes, name: name)
    }

    public func read(bytes: [UInt8], name: String) throws -> [EntityKind: EntityRows] {
        var s = JSONScanner(file: name, bytes: bytes)
        var result: [EntityKind: EntityRows] = [:]
        var format: String?
        var version: String?
        guard case .objectStart = try s.next() else {
            throw ExportError.wrongDocument(file: name, message: "the document must be a JSON object")
        }
        var first = true
        while let key = try s.nextKey(first: first) {
            first = false
            s.path = key
            if let kind = EntityKind(rawValue: key), entities.contains(kind) {
                guard case .arrayStart = try s.next() else { throw s.error("`\(key)` must be an array of objects") }
                result[kind] = try readEntity(kind, scanner: &s, name: name)
            } else {
                let token = try s.next()
                switch (key, token) {
                case ("format", .string(let v)): format = String(decoding: v, as: UTF8.self)
                case ("version", .number(let v)): version = String(decoding: v, as: UTF8.self)
                default: try s.skip(after: token)
                }
            }
        }
        s.path = ""
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

    private func readEntity(_ kind: EntityKind, scanner s: inout JSONScanner, name: String) throws -> EntityRows {
        var rows = EntityRows(kind: kind, source: name, spill: spill)
        var rules = RowRules(kind: kind)
        let columns = kind.allColumns
        var positions: [String: Int] = [:]
        for (i, c) in columns.enumerated() { positions[c] = i }
        var unknown: Set<String> = []
        var index = 0
        var first = true
        while try s.nextElement(first: first) {
            first = false
            let here = "\(kind.rawValue)[\(index)]"
            s.path = here
            guard case .objectStart = try s.next() else { throw s.error("each element of `\(kind.rawValue)` must be an object") }
            var raw = [ArraySlice<UInt8>?](repeating: nil, count: columns.count)
            var typeProblem: (column: String?, message: String)?
            var firstMember = true
            while let field = try s.nextKey(first: firstMember) {
                firstMember = false
                s.path = here + "." + field
                let token = try s.next()
                guard let c = positions[field.lowercased()] else {
                    unknown.insert(field)
                    try s.skip(after: token)
                    continue
                }
                switch token {
                case .string(let v): raw[c] = v[...]
                case .number(let v): raw[c] = v[...]
                case .bool(let v): raw[c] = Array((v ? "true" : "false").utf8)[...]
                case .null: raw[c] = nil
                case .arrayStart:
                    var items: [UInt8] = []
                    var firstItem = true
                    while try s.nextElement(first: firstItem) {
                        firstItem = false
                        switch try s.next() {
                        case .string(let v), .number(let v):
                            // Lists are kept `;`-separated, so a `;` inside one value would split it.
                            if v.contains(UInt8(ascii: ";")) {
                                typeProblem = typeProblem ?? (field, "a value holds `;`, which separates list values; give each value as its own array element")
                            }
                            if !items.isEmpty { items.append(UInt8(ascii: ";")) }
                            items.append(contentsOf: v)
                        case let other:
                            try s.skip(after: other)
                            typeProblem = typeProblem ?? (field, "`\(field)` must be an array of strings")
                        }
                    }
                    raw[c] = items[...]
                case .objectStart:
                    try s.skip(after: token)
                    typeProblem = typeProblem ?? (field, "`\(field)` must be a string, not an object")
                }
            }
            s.path = here
            // One buffer holding the row's values, as the CSV reader hands them over. A row
            // with a value of the wrong type goes through the rules too, already marked bad,
            // so that its id is read and its record protected (R2).
            var buffer: [UInt8] = []
            var ranges = [Range<Int>?](repeating: nil, count: columns.count)
            for c in 0..<columns.count {
                guard let v = raw[c] else { continue }
                let start = buffer.count
                buffer.append(contentsOf: v)
                ranges[c] = start..<buffer.count
            }
            try buffer.withUnsafeBufferPointer { b in
                try rules.apply(buffer: b, ranges: ranges, location: here, line: index, into: &rows, known: typeProblem)
            }
            index += 1
        }
        rows.unknownColumns = unknown.sorted()
        let member = kind.keyColumns.count == 1 ? "." + kind.keyColumns[0] : ""
        try rows.seal { id, line, first in
            .duplicateJSONID(file: name, path: "\(kind.rawValue)[\(line)]" + member, id: id, firstPath: "\(kind.rawValue)[\(first)]" + member, columns: kind.keyColumns)
        }
        let allowed = limit.allowed(rows: rows.rowsRead)
        if rows.problemCount > allowed {
            throw ExportError.tooManyInvalidRows(file: "\(name) (\(kind.rawValue))", invalid: rows.problemCount, allowed: allowed, rows: rows.rowsRead)
        }
        return rows
    }
}
