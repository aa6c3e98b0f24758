import Foundation

/// One CSV record as the reader hands it out: the bytes of its fields end to end in one
/// buffer the reader reuses, so that reading a large export allocates nothing per row.
///
/// A record is valid only inside the `onRecord` call that hands it out: the reader writes
/// the next record into the same memory (as `Array`s, the appends and the uniqueness checks
/// that kept a record a value were a tenth of the instructions of parsing a day on which
/// every file changed: callgrind, issue 34). Keep what you need of it as `string(_:)` or a
/// copy of `field(_:)`.
public struct CSVRecord {
    fileprivate let storage: CSVRecordStorage
    /// The physical line on which the record starts (1-based).
    public fileprivate(set) var line: Int = 1

    fileprivate init() { storage = CSVRecordStorage() }

    /// The fields' bytes, end to end.
    public var bytes: UnsafeBufferPointer<UInt8> { storage.bytes.bytes }

    public var count: Int { storage.endCount }

    public func field(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[range(i)])
    }

    /// Where field `i` lies in `bytes`.
    public func range(_ i: Int) -> Range<Int> {
        precondition(i >= 0 && i < storage.endCount, "field \(i) of \(storage.endCount)")
        return (i == 0 ? 0 : storage.ends[i - 1])..<storage.ends[i]
    }

    public func string(_ i: Int) -> String {
        String(decoding: field(i), as: UTF8.self)
    }

    fileprivate mutating func reset(line: Int) {
        storage.bytes.removeAll()
        storage.endCount = 0
        self.line = line
    }
}

/// A record's memory: its bytes and where each field ends, kept for the next record.
private final class CSVRecordStorage {
    let bytes = ByteBuffer(capacity: 1024)
    private(set) var ends: UnsafeMutablePointer<Int>
    private var capacity = 64
    var endCount = 0

    init() { ends = .allocate(capacity: capacity) }

    deinit { ends.deallocate() }

    /// Ends the current field at the bytes' count.
    @inline(__always)
    func endField() {
        if endCount == capacity { grow() }
        ends[endCount] = bytes.count
        endCount += 1
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<Int>.allocate(capacity: capacity * 2)
        bigger.update(from: ends, count: endCount)
        ends.deallocate()
        ends = bigger
        capacity *= 2
    }
}

