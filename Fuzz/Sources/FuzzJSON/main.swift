// The native JSON export (docs/export-format.md): JSONScanner and JSONExportReader.read(bytes:name:)
// for every entity, as ExportSnapshot.read does for `format = json`.
//
// Passes when the call returns rows or throws ExportError (nesting deeper than
// JSONScanner.maxDepth is one: a seed nests 300 levels).
@testable import SISync
import FuzzSupport

let reader = JSONExportReader(entities: EntityKind.allCases, limit: .percent(1))
let staffOnly = JSONExportReader(entities: [.staff], limit: .count(1_000_000))

fuzzMain { data in
    let bytes = Array(data)
    for r in [reader, staffOnly] {
        do {
            let result = try r.read(bytes: bytes, name: "export.json")
            for kind in r.entities where result[kind] == nil { finding("JSONExportReader returned no rows for \(kind)") }
        } catch is ExportError {
        } catch {
            finding("JSONExportReader threw \(type(of: error)): \(error)")
        }
    }
}
