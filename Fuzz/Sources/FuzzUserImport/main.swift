// `sisyncctl user import`'s reader, UserImport.parse (issue 34: only the cells a row needs
// become strings; ASCII attachment lists split byte by byte), differentially against the
// reader it replaced (ReferenceUserImport.swift, as it was at 55489f9).
//
// The new reader is also fed the input in small chunks, as `UserImport.read` feeds a file,
// and must give what it gives whole.
//
// Passes when both give the same rows (line, username, email, approved, and the attachments
// as the import used the old reader's: by kind name, each id once in the file's order) or
// both throw UserImportError with the same problems (the first `UserImportProblems.kept`, and
// the same count). A finding: any difference, or any other
// error type.
import Foundation
@testable import SISync
import FuzzSupport

struct Row: Equatable { var line: Int; var username: String; var email: String; var approved: Bool?; var attachments: [String] }
enum Outcome: Equatable { case rows([Row]), failed([String], total: Int) }

func outcome(_ name: String, _ read: () throws -> [Row]) -> Outcome {
    do {
        return .rows(try read())
    } catch let e as UserImportError {
        return .failed(e.problems, total: e.total)
    } catch {
        finding("\(name) threw \(type(of: error)): \(error)")
    }
}

fuzzMain { data in
    let bytes = Array(data)
    let new = outcome("UserImport.parse") {
        try UserImport.parse(bytes, file: "users.csv").map {
            Row(line: $0.line, username: $0.username, email: $0.email, approved: $0.approved,
                attachments: $0.attachments.map { "\($0.kind.rawValue) \($0.id)" })
        }
    }
    let old = outcome("ReferenceUserImport.parse") {
        try ReferenceUserImport.parse(bytes, file: "users.csv").map { row in
            // What the import made of a row's attachments before issue 34.
            let attachments = row.attachments.sorted { $0.key.rawValue < $1.key.rawValue }.flatMap { kind, ids in
                var seen = Set<String>()
                return ids.filter { seen.insert($0).inserted }.map { "\(kind.rawValue) \($0)" }
            }
            return Row(line: row.line, username: row.username, email: row.email, approved: row.approved, attachments: attachments)
        }
    }
    if new != old { finding("UserImport.parse gives \(new), the reader it replaced \(old)") }
    // `UserImport.read` feeds the file a chunk at a time: the same bytes in chunks of 1 to 8
    // bytes (by the input's first byte) must give what they give whole.
    let size = Int(bytes.first ?? 0) % 8 + 1
    let chunked = outcome("UserImport.parse in chunks of \(size)") {
        try UserImport.parse(file: "users.csv", room: (0, 0)) { body in
            try bytes.withUnsafeBufferPointer { all in
                for start in stride(from: 0, to: all.count, by: size) {
                    try body(UnsafeBufferPointer(rebasing: all[start..<min(start + size, all.count)]))
                }
            }
        }.map {
            Row(line: $0.line, username: $0.username, email: $0.email, approved: $0.approved,
                attachments: $0.attachments.map { "\($0.kind.rawValue) \($0.id)" })
        }
    }
    if chunked != new { finding("UserImport.parse in chunks of \(size) gives \(chunked), whole \(new)") }
}
