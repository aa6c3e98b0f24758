import Foundation

/// What kind of change a change-log entry records (docs/json.md).
public enum ChangeKind: String, Sendable, Codable, CaseIterable {
    case added, updated, deactivated, reactivated, linked, unlinked
    case roleGranted = "role_granted"
    case roleRevoked = "role_revoked"
    /// A record carried over to the id the SIS gives it now (issue 33): `old` → `new`.
    case rekeyed
}

/// One entry of the audit trail (R8): what changed, on which record, from what to what.
public struct Change: Sendable, Equatable {
    public var entity: String
    public var id: String
    public var field: String?
    public var old: String?
    public var new: String?
    public var kind: ChangeKind

    public init(entity: String, id: String, field: String? = nil, old: String? = nil, new: String? = nil, kind: ChangeKind) {
        self.entity = entity
        self.id = id
        self.field = field
        self.old = old
        self.new = new
        self.kind = kind
    }
}
