/// Everything one export says, per managed entity: the parsed, validated rows plus the
/// skipped rows' problems. Planning compares this value with the stored state.
public struct ExportSnapshot: Sendable {
    public var entities: [EntityKind: EntityRows]
    /// The SHA-256 of the whole export (R3).
    public var contentHash: String

    public init(entities: [EntityKind: EntityRows], contentHash: String) {
        self.entities = entities
        self.contentHash = contentHash
    }

    public var problems: [RowProblem] { EntityKind.allCases.flatMap { entities[$0]?.problems ?? [] } }

    /// Unknown columns per file, reported once per run (notice level).
    public var unknownColumns: [(source: String, columns: [String])] {
        EntityKind.allCases.compactMap { k in
            guard let r = entities[k], !r.unknownColumns.isEmpty else { return nil }
            return (r.source, r.unknownColumns)
        }
    }

    /// Parses fetched files into a snapshot.
    public static func read(_ export: FetchedExport, limit: InvalidRowLimit, entities: [EntityKind]) throws -> ExportSnapshot {
        var result: [EntityKind: EntityRows] = [:]
        switch export.format {
        case .json:
            guard let doc = export.files.first else { throw ExportError.wrongDocument(file: "-", message: "no document") }
            result = try JSONExportReader(entities: entities, limit: limit).read(path: doc.path, name: doc.name)
        default:
            for f in export.files {
                guard let kind = f.entity else { continue }
                result[kind] = try CSVEntityReader(kind: kind, limit: limit).read(path: f.path, name: displayName(f))
            }
        }
        return ExportSnapshot(entities: result, contentHash: export.contentHash)
    }

    /// `staff.csv` for local files (the path is in the config), the URL for remote ones.
    static func displayName(_ f: FetchedFile) -> String {
        if f.name.contains("://") && !f.name.hasPrefix("file://") { return f.name }
        return (f.name as NSString).lastPathComponent
    }
}

import Foundation
