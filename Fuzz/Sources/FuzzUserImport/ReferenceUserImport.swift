// `UserImport.parse` as it was at 55489f9, before issue 34 made it read only the cells a row
// needs: the yardstick FuzzUserImport compares the reader with. Kept as it was (its rows with
// a dictionary of attachments); only its names changed.
@testable import SISync

struct ReferenceRow {
    var line: Int
    var username: String
    var email: String
    var approved: Bool?
    var attachments: [AttachmentKind: [String]]
}

enum ReferenceUserImport {
    static let attachmentColumns: [(String, AttachmentKind)] = [("student_id", .student), ("household_id", .household), ("donor_id", .donor)]

    static func parse(_ bytes: [UInt8], file: String) throws -> [ReferenceRow] {
        var reader = CSVReader(file: file)
        var header: (line: Int, fields: [String])?
        var position: [String: Int] = [:]
        var problems: [String] = []
        var rows: [ReferenceRow] = []
        // A line per user: room for them all at once, not rehashed as the file is read.
        let lines = bytes.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
        var usernames: [String: Int] = Dictionary(minimumCapacity: lines)
        var emails: [String: Int] = Dictionary(minimumCapacity: lines)
        rows.reserveCapacity(lines)
        var columnsChecked = false
        let collect: (CSVRecord) throws -> Void = { r in
            let fields = (0..<r.count).map { UserImport.trimmed(r.string($0)) }
            guard let header else {
                header = (r.line, fields)
                for (i, name) in fields.enumerated() {
                    let n = name.lowercased()
                    guard UserImport.columns.contains(n) else {
                        problems.append("\(r.line):\(i + 1): unknown column `\(name)` (expected \(UserImport.columns.joined(separator: ", ")))")
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
            for (column, kind) in Self.attachmentColumns {
                guard let c = position[column], !fields[c].isEmpty else { continue }
                let ids = fields[c].split(separator: ";").map { UserImport.trimmed(String($0)) }.filter { !$0.isEmpty }
                if !ids.isEmpty { attachments[kind] = ids }
            }
            // Once the file has a problem the rest is only checked, not kept.
            if problems.isEmpty {
                rows.append(ReferenceRow(line: line, username: username, email: email, approved: approved, attachments: attachments))
            }
        }
        do {
            try bytes.withUnsafeBufferPointer { try reader.feed($0, onRecord: collect) }
            try reader.finish(onRecord: collect)
        } catch ExportError.malformedCSV(_, let line, let column, let message) {
            throw UserImportError(file: file, problems: ["\(line):\(column): \(message)"])
        }
        guard header != nil else { throw UserImportError(file: file, problems: ["1: the file is empty; it needs a header line"]) }
        // The one change since 55489f9: the error keeps the first problems and their count.
        guard problems.isEmpty else { throw UserImportError(file: file, problems: Array(problems.prefix(UserImportProblems.kept)), total: problems.count) }
        return rows
    }
}
