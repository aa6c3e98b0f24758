/// Why `run approve` or `run discard` cannot act on a run. Each says what to do instead.
public enum HoldError: Error, CustomStringConvertible, Equatable {
    case noSuchRun(Int64)
    case notHeld(Int64)
    case ended(Int64, how: String)
    case expired(Int64, at: String)
    case storeChanged(Int64, what: String)

    public var description: String {
        let again = "run `sisyncctl sync` again to plan on what the SIS and the store hold now"
        switch self {
        case .noSuchRun(let id): return "there is no run \(id); `sisyncctl runs` lists them"
        case .notHeld(let id): return "run \(id) was not held by the guard, so there is no plan to approve or discard; `sisyncctl runs` lists the runs"
        case .ended(let id, let how): return "run \(id) is no longer held (\(how)); \(again)"
        case .expired(let id, let at): return "the hold of run \(id) expired at \(at) ([guard] held_plan_days); \(again)"
        case .storeChanged(let id, let what): return "the store changed since run \(id) was held (\(what)), so its plan no longer fits; \(again)"
        }
    }
}
