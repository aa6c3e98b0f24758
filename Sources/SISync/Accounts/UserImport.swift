import Foundation

/// One row of a `sisyncctl user import` file: the account and the records it is attached to.
public struct UserImportRow: Sendable, Equatable {
    public var line: Int
    public var username: String
    public var email: String
    /// nil when the file has no `approved` column or the cell is empty: left as it is.
    public var approved: Bool?
    /// The records the row attaches the user to: each once, by kind in the order of the
    /// kinds' names (donor, household, student) and within a kind in the file's order.
    public var attachments: [UserImportAttachment]
}

/// One record a row of an import file attaches its user to.
public struct UserImportAttachment: Sendable, Equatable {
    public var kind: AttachmentKind
    public var id: String
}

/// Why an import file was refused. The whole file is checked first, so an administrator
/// learns of all its problems at once (the first 1,000 in full, and how many in all) and
/// nothing is written until the file is clean.
public struct UserImportError: Error, CustomStringConvertible, Sendable {
    public var file: String
    /// The first problems, in the file's order (at most `UserImportProblems.kept`).
    public var problems: [String]
    /// How many problems the file has in all.
    public var total: Int

    public init(file: String, problems: [String], total: Int? = nil) {
        self.file = file
        self.problems = problems
        self.total = max(total ?? problems.count, problems.count)
    }

    public var description: String {
        let shown = problems.prefix(20).map { "  \(file):\($0)" }.joined(separator: "\n")
        let more = total > 20 ? "\n  ... and \(total - min(20, problems.count)) more" : ""
        return "\(file): \(total) problem\(total == 1 ? "" : "s"); nothing was imported. Fix the file and run the import again:\n\(shown)\(more)"
    }
}

/// Reads and checks an import file (columns `username`*, `email`*, `approved`,
/// `student_id`, `household_id`, `donor_id`; lists with `;`). Checks that need the
/// database (email clashes with other users, unknown records) are the store's.
public enum UserImport {
    static let columns = ["username", "email", "approved", "student_id", "household_id", "donor_id"]
    /// In the order a row keeps its attachments (the kinds' names).
    static let attachmentColumns: [(String, AttachmentKind)] = [("donor_id", .donor), ("household_id", .household), ("student_id", .student)]

    /// Reads the file a megabyte at a time: held whole, it was the largest single piece of
    /// the command's memory while it was parsed (66 MB for a million users; issue 34). A
    /// regular file is read twice through one descriptor, first to count its users
    /// (`LineCount`), so that the rows and the duplicate checks get their room at once; a
    /// pipe is read once, and its rows' room grows as they come.
    public static func read(path: String) throws -> UserImportRows {
        do {
            var room = (lines: 0, bytesPerRow: 0)
            let file = try InputFile(path: path)
            if file.isRegularFile, let start = file.position {
                var count = LineCount()
                try file.forEachChunk { count.add($0) }
                try file.seek(to: start)
                let size = Int(file.size ?? 0)
                room = (count.total, count.total == 0 ? 0 : size / count.total)
            }
            return try parse(file: path, room: room) { body in try file.forEachChunk(body) }
        } catch let error as FetchError {
            // The system's reason (no such file, permission denied, a directory): "missing or
            // not readable" left the administrator to find out which.
            guard case .unreadableFile(_, let reason) = error else { throw UserImportError(file: path, problems: ["1: cannot read the file"]) }
            throw UserImportError(file: path, problems: ["1: cannot read the file: \(reason)"])
        }
    }

    /// Counts the lines (ended by a line feed, or by the end) that hold a byte other than a
    /// space, a tab, a carriage return or a comma, over the chunks of a file.
    struct LineCount {
        private var count = 0, content = false

        mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
            for b in bytes {
                switch b {
                case 10:
                    if content { count += 1 }
                    content = false
                case 32, 9, 13, 44: break
                default: content = true
                }
            }
        }

