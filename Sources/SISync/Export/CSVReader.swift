import Foundation

/// One CSV record as the reader hands it out: the bytes of its fields in one reusable
/// buffer, so that reading a large export allocates nothing per row.
public struct CSVRecord {
    public fileprivate(set) var bytes: [UInt8] = []
    public fileprivate(set) var ends: [Int] = []
    /// The physical line on which the record starts (1-based).
    public fileprivate(set) var line: Int = 1

    public var count: Int { ends.count }

    public func field(_ i: Int) -> ArraySlice<UInt8> {
        let start = i == 0 ? 0 : ends[i - 1]
        return bytes[start..<ends[i]]
    }

    /// Where field `i` lies in `bytes`.
    public func range(_ i: Int) -> Range<Int> {
        (i == 0 ? 0 : ends[i - 1])..<ends[i]
    }

    public func string(_ i: Int) -> String {
        String(decoding: field(i), as: UTF8.self)
    }

    fileprivate mutating func reset(line: Int) {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        self.line = line
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

    public init(file: String) { self.file = file }

    /// Feeds the next chunk; `onRecord` is called for every completed record.
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, onRecord: (CSVRecord) throws -> Void) throws {
        var i = 0
        let n = chunk.count
        if atFileStart {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            while i < n && bomBytesSeen < 3 {
                if chunk[i] == bom[bomBytesSeen] { bomBytesSeen += 1; i += 1 } else { break }
            }
            if bomBytesSeen == 3 || (i < n) {
                if bomBytesSeen > 0 && bomBytesSeen < 3 {
                    // Not a BOM after all: those bytes were data.
                    record.bytes.append(contentsOf: bom[0..<bomBytesSeen])
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
                    record.ends.append(record.bytes.count); recordOpen = true
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
                while i < n {
                    let c = chunk[i]
                    if c == UInt8(ascii: ",") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\"") { break }
                    i += 1
                }
                if i > start {
                    record.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[start..<i]))
                    column += i - start
                }
                if i == n { break }
                let c = chunk[i]
                if c == UInt8(ascii: "\"") {
                    throw ExportError.malformedCSV(file: file, line: line, column: column,
                        message: "a double quote inside an unquoted field; quote the whole field and double the inner quotes")
                }
                record.ends.append(record.bytes.count)
                if c == UInt8(ascii: ",") {
                    // A comma right before the line break means one more (empty) field;
                    // fieldStart sees the break with the record open and adds it.
                    state = .fieldStart; i += 1; column += 1
                } else {
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
                if i > start { record.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[start..<i])) }
                if i < n { state = .quoteInQuoted; i += 1; column += 1 }
            case .quoteInQuoted:
                if b == UInt8(ascii: "\"") {
                    record.bytes.append(b); state = .quoted; i += 1; column += 1
                } else if b == UInt8(ascii: ",") {
                    record.ends.append(record.bytes.count); state = .fieldStart; i += 1; column += 1
                } else if b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                    record.ends.append(record.bytes.count)
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
    }

    /// Ends the input: completes a last record without a line break, or reports an
    /// unterminated quoted field.
    public mutating func finish(onRecord: (CSVRecord) throws -> Void) throws {
        switch state {
        case .quoted:
            throw ExportError.malformedCSV(file: file, line: quoteLine, column: quoteColumn,
                message: "a quoted field is never closed (the file ends inside it); check for a missing closing quote")
        case .unquoted, .quoteInQuoted:
            record.ends.append(record.bytes.count)
            try emitRecord(onRecord)
        case .fieldStart:
            if recordOpen {
                record.ends.append(record.bytes.count)
                try emitRecord(onRecord)
            }
        case .afterCR:
            break
        }
        state = .fieldStart
    }

    private mutating func endRecord(_ onRecord: (CSVRecord) throws -> Void) throws {
        if recordOpen {
            // A record that ended right after a comma: the last field is empty.
            record.ends.append(record.bytes.count)
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
