import Foundation

/// The fetch phase: the export into the run's private directory, hashed (R3). It only reads
/// the database (the validators of a conditional GET), and holds no lock: a slow SIS never
/// keeps administrators waiting.
extension SyncRun {
    /// What the fetch phase returns: the export as fetched, how a OneRoster export becomes
    /// records on this run's day, and the digest the run compares and records.
    struct Fetched {
        var export: FetchedExport
        var oneRoster: OneRosterTranslation?
        /// The export's digest; with `[source] schools`, of the export under that scope: the
        /// same export seen under another scope is planned again (R3).
        var digest: String
    }

    /// Downloads (or reads) the export.
    func fetch(store: RosterStore, started: Date, directory: RunDirectory) throws -> Fetched {
        let oneRoster = oneRosterTranslation(store: store, started: started)
        var fetcher = Self.fetcher(configuration: configuration, directory: directory, stop: stop, log: log, oneRoster: oneRoster)
        // No conditional GET with a school scope: every file is parsed anyway, and a 304 for
        // a file the scope's first run must read would fail it.
        if !options.force && configuration.schoolScope == nil { fetcher.validators = try conditionalValidators(fetcher, store: store) }
        let export = try fetcher.fetch()
        let digest = configuration.schoolScope.map { $0.qualify(export.contentHash) } ?? export.contentHash
        return Fetched(export: export, oneRoster: oneRoster, digest: digest)
    }

    /// The fetcher of a run: with a OneRoster translation, it knows what the translation
    /// depends on (R3), judges a REST roster's enrollments as their pages arrive, and writes
    /// its users to the run's directory, so that neither is held (issue 34).
    static func fetcher(configuration: Configuration, directory: RunDirectory, stop: StopSignal?, log: EventLog?,
                        oneRoster: OneRosterTranslation?) -> ExportFetcher {
        var fetcher = ExportFetcher(configuration: configuration, directory: directory, stop: stop, log: log)
        if let oneRoster {
            fetcher.translationBasis = "school_year \(oneRoster.schoolYear) day \(oneRoster.today)"
            fetcher.enrollmentRule = oneRoster.enrollmentRule
            fetcher.spillsUsers = true
        }
        return fetcher
    }

    /// How a OneRoster export becomes records on this run's day; nil for native formats.
    private func oneRosterTranslation(store: RosterStore, started: Date) -> OneRosterTranslation? {
        guard configuration.format == .oneRosterCSV || configuration.format == .oneRosterREST else { return nil }
        var states: [EntityKind: StoredEntityState] = [:]
        return OneRosterTranslation(schoolYear: configuration.currentSchoolYear(on: started), yearStart: configuration.schoolYearStart,
                                    today: OneRosterDay(started), entities: Set(configuration.entities), limit: configuration.maxInvalidRows) { kind, key in
            if states[kind] == nil { states[kind] = try store.mirror.state(for: kind) }
            return try states[kind]!.record(forKey: key)
        }
    }

    /// Validators for a conditional GET (R3), only for files the database still mirrors:
    /// a 304 then means "the file that was applied", which is safe to skip.
    private func conditionalValidators(_ fetcher: ExportFetcher, store: RosterStore) throws -> [String: SourceValidator] {
        let stored = try store.auditTrail.sourceValidators()
        guard !stored.isEmpty else { return [:] }
        let files = try store.auditTrail.appliedFileHashes()
        let lastHash = try store.auditTrail.lastAppliedHash()
        var out: [String: SourceValidator] = [:]
        for (entity, location) in try fetcher.locations() {
            guard let v = stored[SourceStateKey.of(location)] else { continue }
            if let entity {
                if files[entity] == v.sha256 { out[location] = v }
            } else if lastHash == ExportFetcher.contentHash(format: configuration.format, files: [(nil, v.sha256)]) {
                out[location] = v
            }
        }
        return out
    }

    /// The validators to save for this run's downloads, under `SourceStateKey`s.
    static func validators(of fetched: FetchedExport) -> [String: SourceValidator] {
        var out: [String: SourceValidator] = [:]
        for f in fetched.files where f.etag != nil || f.lastModified != nil {
            out[SourceStateKey.of(f.name)] = SourceValidator(etag: f.etag, lastModified: f.lastModified, sha256: f.sha256)
        }
        return out
    }

}
