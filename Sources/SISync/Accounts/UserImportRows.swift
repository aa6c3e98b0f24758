/// The rows of a `sisyncctl user import` file, held compactly: every row's text end to end
/// in one byte array, and a few numbers per row and per attachment.
///
/// Why: as `[UserImportRow]`, each row was a struct with two strings and an array of
/// attachments, each attachment a string of its own: about 300 bytes a user, 62 MB of the
/// command's 121 MB peak for a district's 207,000 users and 300 MB for a million (issue 34:
/// memory that does not grow with the district). Here a user with one attachment is its
/// text and about 60 bytes. A row is made into a `UserImportRow` only when one is asked
/// for (`subscript`); the import reads the names and ids as bytes where it can.
public struct UserImportRows: RandomAccessCollection, Sendable, Equatable {
    /// One row: where its text starts, and its fixed fields.
    struct Entry: Sendable, Equatable {
        /// The username's first byte in `text`; the email follows it, then the ids.
        var start: Int
        var usernameLength: Int
        var emailLength: Int
        /// The row's first attachment in `attached`; its last is before the next row's first.
        var firstAttachment: Int
        var line: Int
        /// 1 true, 0 false, -1 not given.
        var approved: Int8
    }

    /// One attachment: its kind, and where its id ends in `text` (it starts where the one
    /// before it in the row ends, or after the email).
    struct Attachment: Sendable, Equatable {
        var kind: AttachmentKind
        var end: Int
    }

    private var text: [UInt8] = []
    private var entries: [Entry] = []
    private var attached: [Attachment] = []

    public init() {}

    /// The same rows as `rows`, held compactly (tests, small callers).
    public init(_ rows: [UserImportRow]) {
        reserveCapacity(rows.count)
        for r in rows { append(line: r.line, username: r.username, email: r.email, approved: r.approved, attachments: r.attachments) }
    }

    /// Room for `count` rows of about a line each of `bytesPerRow`.
    mutating func reserveCapacity(_ count: Int, bytesPerRow: Int = 0) {
        entries.reserveCapacity(count)
        attached.reserveCapacity(count)
        if bytesPerRow > 0 { text.reserveCapacity(count * bytesPerRow) }
    }

    mutating func append(line: Int, username: String, email: String, approved: Bool?, attachments: [UserImportAttachment]) {
        let start = text.count
        text.append(contentsOf: username.utf8)
        let usernameEnd = text.count
        text.append(contentsOf: email.utf8)
        let emailEnd = text.count
        let first = attached.count
        for a in attachments {
            text.append(contentsOf: a.id.utf8)
            attached.append(Attachment(kind: a.kind, end: text.count))
        }
        entries.append(Entry(start: start, usernameLength: usernameEnd - start, emailLength: emailEnd - usernameEnd,
                             firstAttachment: first, line: line, approved: approved.map { $0 ? 1 : 0 } ?? -1))
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }

    /// Row `i` as a value of its own (its strings made from the bytes held).
    public subscript(i: Int) -> UserImportRow {
        UserImportRow(line: line(i), username: username(i), email: email(i), approved: approved(i),
                      attachments: (0..<attachmentCount(i)).map { attachment(i, $0) })
    }

    public func line(_ i: Int) -> Int { entries[i].line }

    public func approved(_ i: Int) -> Bool? {
        let a = entries[i].approved
        return a < 0 ? nil : a == 1
    }

    private func usernameRange(_ i: Int) -> Range<Int> {
        let e = entries[i]
        return e.start..<(e.start + e.usernameLength)
    }

    private func emailRange(_ i: Int) -> Range<Int> {
        let e = entries[i], start = e.start + e.usernameLength
        return start..<(start + e.emailLength)
    }

    public func username(_ i: Int) -> String { string(usernameRange(i)) }
    public func email(_ i: Int) -> String { string(emailRange(i)) }

    /// The username's bytes, valid only during `body`.
    public func withUsername<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withBytes(usernameRange(i), body)
    }

    /// The email's bytes, valid only during `body`.
    public func withEmail<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withBytes(emailRange(i), body)
    }

    /// Whether row `i`'s username and email are ASCII (both stores' `nocase` fold them alike).
    func isASCII(_ i: Int) -> Bool {
        let e = entries[i]
        return text[e.start..<(e.start + e.usernameLength + e.emailLength)].allSatisfy { $0 < 128 }
    }

    public func attachmentCount(_ i: Int) -> Int {
        let end = i + 1 < entries.count ? entries[i + 1].firstAttachment : attached.count
        return end - entries[i].firstAttachment
    }

    private func attachmentRange(_ i: Int, _ k: Int) -> (kind: AttachmentKind, bytes: Range<Int>) {
        let index = entries[i].firstAttachment + k
        let start = k == 0 ? emailRange(i).upperBound : attached[index - 1].end
        return (attached[index].kind, start..<attached[index].end)
    }

    public func attachmentKind(_ i: Int, _ k: Int) -> AttachmentKind { attached[entries[i].firstAttachment + k].kind }

    /// Row `i`'s attachment `k` (in the row's order).
    public func attachment(_ i: Int, _ k: Int) -> UserImportAttachment {
        let a = attachmentRange(i, k)
        return UserImportAttachment(kind: a.kind, id: string(a.bytes))
    }

    /// The id's bytes of row `i`'s attachment `k`, valid only during `body`.
    public func withAttachmentID<R>(_ i: Int, _ k: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withBytes(attachmentRange(i, k).bytes, body)
    }

    private func string(_ range: Range<Int>) -> String {
        text.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    private func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try text.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}
