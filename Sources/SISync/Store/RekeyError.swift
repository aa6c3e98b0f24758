/// Why `sisyncctl staff rekey` or `student rekey` cannot pair two records (issue 33). Each
/// says what to do instead.
public enum RekeyError: Error, CustomStringConvertible, Equatable {
    case unknownOld(entity: String, id: String)
    case oldInactive(entity: String, id: String)
    case newExists(entity: String, id: String)
    case sameID(String)
    case alreadyRequested(entity: String, old: String, new: String)

    public var description: String {
        switch self {
        case .unknownOld(let e, let id):
            return "there is no \(e) record \(id); the old id must be a record sisync holds (`sisyncctl staff list --all`)"
        case .oldInactive(let e, let id):
            return "\(e) record \(id) is inactive already: only an active record the next run would deactivate can be carried over; `sisyncctl run revert` the run that deactivated it first, if that run should have carried it over"
        case .newExists(let e, let id):
            return "\(e) record \(id) exists already: the new id must be one the next run would add (a rekey never merges two records); `sisyncctl run revert` the run that added it first"
        case .sameID(let id):
            return "the old and the new id are both \(id): nothing to carry over"
        case .alreadyRequested(let e, let old, let new):
            return "\(e) record \(old) is already to be carried over to \(new) by the next run"
        }
    }
}
