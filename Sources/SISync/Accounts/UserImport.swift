import Foundation

/// One row of a `sisyncctl user import` file: the account and the records it is attached to.
public struct UserImportRow: Sendable, Equatable {
    public var line: Int
    public var username: String
    public var email: String
    /// nil when the file has no `approved` column or the cell is empty: left as it is.
    public var approved: Bool?
    public var attachments: [AttachmentKind: [String]]
}

/// Why an import file was refused. The whole file is checked first, so an administrator
/// gets every problem at once and nothing is written until the file is clean.
public struct UserImportError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var problems: [String]

    public var description: String {
        let shown = problems.prefix(20).map { "  \(file):\($0)" }.joined(separator: "\n")
        let more = problems.count > 20 ? "\n  ... and \(problems.count - 20) more" : ""
        return "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s"); nothing was imported. Fix the file and run the import again:\n\(shown)\(more)"
    }
}

/// Reads and checks an import file (columns `username`*, `email`*, `approved`,
/// `student_id`, `household_id`, `donor_id`; lists with `;`). Checks that need the
/// database (email clashes with other users, unknown records) are the store's.
public enum UserImport {
    static let columns = ["username", "email", "approved", "student_id", "household_id", "donor_id"]
    static let attachmentColumns: [(String, AttachmentKind)] = [("student_id", .student), ("household_id", .household), ("donor_id", .donor)]

    public static func read(path: String) throws -> [UserImportRow] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UserImportError(file: path, problems: ["1: cannot read the file (missing or not readable)"])
        }
        return try parse(Array(data), file: path)
    }

    /// `trimmingCharacters(in: .whitespaces)`, without its cost when the text neither starts
    /// nor ends with a space, a tab or a non-ASCII character (almost every cell).
    static func trimmed(_ s: String) -> String {
        func plain(_ b: UInt8?) -> Bool { b.map { $0 > 32 && $0 < 128 } ?? true }
        if plain(s.utf8.first) && plain(s.utf8.last) { return s }
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// Each record becomes a row as the reader gives it: only the rows are held, not the
    /// file's cells as well (a district's 200,000 users).
    public static func parse(_ bytes: [UInt8], file: String) throws -> [UserImportRow] {
        var reader = CSVReader(file: file)
        var header: (line: Int, fields: [String])?
        var position: [String: Int] = [:]
        var problems: [String] = []
        var rows: [UserImportRow] = []
        // A line per user: room for them all at once, not rehashed as the file is read.
        let lines = bytes.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
        var usernames: [String: Int] = Dictionary(minimumCapacity: lines)
        var emails: [String: Int] = Dictionary(minimumCapacity: lines)
        rows.reserveCapacity(lines)
        var columnsChecked = false
        let collect: (CSVRecord) throws -> Void = { r in
            let fields = (0..<r.count).map { Self.trimmed(r.string($0)) }
            guard let header else {
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
                return
            }
            // A header with problems is reported alone, as the rows cannot be read.
            guard columnsChecked, let uCol = position["username"], let eCol = position["email"] else { return }
            let line = r.line
            if fields.allSatisfy(\.isEmpty) { return }
            guard fields.count == header.fields.count else {
                problems.append("\(line): \(fields.count) fields, the header has \(header.fields.count)")
                return
            }
            let username = fields[uCol], email = fields[eCol]
            if !UserRecord.isValidUsername(username) {
                problems.append("\(line):\(uCol + 1): username `\(username)` must be non-empty and without spaces")
            } else {
                let key = username.lowercased()
                if let first = usernames.updateValue(line, forKey: key) {
                    usernames[key] = first
                    problems.append("\(line):\(uCol + 1): username `\(username)` already appears on line \(first)")
                }
            }
            if !RowRules.isPlausibleEmail(email) {
                problems.append("\(line):\(eCol + 1): `\(email)` is not an email address")
            } else {
                let key = email.lowercased()
                if let first = emails.updateValue(line, forKey: key) {
                    emails[key] = first
                    problems.append("\(line):\(eCol + 1): email \(email) already appears on line \(first) (emails are unique regardless of case)")
                }
            }
            var approved: Bool?
            if let a = position["approved"], !fields[a].isEmpty {
                approved = parseBoolean(fields[a])
                if approved == nil { problems.append("\(line):\(a + 1): approved must be true/false, yes/no or 1/0, got `\(fields[a])`") }
            }
            var attachments: [AttachmentKind: [String]] = [:]
            for (column, kind) in attachmentColumns {
                guard let c = position[column], !fields[c].isEmpty else { continue }
                let ids = fields[c].split(separator: ";").map { Self.trimmed(String($0)) }.filter { !$0.isEmpty }
                if !ids.isEmpty { attachments[kind] = ids }
            }
            // Once the file has a problem the rest is only checked, not kept.
            if problems.isEmpty {
                rows.append(UserImportRow(line: line, username: username, email: email, approved: approved, attachments: attachments))
            }
        }
        do {
            try bytes.withUnsafeBufferPointer { try reader.feed($0, onRecord: collect) }
            try reader.finish(onRecord: collect)
        } catch ExportError.malformedCSV(_, let line, let column, let message) {
            throw UserImportError(file: file, problems: ["\(line):\(column): \(message)"])
        }
        guard header != nil else { throw UserImportError(file: file, problems: ["1: the file is empty; it needs a header line"]) }
        guard problems.isEmpty else { throw UserImportError(file: file, problems: problems) }
        return rows
    }
}
