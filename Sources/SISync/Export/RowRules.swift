/// The value rules of R2 for one row, shared by the CSV and JSON readers: trims values,
/// normalises lists and enumerations, checks required fields, UTF-8 and emails, and either
/// appends the row or records why it was skipped. Works on byte ranges of one buffer, so
/// a large import allocates almost nothing per row.
struct RowRules {
    let kind: EntityKind
    private let columns: [String]
    private let required: [Bool]
    private let isList: [Bool]
    private let isEmail: [Bool]
    private let isBoolean: [Bool]
    private let enumerated: [Set<String>?]
    /// `enumerated` as bytes, to compare an ASCII value without making a String.
    private let allowedBytes: [[[UInt8]]]
    private let keyCount: Int
    private let valueCount: Int
    private let statusColumn: Int?
    /// Normalised values that differ from their input bytes (lists, enumerations).
    private var scratch: [[UInt8]]
    private var inScratch: [Bool]
    private var trimmed: [Range<Int>]
    /// A composite key, joined (`ByteBuffer`: appended to for every row).
    private let keyBuffer = ByteBuffer()
    private var statusBuffer: [UInt8] = []

    init(kind: EntityKind) {
        self.kind = kind
        columns = kind.allColumns
        required = columns.map { kind.requiredColumns.contains($0) }
        isList = columns.map { kind.listColumns.contains($0) }
        isEmail = columns.map { kind.emailColumns.contains($0) }
        isBoolean = columns.map { kind.booleanColumns.contains($0) }
        enumerated = columns.map { kind.enumeratedColumns[$0] }
        allowedBytes = enumerated.map { ($0 ?? []).map { Array($0.utf8) } }
        keyCount = kind.keyColumns.count
        valueCount = kind.valueColumns.count
        statusColumn = kind.hasActivityStatus ? columns.count - 1 : nil
        scratch = Array(repeating: [], count: columns.count)
        inScratch = Array(repeating: false, count: columns.count)
        trimmed = Array(repeating: 0..<0, count: columns.count)
    }

    /// A bad value as a message shows it: whole up to 200 bytes, else its first 200
    /// characters and its length. A skipped row's problem is kept (up to 10,000 of them, R2),
    /// and a value may be 4 MiB.
    static func shown(_ value: String) -> String {
        guard value.utf8.count > 200 else { return value }
        return "\(value.prefix(200))… (\(value.utf8.count) bytes)"
    }

