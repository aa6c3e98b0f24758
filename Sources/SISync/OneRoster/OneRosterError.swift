/// Why a OneRoster export could not be read as a whole. Like `ExportError`, any of these
/// fails the run before planning, so a broken bundle never deactivates anyone (R1, R2).
public enum OneRosterError: Error, Equatable, CustomStringConvertible, Sendable {
    case missingManifest(location: String)
    case unsupportedVersion(file: String, found: String)
    case badManifestValue(file: String, line: Int, property: String, value: String)
    case missingFile(location: String, file: String, mode: String)
    case notADirectoryOrZip(location: String)
    case serverError(url: String, status: String, description: String)
    case wrongPage(url: String, message: String)
    case shortRead(url: String, expected: Int, received: Int)
    case badDocument(url: String, message: String)

    /// Every URL in it shown as `DisplayedURL` does (a source URL's secrets masked).
    public var description: String { DisplayedURL.redacting(in: text) }

    private var text: String {
        switch self {
        case .missingManifest(let location):
            return "\(location): manifest.csv is missing; a OneRoster CSV bundle must have one (it says the version and which files are bulk, delta or absent)"
        case .unsupportedVersion(let file, let found):
            return "\(file): oneroster.version is `\(found)`; sisync reads OneRoster 1.1 and 1.2 bundles"
        case .badManifestValue(let file, let line, let property, let value):
            return "\(file):\(line): \(property) is `\(value)`; expected bulk, delta or absent"
        case .missingFile(let location, let file, let mode):
            return "\(location): manifest.csv marks \(file) as \(mode), but the bundle has no \(file); fix the bundle or mark the file absent"
        case .notADirectoryOrZip(let location):
            return "\(location): a oneroster-csv url must name a directory holding manifest.csv or a .zip bundle"
        case .serverError(let url, let status, let description):
            return "\(url): the OneRoster server reported \(status)\(description.isEmpty ? "" : ": \(description)"); nothing was applied"
        case .wrongPage(let url, let message):
            return "\(url): \(message); nothing was applied"
        case .shortRead(let url, let expected, let received):
            return "\(url): X-Total-Count said \(expected) records but \(received) arrived; a truncated roster is never applied (nothing was deactivated); the run will try again"
        case .badDocument(let url, let message):
            return "\(url): not a OneRoster response: \(message)"
        }
    }
}
