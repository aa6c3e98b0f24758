/// Why an export could not be read as a whole (R2 structural errors). Any of these fails
/// the run before anything is planned, so a broken file never deactivates anyone.
public enum ExportError: Error, Equatable, CustomStringConvertible, Sendable {
    case malformedCSV(file: String, line: Int, column: Int, message: String)
    case malformedJSON(file: String, path: String, offset: Int, message: String)
    case missingColumn(file: String, column: String, found: [String])
    case duplicateColumn(file: String, column: String)
    /// `columns` are the key's columns (one, or the parts of a composite key).
    case duplicateID(file: String, line: Int, id: String, firstLine: Int, columns: [String])
    /// `path` ends in the key's member for a single key (`staff[3].staff_id`).
    case duplicateJSONID(file: String, path: String, id: String, firstPath: String, columns: [String])
    case missingEntity(file: String, entity: String)
    case wrongDocument(file: String, message: String)
    case tooManyInvalidRows(file: String, invalid: Int, allowed: Int, rows: Int)
    case invalidUTF8(file: String, line: Int, column: String)
    /// More of one entity than its in-memory form can index (32-bit offsets): refused
    /// rather than trapping (issue 26 item 15).
    case tooLargeToHold(file: String, what: String, limit: Int)
    /// A file read twice (to report every skipped row) that read differently the second
    /// time: it was rewritten while the run read it.
    case changedWhileRead(file: String, first: String, second: String)

    /// A header's column names for a message: the first 20, and how many more (a header may
    /// have 65,536 names, and a message of all of them was megabytes long).
    public static func names(_ names: [String]) -> String {
        let shown = names.prefix(20).joined(separator: ", ")
        return names.count > 20 ? shown + ", and \(names.count - 20) more" : shown
    }

    /// What a read of a file counted, for `changedWhileRead`: "12 rows, 3 invalid", or
    /// "12 rows of staff, 3 invalid" for one entity of a document.
    static func counted(rows: Int, invalid: Int, of entity: String? = nil) -> String {
        "\(rows) row\(rows == 1 ? "" : "s")\(entity.map { " of \($0)" } ?? ""), \(invalid) invalid"
    }

    /// "id in column staff_id", or "key in columns household_id, record_type, record_id".
    static func keyWords(_ columns: [String]) -> String {
        switch columns.count {
        case 0: return "id"
        case 1: return "id in column \(columns[0])"
        default: return "key in columns \(columns.joined(separator: ", "))"
        }
    }

    /// Every URL in it shown as `DisplayedURL` does (a source URL's secrets masked).
    public var description: String { DisplayedURL.redacting(in: text) }

    private var text: String {
        switch self {
        case .malformedCSV(let file, let line, let column, let message):
            return "\(file):\(line):\(column): malformed CSV: \(message)"
        case .malformedJSON(let file, let path, let offset, let message):
            return "\(file): at \(path.isEmpty ? "the top level" : path) (byte \(offset)): malformed JSON: \(message)"
        case .missingColumn(let file, let column, let found):
            return "\(file):1: required column `\(column)` is missing from the header (found: \(Self.names(found))); fix the SIS export"
        case .duplicateColumn(let file, let column):
            return "\(file):1: column `\(column)` appears twice in the header; the export must name each column once"
        case .duplicateID(let file, let line, let id, let firstLine, let columns):
            return "\(file):\(line): \(Self.keyWords(columns)) `\(id)` appears twice (first at line \(firstLine)); each record must appear once"
        case .duplicateJSONID(let file, let path, let id, let firstPath, let columns):
            let key = columns.count == 1 ? "id" : Self.keyWords(columns)
            return "\(file): \(path): \(key) `\(id)` appears twice (first at \(firstPath)); each record must appear once"
        case .missingEntity(let file, let entity):
            return "\(file): the document has no `\(entity)` array, but `\(entity)` is listed in [source] entities; fix the export or the list"
        case .wrongDocument(let file, let message):
            return "\(file): not a sisync export document: \(message)"
        case .tooManyInvalidRows(let file, let invalid, let allowed, let rows):
            return "\(file): \(invalid) of \(rows) rows are invalid, more than max_invalid_rows allows (\(allowed)); fix the export or raise max_invalid_rows"
        case .invalidUTF8(let file, let line, let column):
            return "\(file):\(line): column \(column) is not valid UTF-8; export the file as UTF-8"
        case .changedWhileRead(let file, let first, let second):
            return "\(file): the file changed while it was read (\(first), then \(second)); nothing was applied. Run again once the export is written whole"
        case .tooLargeToHold(let file, let what, let limit):
            return "\(file): one entity holds more than \(limit) \(what), the most sisync can hold in memory; nothing was applied. Check that [source] names the right export"
        }
    }
}

/// A row that was skipped because one of its values is unusable (R2). Its record, if the
/// id could be read, is left exactly as it is: not updated and never deactivated.
public struct RowProblem: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    /// A line number (CSV) or a JSON path such as `staff[12]`.
    public let location: String
    public let column: String?
    public let id: String?
    public let message: String
    /// The entity and stored key of the row's record, when its id is readable.
    public var entity: EntityKind? = nil
    public var recordKey: String? = nil
    /// Whether the mirror holds the record (known once the run looked): a skipped row of a
    /// record the mirror does not hold means a person is missing, not merely not updated.
    public var inMirror: Bool? = nil

    /// Every URL in it shown as `DisplayedURL` does (a source URL's secrets masked).
    public var description: String { DisplayedURL.redacting(in: text) }

    private var text: String {
        var s = "\(file):\(location):"
        if let column { s += " column \(column):" }
        s += " \(message)"
        if let id {
            s += inMirror == false ? " (record \(id) not added: fix the row in the SIS so it is added next run)" : " (record \(id) left unchanged)"
        } else {
            s += " (row skipped)"
        }
        return s
    }
}