    /// Applies the rules to one row. `ranges[i]` locates the value of `kind.allColumns[i]`
    /// in `buffer`, nil when the column is absent. `known` is a problem the reader already
    /// found (a JSON value of the wrong type): the row is skipped, but its id is still read
    /// so that its record is protected (R2). Throws only when the rows outgrow what they can
    /// hold; a duplicate id is found when the reader seals the rows (R2).
    mutating func apply(buffer: UnsafeBufferPointer<UInt8>, ranges: [Range<Int>?], location: @autoclosure () -> String, line: Int,
                        into rows: inout EntityRows, known: (column: String?, message: String)? = nil) throws {
        rows.noteRowRead()
        var problem: (column: String?, message: String)? = known
        // UTF-8 checked once for the span of all the row's values (a CSV record: all of its
        // bytes) rather than value by value: a value inside a valid span is valid when it
        // starts and ends on a character's start. Only a row whose span is not valid (or a
        // value cut inside a character) checks its values one by one, as before.
        var spanStart = Int.max, spanEnd = Int.min
        for c in 0..<columns.count {
            guard let r = ranges[c] else { continue }
            spanStart = min(spanStart, r.lowerBound)
            spanEnd = max(spanEnd, r.upperBound)
        }
        let spanValid = spanStart < spanEnd && Self.isValidUTF8(buffer, spanStart..<spanEnd)
        for c in 0..<columns.count {
            inScratch[c] = false
            guard let r = ranges[c] else { trimmed[c] = 0..<0; continue }
            let t = Self.trim(buffer, r)
            trimmed[c] = t
            let valid = t.isEmpty
                || (spanValid && Self.startsCharacter(buffer, t.lowerBound, end: spanEnd) && Self.startsCharacter(buffer, t.upperBound, end: spanEnd))
                || Self.isValidUTF8(buffer, t)
            if !valid {
                problem = problem ?? (columns[c], "the value is not valid UTF-8")
                trimmed[c] = 0..<0
                continue
            }
            if isList[c] {
                scratch[c].removeAll(keepingCapacity: true)
                if let bad = Self.canonicalList(buffer, t, into: &scratch[c]) {
                    problem = problem ?? (columns[c], "the list holds a control character (byte 0x\(String(bad, radix: 16, uppercase: true))) in one of its values; every value of a `;` list must be printable text")
                }
                inScratch[c] = true
            } else if isBoolean[c] {
                let lower = String(decoding: UnsafeBufferPointer(rebasing: buffer[t]), as: UTF8.self).lowercased()
                if let yes = Self.boolean(lower) {
                    scratch[c] = yes ? [] : Array("false".utf8)
                    inScratch[c] = true
                } else {
                    problem = problem ?? (columns[c], "`\(Self.shown(lower))` is not a yes/no value (expected true, false, yes, no, 1 or 0)")
                }
            } else if let allowed = enumerated[c], !t.isEmpty {
                if let k = Self.allowedIndex(buffer, t, allowedBytes[c]) {
                    // The common case, without a String or a copy: an ASCII value of the set,
                    // whose lower-case bytes are the set's own.
                    scratch[c] = allowedBytes[c][k]
                    inScratch[c] = true
                    continue
                }
                let lower = String(decoding: UnsafeBufferPointer(rebasing: buffer[t]), as: UTF8.self).lowercased()
                if allowed.contains(lower) {
                    scratch[c] = Array(lower.utf8)
                    inScratch[c] = true
                } else {
                    problem = problem ?? (columns[c], "unknown \(columns[c]) `\(Self.shown(lower))` (expected \(allowed.sorted().joined(separator: " or ")))")
                }
            }
        }
        // An id holding a control character is no usable id (and the unit separator would
        // split a composite key); such an id is not even readable when it holds that byte.
        var keyHoldsSeparator = false
        for c in 0..<keyCount where !isEmpty(c) {
            if !inScratch[c] && !Self.mayHoldControl(buffer, trimmed[c]) { continue }
            let bad = inScratch[c] ? scratch[c].first(where: Self.isControl) : buffer[trimmed[c]].first(where: Self.isControl)
            if let bad {
                problem = problem ?? (columns[c], "the id holds a control character (byte 0x\(String(bad, radix: 16, uppercase: true)))")
                if inScratch[c] ? scratch[c].contains(0x1F) : buffer[trimmed[c]].contains(0x1F) { keyHoldsSeparator = true }
            }
        }
        if problem == nil {
            for c in 0..<columns.count where required[c] && isEmpty(c) {
                problem = (columns[c], ranges[c] == nil ? "required field `\(columns[c])` is missing" : "required field `\(columns[c])` is empty")
                break
            }
        }
        if problem == nil {
            for c in 0..<columns.count where isEmail[c] && !isEmpty(c) && !Self.isPlausibleEmail(UnsafeBufferPointer(rebasing: buffer[trimmed[c]])) {
                problem = (columns[c], "invalid email `\(Self.shown(string(c, buffer)))`")
                break
            }
        }
        var inactive = false
        if let sc = statusColumn, problem == nil, !inScratch[sc], Self.lowercasedASCII(buffer, trimmed[sc], into: &statusBuffer),
           statusBuffer.isEmpty || statusBuffer.elementsEqual("active".utf8) || statusBuffer.elementsEqual("inactive".utf8) {
            // The common case, without a String.
            inactive = statusBuffer.count == 8
        } else if let sc = statusColumn, problem == nil {
            let status = string(sc, buffer).lowercased()
            switch status {
            case "", "active": inactive = false
            case "inactive": inactive = true
            default: problem = ("status", "unknown status `\(Self.shown(status))` (expected active or inactive)")
            }
        }
        // The key is readable when every required key part is present.
        var keyReadable = !keyHoldsSeparator
        for c in 0..<keyCount where required[c] && isEmpty(c) { keyReadable = false }
        if let problem {
            let key: String? = keyReadable ? RecordKey.join((0..<keyCount).map { string($0, buffer) }) : nil
            try rows.reportProblem(RowProblem(file: rows.source, location: location(), column: problem.column,
                                              id: key.map(RecordKey.display), message: problem.message), key: key, line: line)
            return
        }
        for c in keyCount..<(keyCount + valueCount) {
            if inScratch[c] {
                try scratch[c].withUnsafeBufferPointer { try rows.appendValue($0) }
            } else {
                try rows.appendValue(UnsafeBufferPointer(rebasing: buffer[trimmed[c]]))
            }
        }
        if keyCount == 1 && !inScratch[0] {
            try rows.finishRow(key: UnsafeBufferPointer(rebasing: buffer[trimmed[0]]), inactive: inactive, line: line)
        } else {
            keyBuffer.removeAll()
            for c in 0..<keyCount {
                if c > 0 { keyBuffer.append(UInt8(0x1F)) }
                if inScratch[c] { scratch[c].withUnsafeBufferPointer { keyBuffer.append($0) } } else { keyBuffer.append(UnsafeBufferPointer(rebasing: buffer[trimmed[c]])) }
            }
            try rows.finishRow(key: keyBuffer.bytes, inactive: inactive, line: line)
        }
    }

