/// Why a run could not have (or use) its private directory. The run fails before it
/// downloads anything (exit 73: nothing could be created).
public enum RunDirectoryError: Error, Equatable, CustomStringConvertible, Sendable {
    /// No candidate folder took a private directory; each with why.
    case nowhere(tried: [String])
    /// The folder the directory is made in could not be used.
    case cannotCreate(path: String, reason: String)
    /// What was opened is not the directory this process just made (another user swapped
    /// it, or it is not private).
    case notPrivate(path: String, reason: String)
    /// A file in the directory could not be made.
    case cannotCreateFile(path: String, reason: String)
    /// A file of the directory could not be written (the sorted rows, the spilled users).
    case cannotWriteFile(path: String, reason: String)
    /// A file the run wrote in the directory could not be read back whole.
    case cannotReadFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .nowhere(let tried):
            return "cannot make a private directory for the run's downloads: \(tried.joined(separator: "; ")); give the service user a writable state directory (systemd's StateDirectory=, $STATE_DIRECTORY) or a home directory"
        case .cannotCreate(let path, let reason):
            return "\(path): cannot make the run's private directory there: \(reason)"
        case .notPrivate(let path, let reason):
            return "\(path): refused as the run's private directory: \(reason); another user may be able to write to its folder"
        case .cannotCreateFile(let path, let reason):
            return "\(path): cannot create a file in the run's private directory: \(reason) (disk full?)"
        case .cannotWriteFile(let path, let reason):
            return "\(path): cannot write to a file of the run's private directory: \(reason); the run keeps the export's sorted rows there, about the export's size: free space in that folder (the service's state directory) and run again"
        case .cannotReadFile(let path, let reason):
            return "\(path): cannot read back a file of the run's private directory: \(reason); something removed or cut it during the run (a clean-up of the state directory, a full disk): run again"
        }
    }
}
