import Foundation

/// A bundle's users.csv, read again for each pass the translation makes over the users
/// instead of held: a district's 570,000 users held as values took its run to 470 MB. The
/// first read (`OneRosterCSVBundle`) checked every row and left a digest of the users it
/// took; each pass reads the same descriptor from its start, takes the same rows the same
/// way (`OneRosterCSVBundle.user`), and fails the run if they are not the same (the file was
/// rewritten in place meanwhile).
public final class OneRosterUserStream: @unchecked Sendable {
    /// Every byte of the file, as read: its length and a hash, so that any change to the
    /// file (its header, a field's bounds, a row added, even one skipped) is seen.
    struct Digest: Equatable {
        private(set) var bytes = 0
        private var hasher = Hasher()

        mutating func add(_ chunk: UnsafeBufferPointer<UInt8>) {
            bytes += chunk.count
            hasher.combine(bytes: UnsafeRawBufferPointer(chunk))
        }

        var value: Int { hasher.finalize() }

        static func == (a: Digest, b: Digest) -> Bool { a.bytes == b.bytes && a.value == b.value }
    }

    private let file: InputFile
    private let name: String
    private let digest: Digest
    /// One pass at a time: the passes share the descriptor and its buffer (copies of a
    /// roster share the stream).
    private let lock = NSLock()
    /// How many users each pass gives.
    public let count: Int
    /// OneRoster 1.2: each user's rows of roles.csv, given to it as it is read.
    var roles = OneRosterUserRoles()

    init(file: InputFile, name: String, digest: Digest, count: Int) {
        self.file = file
        self.name = name
        self.digest = digest
        self.count = count
    }

    /// Calls `body` with each user, in the file's order, as the first read took them.
    func forEach(_ body: (OneRosterRoster.User) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        try file.seek(to: 0)
        var again = Digest()
        var taken = 0
        try withoutActuallyEscaping(body) { body in
            try OneRosterTable.read(file: file, name: name, prepare: { table in
                let columns = OneRosterUserColumns(table)
                return { row in
                    guard case .user(var user) = OneRosterCSVBundle.user(row, columns) else { return }
                    taken += 1
                    if let given = self.roles.roles(of: user.id) { user.take(given) }
                    try body(user)
                }
            }, chunk: { again.add($0) })
        }
        guard again == digest, taken == count else {
            throw ExportError.changedWhileRead(file: name, first: "\(digest.bytes) bytes holding \(count) users",
                                               second: again.bytes == digest.bytes ? "the same length with other bytes" : "\(again.bytes) bytes")
        }
    }
}

/// Where users.csv holds each field a user is read from (any case, any order).
struct OneRosterUserColumns {
    let id, status, enabled, orgs, primaryOrg, role, given, family, email, agents, grades: Int?

    init(_ t: OneRosterTable) {
        id = t.column("sourcedId")
        status = t.column("status")
        enabled = t.column("enabledUser")
        orgs = t.column("orgSourcedIds")
        primaryOrg = t.column("primaryOrgSourcedId")
        role = t.column("role")
        given = t.column("givenName")
        family = t.column("familyName")
        email = t.column("email")
        agents = t.column("agentSourcedIds")
        grades = t.column("grades")
    }
}
