import Foundation

import Foundation

/// What `sisyncctl user import` did.
public struct UserImportResult: Sendable, Equatable {
    public var added = 0
    public var updated = 0
    public var unchanged = 0
}

