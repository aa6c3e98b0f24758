/// Why a `.zip` OneRoster bundle could not be read. Each case names the archive (and the
/// entry) and says what to do; any of them fails the run with nothing applied (R1).
public enum ZipError: Error, Equatable, CustomStringConvertible, Sendable {
    case unreadable(path: String, reason: String)
    case notAZip(path: String)
    case unsupported(path: String, entry: String, reason: String)
    case corrupt(path: String, entry: String?, reason: String)
    case tooLarge(path: String, entry: String, limit: Int64)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "\(path): cannot read the zip bundle: \(reason)"
        case .notAZip(let path):
            return "\(path): not a zip archive (no end-of-central-directory record); point url at the bundle's .zip or at its unpacked directory"
        case .unsupported(let path, let entry, let reason):
            return "\(path): \(entry): \(reason) is not supported; re-create the bundle as a plain zip (stored or deflated, no encryption, no zip64) or unpack it and point url at the directory"
        case .corrupt(let path, let entry, let reason):
            return "\(path)\(entry.map { ": \($0)" } ?? ""): the zip bundle is damaged (\(reason)); fetch a fresh export"
        case .tooLarge(let path, let entry, let limit):
            return "\(path): \(entry) unpacks to more than max_bytes (\(limit) bytes); raise max_bytes if the roster is really this large"
        case .cannotWrite(let path, let reason):
            return "\(path): cannot write the unpacked file: \(reason)"
        }
    }
}
