import Foundation

/// The parse and plan phases: the export's rows per entity (R2: bad rows skipped and
/// reported), and the plan they make against the stored state (R4), a value. Each entity is
/// planned as soon as its rows are read, while the next files are still being parsed.
extension SyncRun {
    /// What the parse phase read: the files that changed since the last applied run, and the
    /// plans of the entities planned while it read.
    struct Parsed {
        var snapshot: ExportSnapshot
        /// Entities whose file was identical to the last applied run's, and not read.
        var unchangedFiles: [EntityKind]
        /// Each entity's file digest (under the school scope, if any), recorded with the run.
        var fileHashes: [EntityKind: String]
        /// The entities planned so far: the unchanged files' and, without a school scope,
        /// every entity read.
        var entityPlans: [EntityPlan]
    }

    /// The planner of a run that started at `started`.
    func planner(at started: Date) -> Planner {
        var planner = Planner(deactivateAfter: configuration.deactivateAfter.seconds, now: started, heldUntil: configuration.deactivationsHeld(on: started))
        if let from = options.matchedAlongsideFrom { planner.matchedAlongsideFrom = from }
        return planner
    }

    /// Reads the export's changed files. Nil when the export is the one the last run applied
    /// (R3): nothing to read, and the plan only ages the stored records.
    /// The rows are sorted in the run's private `directory` (issue 34: bounded memory).
    func parse(_ fetched: Fetched, planner: Planner, store: RosterStore, directory: RunDirectory?) throws -> Parsed? {
        if !options.force, let last = try store.auditTrail.lastAppliedHash(), last == fetched.digest { return nil }
        // Files identical to the last applied run's are not parsed again (R3, per file):
        // their records can only reach `deactivate_after`. Not with a school scope: which
        // households, relationships and attributes are in it depends on the students file.
        let scope = configuration.schoolScope
        let stored = options.force || scope != nil ? [:] : try store.auditTrail.appliedFileHashes()
        var hashes: [EntityKind: String] = [:]
        for f in fetched.export.files { if let k = f.entity { hashes[k] = scope.map { $0.qualify(f.sha256) } ?? f.sha256 } }
        let unchanged = configuration.entities.filter { k in hashes[k] != nil && stored[k] == hashes[k] }
        var entityPlans = try planner.planUnchanged(kinds: unchanged, stored: store.mirror.state(for:)).entities
        // Each entity is planned as soon as it is parsed, while the next files are read;
        // with a school scope, once every file is read (households follow relationships),
        // by the plan phase.
        let snapshot = try ExportSnapshot.read(fetched.export.without(unchanged), limit: configuration.maxInvalidRows,
                                               entities: configuration.entities.filter { !unchanged.contains($0) },
                                               oneRoster: fetched.oneRoster, spill: directory, ready: scope != nil ? nil : { rows in
            entityPlans.append(try planner.plan(rows: rows, stored: store.mirror.state(for: rows.kind)))
        })
        return Parsed(snapshot: snapshot, unchangedFiles: unchanged, fileHashes: hashes, entityPlans: entityPlans)
    }

    /// The additions, updates and deactivations of every entity (R4); for an unchanged
    /// export, only what time does to the stored records (`deactivate_after`).
    func plan(_ parsed: Parsed?, fetched: Fetched, planner: Planner, store: RosterStore, started: Date, runID: Int64?) throws -> Plan {
        guard let parsed else {
            var plan = try planner.planUnchanged(kinds: configuration.entities, stored: store.mirror.state(for:))
            plan.sourceValidators = Self.validators(of: fetched.export)
            return plan
        }
        var entityPlans = parsed.entityPlans
        if let scope = configuration.schoolScope {
            let snapshot = parsed.snapshot
            let students = try store.mirror.state(for: .students)
            let masks = try scope.rowsInScope(snapshot.entities) { id in
                guard let stored = try students.record(forKey: id), stored.active else { return nil }
                return stored.values[SchoolScope.studentSchool]
            }
            for kind in EntityKind.allCases {
                guard let rows = snapshot.entities[kind] else { continue }
                entityPlans.append(try planner.plan(rows: rows, stored: store.mirror.state(for: kind), inScope: masks[kind]))
            }
            let unmatched = scope.unmatchedSchools(snapshot.entities)
            if !unmatched.isEmpty {
                log.log(LogEvent(.rosterNotice, .warning, "[source] schools names \(unmatched.joined(separator: ", ")), which no staff member or student of the export belongs to: check the school ids",
                                 fields: Self.runFields(runID)))
            }
        }
        entityPlans.sort { $0.kind < $1.kind }
        var plan = Plan(entities: entityPlans, snapshot: parsed.snapshot, plannedAt: started)
        plan.fileHashes = parsed.fileHashes
        plan.unchangedFiles = parsed.unchangedFiles
        plan.sourceValidators = Self.validators(of: fetched.export)
        return plan
    }

    /// A 304 stands for the file the mirror holds; it must be one of the files not parsed.
    func confirmNotModified(_ fetched: Fetched, parsed: Parsed) throws {
        for f in fetched.export.files where f.notModified && !(f.entity.map(parsed.unchangedFiles.contains) ?? false) {
            throw FetchError.notModifiedUnexpectedly(url: f.name)
        }
    }

    /// R2: the rows the parse skipped and the columns it ignored, logged; returns the
    /// problems as the run's record lists them, each saying whether the mirror holds its
    /// record (so the record stays as it was).
    func reportSkipped(_ snapshot: ExportSnapshot, store: RosterStore, runID: Int64?) throws -> [String] {
        let runField = Self.runFields(runID)
        for (source, columns) in snapshot.unknownColumns {
            log.log(LogEvent(.unknownColumns, .notice, "\(source): ignoring unknown columns \(ExportError.names(columns))", fields: runField))
        }
        for line in snapshot.notices {
            log.log(LogEvent(.rosterNotice, .notice, "OneRoster: left out \(line)", fields: runField))
        }
        var states: [EntityKind: StoredEntityState] = [:]
        var problems: [String] = []
        for var p in snapshot.problems {
            if let kind = p.entity, let key = p.recordKey {
                if states[kind] == nil { states[kind] = try store.mirror.state(for: kind) }
                p.inMirror = try states[kind]!.record(forKey: key) != nil
            } else if p.entity == nil, let id = p.id, configuration.format == .oneRosterCSV || configuration.format == .oneRosterREST {
                // A OneRoster user is a staff member, a student or a household.
                var found = false
                for kind in [EntityKind.staff, .students, .households] where configuration.entities.contains(kind) && !found {
                    if states[kind] == nil { states[kind] = try store.mirror.state(for: kind) }
                    found = try states[kind]!.record(forKey: id) != nil
                }
                p.inMirror = found
            }
            problems.append(p.description)
            log.log(LogEvent(.rowSkipped, .warning, "skipped row: \(p)", fields: runField))
        }
        return problems
    }
}
