import Foundation

extension SyncRun {
    /// Opens the database the configuration names (creating its directory if needed),
    /// takes the daemon lock when it is `sisyncd --once` (R9) and waits for the run lock,
    /// and runs one cycle. A dry run opens nothing for writing and takes no lock: with no
    /// database yet it plans against an empty in-memory one.
    /// `waiting` is told once whom the run waits for ("sisyncd pid 812, run 42").
    public func performWithStore(waiting: (String) -> Void = { _ in }) -> Result {
        let location = configuration.store
        do {
            if case .sqlite(let path) = location {
                // The folder is reached (and made) only through links root or this user
                // could have made (issue 26, F5); a dry run makes nothing.
                if options.dryRun {
                    return run(store: try RosterStore(path: try SQLiteFiles.exists(path) ? path : ":memory:"))
                }
                _ = try StateFolder(holding: path, creating: true)
            } else if options.dryRun {
                // A dry run writes nothing: everything it plans is rolled back, and a schema
                // that does not exist yet is not made (it plans against an empty one).
                do {
                    return run(store: try RosterStore(location: location, mustExist: true))
                } catch StoreError.noDatabase {
                    return run(store: try RosterStore(path: ":memory:"))
                }
            }
            let daemonLock = options.takesDaemonLock ? try DaemonLock(location: location) : nil
            if daemonLock != nil { try Self.tightenDatabaseModes(location, log: log) }
            let stop = self.stop
            let store = try RosterStore(location: location)
            return withExtendedLifetime(daemonLock) {
                run(store: store, takeRunLock: {
                    try RunLock.acquire(location: location, holder: options.lockHolder, wait: options.wait,
                                        waiting: waiting, giveUp: { stop?.isStopping ?? false })
                }, daemonLock: daemonLock)
            }
        } catch {
            return failedToStart(error)
        }
    }

    /// sisyncd, once it holds the daemon lock and before it opens the database: takes
    /// group's and others' access away from a SQLite database and its `-wal` and `-shm`
    /// (0.2 left a database root made 0644, and it holds password hashes and access
    /// codes; issue 26 item 12), saying what it changed.
    static func tightenDatabaseModes(_ location: StoreLocation, log: EventLog) throws {
        guard case .sqlite(let path) = location else { return }
        for change in try SQLiteFiles.tighten(databasePath: path) {
            log.log(LogEvent(.daemonStarted, .notice, "made \(change): the database holds password hashes and access codes, so only its owner may read it"))
        }
    }

    /// The result of a run that could not start (no store, no lock), logged.
    func failedToStart(_ error: Error) -> Result {
        var summary = RunSummary(runID: nil, startedAt: Timestamp.format(clock()), ending: .failed(Self.classify(error), message: Self.describe(error)),
                                 dryRun: options.dryRun, actor: options.actor, trigger: options.trigger)
        summary.finishedAt = summary.startedAt
        log.log(LogEvent(.runFailed, .error, "cannot start a run: \(summary.error!)"))
        return Result(summary: summary, plan: nil)
    }
}
