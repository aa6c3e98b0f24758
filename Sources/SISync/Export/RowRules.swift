/// The value rules of R2 for one row, shared by the CSV and JSON readers: trims values,
/// normalises lists and enumerations, checks required fields and emails, and either
/// appends the row or records why it was skipped.
struct RowRules {
    let kind: EntityKind
    private let columns: [String]
    private let required: [Bool]
    private let isList: [Bool]
    private let isEmail: [Bool]
    private let enumerated: [Set<String>?]
    private let keyCount: Int
    private let valueCount: Int
    private var scratch: [[UInt8]]

    init(kind: EntityKind) {
        self.kind = kind
        columns = kind.allColumns
        required = columns.map { kind.requiredColumns.contains($0) }
        isList = columns.map { kind.listColumns.contains($0) }
        isEmail = columns.map { kind.emailColumns.contains($0) }
        enumerated = columns.map { kind.enumeratedColumns[$0] }
        keyCount = kind.keyColumns.count
        valueCount = kind.valueColumns.count
        scratch = Array(repeating: [], count: columns.count)
    }

    /// Applies the rules to one row. `raw[i]` is the value of `kind.allColumns[i]`, nil when
    /// the column is absent. Throws only for structural errors (a duplicate id).
    mutating func apply(raw: [ArraySlice<UInt8>?], location: String, line: Int, into rows: inout EntityRows,
                        duplicate: (String, String) -> ExportError) throws {
        rows.noteRowRead()
        var problem: (column: String?, message: String)?
        for c in 0..<columns.count {
            scratch[c].removeAll(keepingCapacity: true)
            guard let value = raw[c] else { continue }
            let trimmed = Self.trim(value)
            if isList[c] {
                Self.canonicalList(trimmed, into: &scratch[c])
            } else {
                scratch[c].append(contentsOf: trimmed)
            }
            if !Self.isValidUTF8(scratch[c]) {
                problem = problem ?? (columns[c], "the value is not valid UTF-8")
                scratch[c].removeAll(keepingCapacity: true)
            }
            if let allowed = enumerated[c], !scratch[c].isEmpty {
                let lower = String(decoding: scratch[c], as: UTF8.self).lowercased()
                if allowed.contains(lower) {
                    scratch[c] = Array(lower.utf8)
                } else {
                    problem = problem ?? (columns[c], "unknown \(columns[c]) `\(lower)` (expected \(allowed.sorted().joined(separator: " or ")))")
                }
            }
        }
        for c in 0..<columns.count where required[c] && scratch[c].isEmpty && problem == nil {
            problem = (columns[c], raw[c] == nil ? "required field `\(columns[c])` is missing" : "required field `\(columns[c])` is empty")
        }
        if problem == nil {
            for c in 0..<columns.count where isEmail[c] && !scratch[c].isEmpty && !Self.isPlausibleEmail(scratch[c]) {
                problem = (columns[c], "invalid email `\(String(decoding: scratch[c], as: UTF8.self))`")
                break
            }
        }
        var inactive = false
        if kind.hasActivityStatus, problem == nil {
            let status = String(decoding: scratch[columns.count - 1], as: UTF8.self).lowercased()
            switch status {
            case "", "active": inactive = false
            case "inactive": inactive = true
            default: problem = ("status", "unknown status `\(status)` (expected active or inactive)")
            }
        }
        // The key is readable when every required key part is present.
        var keyReadable = true
        var parts: [String] = []
        parts.reserveCapacity(keyCount)
        for c in 0..<keyCount {
            if scratch[c].isEmpty && required[c] { keyReadable = false }
            parts.append(String(decoding: scratch[c], as: UTF8.self))
        }
        let key: String? = keyReadable ? (keyCount == 1 ? parts[0] : RecordKey.join(parts)) : nil
        if let key, rows.contains(key: key) {
            throw duplicate(RecordKey.display(key), rows.location(ofKey: key) ?? "?")
        }
        if let problem {
            rows.reportProblem(RowProblem(file: rows.source, location: location, column: problem.column,
                                          id: key.map(RecordKey.display), message: problem.message), key: key)
            return
        }
        var values: [ArraySlice<UInt8>] = []
        values.reserveCapacity(valueCount)
        for c in keyCount..<(keyCount + valueCount) { values.append(scratch[c][...]) }
        rows.append(key: key!, values: values, inactive: inactive, location: line)
    }

    static func trim(_ v: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = v.startIndex, e = v.endIndex
        while s < e, v[s] == 0x20 || v[s] == 0x09 { s += 1 }
        while e > s, v[e - 1] == 0x20 || v[e - 1] == 0x09 || v[e - 1] == 0x0D || v[e - 1] == 0x0A { e -= 1 }
        return v[s..<e]
    }

    /// `a; b;;c ` becomes `a;b;c`: lists compare equal however the SIS spaces them.
    static func canonicalList(_ v: ArraySlice<UInt8>, into out: inout [UInt8]) {
        for part in v.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: true) {
            let t = trim(part)
            if t.isEmpty { continue }
            if !out.isEmpty { out.append(UInt8(ascii: ";")) }
            out.append(contentsOf: t)
        }
    }

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        for b in bytes where b >= 0x80 {
            return String(validating: bytes, as: UTF8.self) != nil
        }
        return true
    }

    /// An address with one `@`, a non-empty local part, a dotted domain and no spaces.
    static func isPlausibleEmail(_ bytes: [UInt8]) -> Bool {
        var at = -1
        for (i, b) in bytes.enumerated() {
            if b == UInt8(ascii: "@") { if at >= 0 { return false }; at = i }
            if b == 0x20 || b == 0x09 || b == UInt8(ascii: ",") || b == UInt8(ascii: ";") || b < 0x20 { return false }
        }
        guard at > 0, at < bytes.count - 1 else { return false }
        let domain = bytes[(at + 1)...]
        guard let dot = domain.lastIndex(of: UInt8(ascii: ".")), dot > domain.startIndex, dot < bytes.count - 1 else { return false }
        return domain.first != UInt8(ascii: ".")
    }
}
