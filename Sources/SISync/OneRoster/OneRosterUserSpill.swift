import Foundation

/// The users of a OneRoster REST roster, written to a file of the run's private directory as
/// their pages arrive and read back for the translation's pass, instead of held: a
/// district's 570,000 users held as values, with its enrollments, took a run to 600 MB
/// (a bundle's users.csv is read again instead: `OneRosterUserStream`). The pages are
/// removed once read, so the users cannot be read from them again.
///
/// Each user is one record: its length (4 bytes, the record's own included), a flags byte
/// (1: deleted, 2: enabled), its line (its index in the collection; 8 bytes), its roles (a count, then for each a flags
/// byte, 1: primary, 2: with an org, its name and its org), its id, given name, family
/// name and email, then its orgs, agents and grades (each a count and strings); a count or
/// a string's length is 4 bytes, little-endian. The file is this process's own (made with
/// `O_EXCL` in a directory only it can enter), so it is read back without a digest.
public final class OneRosterUserSpill: @unchecked Sendable {
    private let file: RunFile
    private var output: FileOutput
    /// The record being made, used again for every user.
    private var record: [UInt8] = []
    /// Guards the writing side (copies of a roster share the spill). A pass reads what was
    /// written when it began, through `pread` with a reader of its own, so any number may
    /// run, even one inside another, and users added meanwhile are read by the next.
    private let lock = NSLock()
    /// How many users it holds.
    public private(set) var count = 0

    init(file: RunFile) {
        self.file = file
        output = FileOutput(file: file)
    }

    /// Writes `user` after the others.
    func append(_ user: OneRosterRoster.User) throws {
        lock.lock()
        defer { lock.unlock() }
        record.removeAll(keepingCapacity: true)
        put(UInt32(0))
        record.append((user.deleted ? 1 : 0) | (user.enabled ? 2 : 0))
        var line = Int64(user.line).littleEndian
        withUnsafeBytes(of: &line) { record.append(contentsOf: $0) }
        put(UInt32(user.roles.count))
        for role in user.roles {
            record.append((role.primary ? 1 : 0) | (role.org == nil ? 0 : 2))
            put(role.name)
            if let org = role.org { put(org) }
        }
        for text in [user.id, user.givenName, user.familyName, user.email] { put(text) }
        for list in [user.orgs, user.agents, user.grades] {
            put(UInt32(list.count))
            for text in list { put(text) }
        }
        let length = UInt32(record.count).littleEndian
        withUnsafeBytes(of: length) { bytes in
            for i in 0..<4 { record[i] = bytes[i] }
        }
        try record.withUnsafeBytes { try output.append($0) }
        count += 1
    }

    /// Calls `body` with each user, in the order they were added.
    func forEach(_ body: (OneRosterRoster.User) throws -> Void) throws {
        let (length, count) = try lock.withLock {
            try output.flush()
            return (output.written, self.count)
        }
        let reader = try RunReader(file: file, length: length, valueCount: 0, buffer: 1 << 20)
        var read = 0
        while let r = reader.current {
            var cursor = Cursor(base: r.base, end: r.length, at: 4, shownAs: file.shownAs)
            try body(try cursor.user())
            read += 1
            try reader.advance()
        }
        guard read == count else {
            throw RunDirectoryError.cannotReadFile(path: file.shownAs, reason: "\(read) users read back of the \(count) written")
        }
    }

    private func put(_ n: UInt32) {
        withUnsafeBytes(of: n.littleEndian) { record.append(contentsOf: $0) }
    }

    private func put(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            put(UInt32(bytes.count))
            record.append(contentsOf: bytes)
        }
    }

    /// Reads one record back, never past its end: a record that does not hold what its
    /// layout says is a file that changed under the run.
    private struct Cursor {
        let base: UnsafeRawPointer
        let end: Int
        var at: Int
        let shownAs: String

        mutating func user() throws -> OneRosterRoster.User {
            let flags = try byte()
            let line = Int(Int64(littleEndian: try bytes(8).loadUnaligned(as: Int64.self)))
            var roles: [OneRosterRoster.Role] = []
            for _ in 0..<(try number()) {
                let f = try byte()
                let name = try string()
                roles.append(OneRosterRoster.Role(name: name, primary: f & 1 != 0, org: f & 2 != 0 ? try string() : nil))
            }
            var user = OneRosterRoster.User(id: try string())
            user.deleted = flags & 1 != 0
            user.enabled = flags & 2 != 0
            user.line = line
            user.roles = roles
            user.givenName = try string()
            user.familyName = try string()
            user.email = try string()
            user.orgs = try list()
            user.agents = try list()
            user.grades = try list()
            guard at == end else { throw damaged() }
            return user
        }

        private mutating func bytes(_ n: Int) throws -> UnsafeRawPointer {
            guard n >= 0, n <= end - at else { throw damaged() }
            defer { at += n }
            return base + at
        }

        private mutating func byte() throws -> UInt8 { try bytes(1).load(as: UInt8.self) }

        private mutating func number() throws -> Int {
            Int(UInt32(littleEndian: try bytes(4).loadUnaligned(as: UInt32.self)))
        }

        private mutating func string() throws -> String {
            let n = try number()
            let start = try bytes(n)
            return String(decoding: UnsafeRawBufferPointer(start: start, count: n), as: UTF8.self)
        }

        private mutating func list() throws -> [String] {
            let n = try number()
            var out: [String] = []
            out.reserveCapacity(min(n, 64))
            for _ in 0..<n { out.append(try string()) }
            return out
        }

        private func damaged() -> RunDirectoryError {
            .cannotReadFile(path: shownAs, reason: "a user's record does not hold what was written")
        }
    }
}