/// A streaming RFC 4180 reader: bytes arrive in chunks, records leave one at a time.
/// Quoted fields may hold commas, quotes (doubled) and newlines; LF and CRLF both end
/// records; a UTF-8 byte order mark at the start is skipped.
public struct CSVReader {
    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted, afterCR }

    public let file: String
    private var state: State = .fieldStart
    private var record = CSVRecord()
    private var line = 1
    private var column = 1
    private var atFileStart = true
    private var bomBytesSeen = 0
    private var recordOpen = false
    private var quoteLine = 0
    private var quoteColumn = 0

    /// The most one record may hold: 4 MiB of field text (its fields' bytes, without the
    /// separators and quotes) and 65,536 fields. A SIS export's records are a few hundred
    /// bytes of a dozen fields; without a bound the record being read grew with whatever the
    /// file held until its line ended (issue 34: a `students.csv` of one 300 MB line took the
    /// run to 568 MB, one line of 100 million commas to 1.1 GB). Past either, the file is
    /// refused as malformed at the record's first line, whatever the chunks it arrives in.
    static let recordByteLimit = 4 << 20
    static let recordFieldLimit = 1 << 16

    public init(file: String) { self.file = file }

    /// Feeds the next chunk; `onRecord` is called for every completed record.
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, onRecord: (CSVRecord) throws -> Void) throws {
        var i = 0
        let n = chunk.count
        // The record's memory, held once for the chunk: reached through `record` at each
        // byte run, each access retained and released it (two runtime calls a field).
        let storage = record.storage, fieldBytes = storage.bytes
        if atFileStart {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            while i < n && bomBytesSeen < 3 {
                if chunk[i] == bom[bomBytesSeen] { bomBytesSeen += 1; i += 1 } else { break }
            }
            if bomBytesSeen == 3 || (i < n) {
                if bomBytesSeen > 0 && bomBytesSeen < 3 {
                    // Not a BOM after all: those bytes were data.
                    bom[0..<bomBytesSeen].withUnsafeBufferPointer { fieldBytes.append($0) }
                    state = .unquoted
                    recordOpen = true
                }
                atFileStart = false
            } else {
                return
            }
        }
        while i < n {
            let b = chunk[i]
            switch state {
            case .fieldStart:
                if b == UInt8(ascii: "\"") {
                    state = .quoted; recordOpen = true; quoteLine = line; quoteColumn = column
                    i += 1; column += 1
                } else if b == UInt8(ascii: ",") {
                    storage.endField(); recordOpen = true
                    i += 1; column += 1
                } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                    try endRecord(onRecord)
                    state = b == UInt8(ascii: "\r") ? .afterCR : .fieldStart
                    i += 1; line += 1; column = 1
                } else {
                    state = .unquoted; recordOpen = true
                }
            case .unquoted:
                let start = i
                i = Self.unquotedEnd(chunk, from: i)
                if i > start {
                    fieldBytes.append(UnsafeBufferPointer(rebasing: chunk[start..<i]))
                    column += i - start
                }
                if i == n { break }
                let c = chunk[i]
                if c == UInt8(ascii: "\"") {
                    throw ExportError.malformedCSV(file: file, line: line, column: column,
                        message: "a double quote inside an unquoted field; quote the whole field and double the inner quotes")
                }
                storage.endField()
                if c == UInt8(ascii: ",") {
                    // A comma right before the line break means one more (empty) field;
                    // fieldStart sees the break with the record open and adds it.
                    state = .fieldStart; i += 1; column += 1
                } else {
                    try refuseIfTooLarge(storage)
                    try emitRecord(onRecord)
                    state = c == UInt8(ascii: "\r") ? .afterCR : .fieldStart
                    i += 1; line += 1; column = 1
                }
            case .quoted:
                let start = i
                while i < n && chunk[i] != UInt8(ascii: "\"") {
                    if chunk[i] == UInt8(ascii: "\n") { line += 1; column = 0 }
                    i += 1; column += 1
                }
                if i > start { fieldBytes.append(UnsafeBufferPointer(rebasing: chunk[start..<i])) }
                if i < n { state = .quoteInQuoted; i += 1; column += 1 }
            case .quoteInQuoted:
                if b == UInt8(ascii: "\"") {
                    fieldBytes.append(b); state = .quoted; i += 1; column += 1
                } else if b == UInt8(ascii: ",") {
                    storage.endField(); state = .fieldStart; i += 1; column += 1
                } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                    storage.endField()
                    try refuseIfTooLarge(storage)
                    try emitRecord(onRecord)
                    state = b == UInt8(ascii: "\r") ? .afterCR : .fieldStart
                    i += 1; line += 1; column = 1
                } else {
                    throw ExportError.malformedCSV(file: file, line: line, column: column,
                        message: "unexpected character after a closing quote; a quote inside a quoted field must be doubled")
                }
            case .afterCR:
                state = .fieldStart
                if b == UInt8(ascii: "\n") { i += 1 }
            }
        }
        // The record still open grew by at most this chunk.
        try refuseIfTooLarge(storage)
    }

    /// Refuses the record being read once it holds more than a record may (`recordByteLimit`,
    /// `recordFieldLimit`): at the end of each chunk, and before a record is handed out.
    /// Given the storage `feed` holds: reached through `record`, each check retained and
    /// released it (0.5% more instructions on a day on which every file changed).
    @inline(__always)
    private func refuseIfTooLarge(_ storage: CSVRecordStorage) throws {
        if storage.bytes.count > Self.recordByteLimit || storage.endCount > Self.recordFieldLimit { try refuseTooLarge(storage) }
    }

    private func refuseTooLarge(_ storage: CSVRecordStorage) throws {
        let what = storage.endCount > Self.recordFieldLimit
            ? "more than 65,536 fields" : "more than \(Self.recordByteLimit >> 20) MiB of text"
        // Most often a quote that is never closed, which is then named where it opened.
        let quote = state == .quoted
            ? "; the quoted field opened at line \(quoteLine), column \(quoteColumn) is still open: check for a missing closing quote"
            : "; check that this is the right file"
        throw ExportError.malformedCSV(file: file, line: record.line, column: 1,
            message: "a row of \(what), far more than a row of this file should hold\(quote)")
    }

    /// Ends the input: completes a last record without a line break, or reports an
    /// unterminated quoted field.
    public mutating func finish(onRecord: (CSVRecord) throws -> Void) throws {
        switch state {
        case .quoted:
            throw ExportError.malformedCSV(file: file, line: quoteLine, column: quoteColumn,
                message: "a quoted field is never closed (the file ends inside it); check for a missing closing quote")
        case .unquoted, .quoteInQuoted:
            record.storage.endField()
            try refuseIfTooLarge(record.storage)
            try emitRecord(onRecord)
        case .fieldStart:
            if recordOpen {
                record.storage.endField()
                try refuseIfTooLarge(record.storage)
                try emitRecord(onRecord)
            }
        case .afterCR:
            break
        }
        state = .fieldStart
    }

    /// The first byte from `start` on that ends or breaks an unquoted field (a comma, LF, CR
    /// or a double quote), or the chunk's end. Eight bytes at a time: most of an export's
    /// bytes are in unquoted fields, and byte by byte this loop was a sixth of the CSV
    /// reader's instructions (callgrind, issue 34).
    @inline(__always)
    static func unquotedEnd(_ chunk: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var i = start
        let n = chunk.count
        if let base = chunk.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= n {
                let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let found = flagged(w, UInt8(ascii: ",")) | flagged(w, UInt8(ascii: "\n")) | flagged(w, UInt8(ascii: "\r")) | flagged(w, UInt8(ascii: "\""))
                if found != 0 { return i + found.trailingZeroBitCount >> 3 }
                i += 8
            }
        }
        while i < n {
            let c = chunk[i]
            if c == UInt8(ascii: ",") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\"") { return i }
            i += 1
        }
        return n
    }

    /// The high bit of each byte of `w` (little-endian) that equals `byte`. Exact for the
    /// lowest such byte, the only one `unquotedEnd` reads: the borrow of the subtraction
    /// can flag a byte above a match, never one below.
    @inline(__always)
    static func flagged(_ w: UInt64, _ byte: UInt8) -> UInt64 {
        let x = w ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    private mutating func endRecord(_ onRecord: (CSVRecord) throws -> Void) throws {
        if recordOpen {
            // A record that ended right after a comma: the last field is empty.
            record.storage.endField()
            try refuseIfTooLarge(record.storage)
            try emitRecord(onRecord)
        } else {
            // A blank line: skipped.
            record.reset(line: line + 1)
        }
    }

    private mutating func emitRecord(_ onRecord: (CSVRecord) throws -> Void) throws {
        try onRecord(record)
        record.reset(line: line + 1)
        recordOpen = false
    }
}
