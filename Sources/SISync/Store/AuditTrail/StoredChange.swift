import Foundation

/// A change-log entry as stored, with its run (nil for an administrator's change) and actor.
public struct StoredChange: Sendable, Equatable {
    public var runID: Int64?
    public var at: String
    public var actor: String
    public var change: Change

    package init(runID: Int64?, at: String, actor: String, change: Change) {
        self.runID = runID
        self.at = at
        self.actor = actor
        self.change = change
    }
}
