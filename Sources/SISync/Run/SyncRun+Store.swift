import Foundation

extension SyncRun {
    /// Opens the database the configuration names (creating its directory if needed),
    /// takes the writer lock (R9), and runs one cycle. A dry run opens nothing for
    /// writing: with no database yet it plans against an empty in-memory one.
    public func performWithStore() -> Result {
        let path = configuration.database
        let exists = FileManager.default.fileExists(atPath: path)
        do {
            if options.dryRun {
                let store = try RosterStore(path: exists ? path : ":memory:")
                return run(store: store)
            }
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } catch {
                    throw StoreError.cannotOpen(path: path, message: "cannot create the directory \(directory): \(error.localizedDescription)")
                }
            }
            let lock = try WriterLock(databasePath: path)
            let store = try RosterStore(path: path)
            return withExtendedLifetime(lock) { run(store: store) }
        } catch {
            var summary = RunSummary(runID: nil, startedAt: Timestamp.format(clock()), outcome: .failed,
                                     dryRun: options.dryRun, actor: options.actor, trigger: options.trigger)
            summary.failure = Self.classify(error)
            summary.error = Self.describe(error)
            summary.finishedAt = summary.startedAt
            log.log(LogEvent(.runFailed, .error, "cannot start a run: \(summary.error!)"))
            return Result(summary: summary, plan: nil)
        }
    }
}