    static func isControl(_ b: UInt8) -> Bool { b < 0x20 || b == 0x7F }

    /// False when no byte of `r` is a control character (`isControl`), eight bytes at a time
    /// (every id of every row is checked); true when one may be, which the caller then finds
    /// byte by byte.
    @inline(__always)
    static func mayHoldControl(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var i = r.lowerBound
        if let base = b.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= r.upperBound {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                // A byte below 0x20 (`w - 0x20` borrows in it), or a 0x7F (`x - 1` in its xor).
                let below = (w &- 0x2020_2020_2020_2020) & ~w & 0x8080_8080_8080_8080
                let x = w ^ 0x7F7F_7F7F_7F7F_7F7F
                let delete = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
                if below | delete != 0 { return true }
                i += 8
            }
        }
        while i < r.upperBound {
            if isControl(b[i]) { return true }
            i += 1
        }
        return false
    }

    /// The bytes of `r` lower-cased into `out`, when they are all ASCII (the same as
    /// `String.lowercased()` then); false, with `out` unspecified, for any other byte.
    static func lowercasedASCII(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        for i in r {
            let c = b[i]
            guard c < 0x80 else { return false }
            out.append(c >= 0x41 && c <= 0x5A ? c | 0x20 : c)
        }
        return true
    }

    /// Which of `allowed` (lower-case ASCII values) the bytes of `r` are, ignoring ASCII
    /// case; nil for any other value, and for any byte past ASCII (`lowercasedASCII`
    /// would not have lowered it either: such a value is compared as a String).
    static func allowedIndex(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ allowed: [[UInt8]]) -> Int? {
        candidates: for (k, value) in allowed.enumerated() where value.count == r.count {
            var j = 0
            for i in r {
                let c = b[i]
                guard c < 0x80 else { return nil }
                if (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) != value[j] { continue candidates }
                j += 1
            }
            return k
        }
        return nil
    }

    /// Booleans accept true/false, yes/no, 1/0 (any case); empty means yes.
    static func boolean(_ lower: String) -> Bool? {
        switch lower {
        case "", "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: return nil
        }
    }

    private func isEmpty(_ c: Int) -> Bool { inScratch[c] ? scratch[c].isEmpty : trimmed[c].isEmpty }

    private func string(_ c: Int, _ buffer: UnsafeBufferPointer<UInt8>) -> String {
        inScratch[c] ? String(decoding: scratch[c], as: UTF8.self)
            : String(decoding: UnsafeBufferPointer(rebasing: buffer[trimmed[c]]), as: UTF8.self)
    }

    static func trim(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int> {
        var s = r.lowerBound, e = r.upperBound
        while s < e, b[s] == 0x20 || b[s] == 0x09 { s += 1 }
        while e > s, b[e - 1] == 0x20 || b[e - 1] == 0x09 || b[e - 1] == 0x0D || b[e - 1] == 0x0A { e -= 1 }
        return s..<e
    }

    static func trim(_ v: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        guard let base = v.baseAddress else { return v }
        let t = trim(v, 0..<v.count)
        return UnsafeBufferPointer(start: base + t.lowerBound, count: t.count)
    }

    /// `a; b;;c ` becomes `a;b;c`: lists compare equal however the SIS spaces them. The list
    /// is parsed here once, for every later use (roles, links): a value holding a control
    /// character (a carriage return from CR-only line endings, a tab inside a value) is not a
    /// usable id, so the first such byte is returned and the row is skipped (R2).
    @discardableResult
    static func canonicalList(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into out: inout [UInt8]) -> UInt8? {
        var start = r.lowerBound
        var bad: UInt8?
        while start <= r.upperBound {
            var end = start
            while end < r.upperBound && b[end] != UInt8(ascii: ";") { end += 1 }
            let t = trim(b, start..<end)
            if !t.isEmpty {
                if bad == nil, let c = b[t].first(where: isControl) { bad = c }
                if !out.isEmpty { out.append(UInt8(ascii: ";")) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[t]))
            }
            start = end + 1
        }
        return bad
    }

    /// A strict UTF-8 check (no overlongs, surrogates or values past U+10FFFF), eight bytes at
    /// a time wherever they are ASCII (every row goes through it): after a multi-byte
    /// character too, so that one accented name does not leave the rest of a row to a loop
    /// byte by byte.
    static func isValidUTF8(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var i = r.lowerBound
        let end = r.upperBound
        guard let base = b.baseAddress, i < end else { return true }
        let raw = UnsafeRawPointer(base)
        while i < end {
            if i + 8 <= end {
                let high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) & 0x8080_8080_8080_8080
                if high == 0 { i += 8; continue }
                // The ASCII bytes before the first that is not.
                i += high.trailingZeroBitCount >> 3
            }
            let c = b[i]
            if c < 0x80 { i += 1; continue }
            let need: Int
            let lowest: UInt32
            var scalar: UInt32
            switch c {
            case 0xC2...0xDF: need = 1; scalar = UInt32(c & 0x1F); lowest = 0x80
            case 0xE0...0xEF: need = 2; scalar = UInt32(c & 0x0F); lowest = 0x800
            case 0xF0...0xF4: need = 3; scalar = UInt32(c & 0x07); lowest = 0x10000
            default: return false
            }
            for k in 1...need {
                guard i + k < end else { return false }
                let cc = b[i + k]
                guard cc & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(cc & 0x3F)
            }
            if scalar < lowest || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) { return false }
            i += need + 1
        }
        return true
    }

    /// Whether `p` starts a character of `b`, whose bytes up to `end` are valid UTF-8 from
    /// somewhere before `p`: it is `end`, or its byte is no continuation byte.
    @inline(__always)
    static func startsCharacter(_ b: UnsafeBufferPointer<UInt8>, _ p: Int, end: Int) -> Bool {
        p == end || b[p] & 0xC0 != 0x80
    }

    static func isPlausibleEmail(_ text: String) -> Bool {
        var t = text
        return t.withUTF8 { isPlausibleEmail($0) }
    }

    /// An address with one `@`, a non-empty local part, a dotted domain and no spaces.
    static func isPlausibleEmail(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var at = -1
        for i in 0..<bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "@") { if at >= 0 { return false }; at = i }
            if b == 0x20 || b == 0x09 || b == UInt8(ascii: ",") || b == UInt8(ascii: ";") || b < 0x20 { return false }
        }
        guard at > 0, at < bytes.count - 1 else { return false }
        let domainStart = at + 1
        guard bytes[domainStart] != UInt8(ascii: ".") else { return false }
        var lastDot = -1
        for i in domainStart..<bytes.count where bytes[i] == UInt8(ascii: ".") { lastDot = i }
        return lastDot > domainStart && lastDot < bytes.count - 1
    }
}
