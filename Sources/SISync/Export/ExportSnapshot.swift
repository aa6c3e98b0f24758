/// Everything one export says, per managed entity: the parsed, validated rows plus the
/// skipped rows' problems. Planning compares this value with the stored state.
public struct ExportSnapshot: Sendable {
    public var entities: [EntityKind: EntityRows]
    /// The SHA-256 of the whole export (R3).
    public var contentHash: String
    /// What a OneRoster export held that sisync left out, one line per reason (notice level).
    public var notices: [String] = []

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

    /// Parses fetched files into a snapshot. `ready` is called on the calling thread with
    /// each entity's rows as soon as they are read (CSV: in the order the reads finish;
    /// JSON and OneRoster: in entity order, once all is read), while other files are still
    /// being parsed on other cores (the run plans one entity while the next is read).
    /// `spill`: the run's private directory, where the rows are sorted (`EntityRows`).
    public static func read(_ export: FetchedExport, limit: InvalidRowLimit, entities: [EntityKind],
                            oneRoster: OneRosterTranslation? = nil, spill: RunDirectory? = nil,
                            ready: ((EntityRows) throws -> Void)? = nil) throws -> ExportSnapshot {
        var result: [EntityKind: EntityRows] = [:]
        switch export.format {
        case .oneRosterCSV, .oneRosterREST:
            guard let translation = oneRoster else { throw ExportError.wrongDocument(file: "-", message: "no OneRoster settings") }
            let roster: OneRosterRoster
            if let r = export.roster {
                roster = r
            } else {
                guard let manifest = export.manifest else { throw OneRosterError.missingManifest(location: export.files.first?.name ?? "-") }
                var paths: [OneRosterFile: (path: String, name: String)] = [:]
                for f in export.files {
                    if let tag = f.oneRoster, let kind = OneRosterFile(rawValue: tag) { paths[kind] = (f.path, displayName(f)) }
                }
                var bundle = OneRosterCSVBundle(manifest: manifest, files: paths, limit: limit)
                bundle.today = translation.today
                bundle.enrollmentRule = translation.enrollmentRule
                bundle.streamsUsers = true
                bundle.directory = spill
                roster = try bundle.read()
            }
            let (rows, notices) = try translation.translate(roster, spill: spill)
            for kind in EntityKind.allCases { if let r = rows[kind] { try ready?(r) } }
            var snapshot = ExportSnapshot(entities: rows, contentHash: export.contentHash)
            snapshot.notices = notices.lines
            return snapshot
        case .json:
            guard let doc = export.files.first else { throw ExportError.wrongDocument(file: "-", message: "no document") }
            result = try JSONExportReader(entities: entities, limit: limit, spill: spill).read(path: doc.path, name: doc.name)
            for kind in EntityKind.allCases { if let rows = result[kind] { try ready?(rows) } }
        default:
            let files = export.files.filter { $0.entity != nil }.sorted { $0.entity! < $1.entity! }
            let outcomes = ParallelResults<Result<EntityRows, Error>>(count: files.count)
            let group = DispatchGroup()
            // Largest files first, so the two cores finish together.
            for i in files.indices.sorted(by: { files[$0].bytes > files[$1].bytes }) {
                let f = files[i]
                group.enter()
                DispatchQueue.global(qos: .userInitiated).async {
                    outcomes.set(i, Result { try CSVEntityReader(kind: f.entity!, limit: limit, spill: spill).read(path: f.path, name: displayName(f)) })
                    group.leave()
                }
            }
            // Wait for every reader before returning, also on failure: none outlives the run.
            defer { group.wait() }
            // Each entity goes to `ready` as soon as its file is read, whichever that is:
            // in entity order, the largest files, read first, held back the planning of
            // the small ones that come before them (staff first, read fifth of seven), so
            // a run whose every file changed planned almost nothing until the last file
            // was read (issue 34). After a failure nothing more is planned, and the first
            // failure in entity order is reported, so the message does not depend on
            // thread timing.
            var taken = [Bool](repeating: false, count: files.count)
            var failed: Int?
            for _ in files.indices {
                let i = outcomes.waitAny(notIn: taken)
                taken[i] = true
                guard case .success(let rows) = outcomes.wait(i) else {
                    failed = min(failed ?? i, i)
                    continue
                }
                result[files[i].entity!] = rows
                if failed == nil { try ready?(rows) }
            }
            if let failed { _ = try outcomes.wait(failed).get() }
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

/// Results written by parallel workers, one slot each; readers wait for their slot.
final class ParallelResults<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: T) {
        condition.lock()
        slots[i] = value
        condition.broadcast()
        condition.unlock()
    }

    func wait(_ i: Int) -> T {
        condition.lock()
        defer { condition.unlock() }
        while slots[i] == nil { condition.wait() }
        return slots[i]!
    }

    /// The first slot that holds a value and that `taken` does not mark, waiting for one;
    /// `taken` must leave some slot unmarked.
    func waitAny(notIn taken: [Bool]) -> Int {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let i = slots.indices.first(where: { !taken[$0] && slots[$0] != nil }) { return i }
            condition.wait()
        }
    }
}
