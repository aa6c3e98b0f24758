import Foundation

/// Why `sisyncctl run revert` refused.
public enum RevertError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchRun(Int64)
    case notLatest(requested: Int64, latest: Int64?)

    public var description: String {
        switch self {
        case .noSuchRun(let id): return "no run \(id); `sisyncctl runs` lists them"
        case .notLatest(let id, let latest?):
            return "run \(id) is not the latest run that changed anything (run \(latest) is); only that one can be reverted, one run at a time, newest first"
        case .notLatest(let id, nil): return "run \(id) changed nothing; there is nothing to revert"
        }
    }
}
