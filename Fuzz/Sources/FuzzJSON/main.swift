// The native JSON export (docs/export-format.md): JSONScanner and JSONExportReader for every
// entity and for staff only, as ExportSnapshot.read does for `format = json`: the document
// whole (`read(bytes:name:)`), and streamed in chunks of 1 to 64 bytes picked by the input
// (`read(source:name:)`, what `read(path:name:)` does with the file), which must give the
// same rows, problems and unknown members, or the same error.
//
// Passes when the call returns rows or throws ExportError (nesting deeper than
// JSONScanner.maxDepth is one: a seed nests 300 levels).
@testable import SISync
import FuzzSupport

let reader = JSONExportReader(entities: EntityKind.allCases, limit: .percent(1))
let staffOnly = JSONExportReader(entities: [.staff], limit: .count(1_000_000))

/// What a read gave, to compare the whole read with the streamed one.
func outcome(_ read: () throws -> [EntityKind: EntityRows]) -> String {
    do {
        let result = try read()
        return result.keys.sorted { $0.rawValue < $1.rawValue }.map { kind in
            let rows = result[kind]!
            let each = (0..<rows.count).map { r in "\(rows.key(r)) \(rows.values(r)) \(rows.fingerprint(r)) \(rows.isInactive(r))" }
            let problems = rows.problems.map { "\($0.location) \($0.column ?? "-") \($0.message)" }
            return "\(kind): \(each) \(rows.problemCount) problems \(problems) unknown \(rows.unknownColumns)"
        }.joined(separator: "\n")
    } catch let e as ExportError {
        return "error: \(e)"
    } catch {
        finding("JSONExportReader threw \(type(of: error)): \(error)")
    }
}

fuzzMain { data in
    let bytes = Array(data)
    var hash: UInt32 = 2166136261
    for b in bytes { hash = (hash ^ UInt32(b)) &* 16777619 }
    let chunk = Int(hash % 64) + 1
    for r in [reader, staffOnly] {
        let whole = outcome {
            let result = try r.read(bytes: bytes, name: "export.json")
            for kind in r.entities where result[kind] == nil { finding("JSONExportReader returned no rows for \(kind)") }
            return result
        }
        var at = 0
        let streamed = outcome {
            try r.read(source: { window in
                guard at < bytes.count else { return false }
                let end = min(at + chunk, bytes.count)
                window.append(contentsOf: bytes[at..<end])
                at = end
                return true
            }, name: "export.json")
        }
        if streamed != whole { finding("read in \(chunk)-byte chunks:\n\(streamed)\nread whole:\n\(whole)") }
    }
}
