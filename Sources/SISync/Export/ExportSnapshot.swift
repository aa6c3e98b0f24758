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
            // Files are independent: read them on all cores. The first failure in entity
            // order is reported, so the message does not depend on thread timing.
            let files = export.files.filter { $0.entity != nil }
            let outcomes = ParallelResults<Result<EntityRows, Error>>(count: files.count)
            DispatchQueue.concurrentPerform(iterations: files.count) { i in
                let f = files[i]
                outcomes.set(i, Result { try CSVEntityReader(kind: f.entity!, limit: limit).read(path: f.path, name: displayName(f)) })
            }
            for (i, f) in files.enumerated() { result[f.entity!] = try outcomes.get(i).get() }
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

/// Results written by parallel workers, one slot each.
final class ParallelResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.withLock { slots[i] = value } }
    func get(_ i: Int) -> T { lock.withLock { slots[i]! } }
}