        var total: Int { content ? count + 1 : count }
    }

    /// The lines of `bytes` that hold something (`LineCount`).
    static func linesWithContent(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var count = LineCount()
        count.add(bytes)
        return count.total
    }

    /// `trimmingCharacters(in: .whitespaces)`, without its cost when the text neither starts
    /// nor ends with a space, a tab or a non-ASCII character (almost every cell).
    static func trimmed(_ s: String) -> String {
        func plain(_ b: UInt8?) -> Bool { b.map { $0 > 32 && $0 < 128 } ?? true }
        if plain(s.utf8.first) && plain(s.utf8.last) { return s }
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// Whether field `i` is empty once trimmed, without making a string of an ASCII one.
    static func isBlank(_ r: CSVRecord, _ i: Int) -> Bool {
        for k in r.range(i) {
            let b = r.bytes[k]
            if b == 32 || b == 9 { continue }
            if b < 128 { return false }
            return trimmed(r.string(i)).isEmpty
        }
        return true
    }

    /// Appends field `c`'s ids (a `;` list, each trimmed, empty ones skipped) that the row
    /// does not have yet for `kind` (a repeated id is one attachment). An ASCII field is
    /// split byte by byte, where trimming is dropping spaces and tabs; any other by the
    /// Characters of its string, as `split` on `;` does.
    static func appendIDs(_ r: CSVRecord, _ c: Int, _ kind: AttachmentKind, to out: inout [UserImportAttachment]) {
        let range = r.range(c)
        guard !range.isEmpty else { return }
        let first = out.count
        var seen: Set<String>?
        func add(_ id: String) {
            // A handful per row: looked up in place; a long list (a fuzzer's) through a set.
            if seen == nil && out.count - first < 8 {
                if !out[first...].contains(where: { $0.id == id }) { out.append(UserImportAttachment(kind: kind, id: id)) }
                return
            }
            if seen == nil { seen = Set(out[first...].map(\.id)) }
            if seen!.insert(id).inserted { out.append(UserImportAttachment(kind: kind, id: id)) }
        }
        if r.bytes[range].contains(where: { $0 >= 128 }) {
            for piece in trimmed(r.string(c)).split(separator: ";") {
                let id = trimmed(String(piece))
                if !id.isEmpty { add(id) }
            }
            return
        }
        do {
            let b = r.bytes
            var start = range.lowerBound
            while start <= range.upperBound {
                var end = start
                while end < range.upperBound && b[end] != UInt8(ascii: ";") { end += 1 }
                var lo = start, hi = end
                while lo < hi && (b[lo] == 32 || b[lo] == 9) { lo += 1 }
                while hi > lo && (b[hi - 1] == 32 || b[hi - 1] == 9) { hi -= 1 }
                if lo < hi { add(String(decoding: UnsafeBufferPointer(rebasing: b[lo..<hi]), as: UTF8.self)) }
                start = end + 1
            }
        }
    }

    /// A row's attachments by kind, as the change feed lists them.
    static func byKind(_ attachments: [UserImportAttachment]) -> [(kind: AttachmentKind, ids: [String])] {
        var out: [(kind: AttachmentKind, ids: [String])] = []
        for a in attachments {
            if out.last?.kind == a.kind { out[out.count - 1].ids.append(a.id) } else { out.append((a.kind, [a.id])) }
        }
        return out
    }

    /// The rows of an import file, checked (`parse(_:file:)` over the file's bytes), each a
    /// value of its own (tests, small callers).
    public static func parse(_ bytes: [UInt8], file: String) throws -> [UserImportRow] {
        Array(try bytes.withUnsafeBufferPointer { try parse($0, file: file) })
    }

    /// Each record becomes a row as the reader gives it: only the rows are held, compactly
    /// (`UserImportRows`), not the file's cells as well (a district's 200,000 users). Every
    /// row is kept, after a problem too: the duplicate checks compare a later name with the
    /// row that had it first (`FirstAppearances`).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws -> UserImportRows {
        let lines = Self.linesWithContent(bytes)
        return try parse(file: file, room: (lines, lines == 0 ? 0 : bytes.count / lines)) { body in try body(bytes) }
    }

    /// The most rows, and text bytes a row, `parse` makes room for before it reads them.
    static let roomForRows = 1 << 22, roomPerRow = 256

    /// `parse(_:file:)` over the chunks `feed` gives its body, in order. `room`: how many
    /// rows to make room for at once, and about how many bytes each takes in the file.
    static func parse(file: String, room: (lines: Int, bytesPerRow: Int),
                      feed: ((UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Void) throws -> UserImportRows {
        var reader = CSVReader(file: file)
        var header: (line: Int, fields: [String])?
        var position: [String: Int] = [:]
        var problems = UserImportProblems()
        var rows = UserImportRows()
        // A line per user: room for them all at once, not rehashed as the file is read. Only
        // lines that hold something but spaces, tabs and commas can be users: a file of
        // blank lines asked for room for a row and two names per line (a 100 MB file of
        // them, 6 GB, which the process could not have).
        // Room made once, as far as a file of users can use it: a line of a million users'
        // file is about 64 bytes, of which a row keeps its names and ids; past these bounds
        // (a file of 4 million users, or of long lines) the room grows as the rows come, so
        // that a file of odd lines cannot ask for more than the rows it gives.
        let lines = min(room.lines, Self.roomForRows), bytesPerRow = min(room.bytesPerRow, Self.roomPerRow)
        var usernames = FirstAppearances(capacity: lines), emails = FirstAppearances(capacity: lines)
        rows.reserveCapacity(lines, bytesPerRow: bytesPerRow)
        var columnsChecked = false
        var usernameColumn: Int?, emailColumn: Int?, approvedColumn: Int?
        var attachmentColumns: [(Int, AttachmentKind)] = []
        let collect: (CSVRecord) throws -> Void = { r in
            guard let header else {
                let fields = (0..<r.count).map { Self.trimmed(r.string($0)) }
                header = (r.line, fields)
                for (i, name) in fields.enumerated() {
                    let n = name.lowercased()
                    guard columns.contains(n) else {
                        problems.append("\(r.line):\(i + 1): unknown column `\(name)` (expected \(columns.joined(separator: ", ")))")
                        continue
                    }
                    if position[n] != nil { problems.append("\(r.line):\(i + 1): column `\(name)` appears twice") }
                    position[n] = i
                }
                for required in ["username", "email"] where position[required] == nil {
                    problems.append("\(r.line): missing required column `\(required)`")
                }
                columnsChecked = problems.isEmpty
                (usernameColumn, emailColumn, approvedColumn) = (position["username"], position["email"], position["approved"])
                attachmentColumns = Self.attachmentColumns.compactMap { name, kind in position[name].map { ($0, kind) } }
                return
            }
            // A header with problems is reported alone, as the rows cannot be read.
            guard columnsChecked, let uCol = usernameColumn, let eCol = emailColumn else { return }
            let line = r.line
            // Only the cells a row needs become strings (a district's file is 200,000 rows).
            if (0..<r.count).allSatisfy({ Self.isBlank(r, $0) }) { return }
            guard r.count == header.fields.count else {
                problems.append("\(line): \(r.count) fields, the header has \(header.fields.count)")
                return
            }
            let username = Self.trimmed(r.string(uCol)), email = Self.trimmed(r.string(eCol))
            // The row this one will be (every row is kept: a later name is compared with it).
            let index = rows.count
            if !UserRecord.isValidUsername(username) {
                problems.append("\(line):\(uCol + 1): username `\(username)` must be non-empty and without spaces")
            } else if let first = usernames.firstRow(of: username.lowercased(), row: index, nameOn: { rows.username($0).lowercased() }) {
                problems.append("\(line):\(uCol + 1): username `\(username)` already appears on line \(rows.line(first))")
            }
            if !RowRules.isPlausibleEmail(email) {
                problems.append("\(line):\(eCol + 1): `\(email)` is not an email address")
            } else if let first = emails.firstRow(of: email.lowercased(), row: index, nameOn: { rows.email($0).lowercased() }) {
                problems.append("\(line):\(eCol + 1): email \(email) already appears on line \(rows.line(first)) (emails are unique regardless of case)")
            }
            var approved: Bool?
            if let a = approvedColumn {
                let text = Self.trimmed(r.string(a))
                if !text.isEmpty {
                    approved = parseBoolean(text)
                    if approved == nil { problems.append("\(line):\(a + 1): approved must be true/false, yes/no or 1/0, got `\(text)`") }
                }
            }
            var attachments: [UserImportAttachment] = []
            for (c, kind) in attachmentColumns { Self.appendIDs(r, c, kind, to: &attachments) }
            // Kept after a problem too: the duplicate checks compare later names with it.
            rows.append(line: line, username: username, email: email, approved: approved, attachments: attachments)
        }
        do {
            try feed { try reader.feed($0, onRecord: collect) }
            try reader.finish(onRecord: collect)
        } catch ExportError.malformedCSV(_, let line, let column, let message) {
            throw UserImportError(file: file, problems: ["\(line):\(column): \(message)"])
        }
        guard header != nil else { throw UserImportError(file: file, problems: ["1: the file is empty; it needs a header line"]) }
        guard problems.isEmpty else { throw problems.error(file: file) }
        return rows
    }
}
