import Foundation

/// `[portal]`: what a parent letter says besides the student and the code, so that an office
/// can send it as it is: the district, the portal's address, whom to ask, the schools'
/// names, the paper, and optionally the office's own wording.
public struct PortalSettings: Sendable, Equatable {
    public enum Paper: String, Sendable, CaseIterable {
        case letter, a4

        /// Width and height in PostScript points.
        public var size: (width: Double, height: Double) {
            switch self {
            case .letter: return (612, 792)
            case .a4: return (595, 842)
            }
        }
    }

    public var districtName: String?
    public var portalURL: String?
    public var contact: String?
    /// `school.101 = Riverside Elementary`.
    public var schoolNames: [String: String] = [:]
    public var paper: Paper = .letter
    /// `letter_template`: a plain-text file with `{placeholders}`; nil: the built-in text.
    public var letterTemplate: String?

    public init() {}

    /// The school's name, or `school 103` when `[portal]` does not name it.
    public func schoolName(_ id: String) -> String {
        schoolNames[id] ?? (id.isEmpty ? "" : "school \(id)")
    }
}
