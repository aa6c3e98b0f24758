/// The `user.added` events of a `user import`'s new users, a block at a time, as
/// `PackedLines.userAdded` lines made straight from the file's rows (docs/events.md).
///
/// A district's first import adds 207,000 users. Written as one JSON subject and data per
/// event (through `EventSink.add`) their lines were 26 MB, which the import wrote into the
/// database and its write-ahead log twice over, and each was built through two
/// `CompactJSON` objects and an array per user: events on cost the import 17% of its time,
/// over issue 31's bound of 15%. The compact lines leave out the member names every event
/// repeats (`EventStore` puts them back as it reads), so the feed reads exactly as before.
struct UserAddedLines {
    private var lines: [UInt8] = []
    private(set) var count = 0

    /// Adds the event of new user `i` of `rows`: its username, email, approval (unset is
    /// false) and attachments by kind, in the row's order, from the bytes the rows hold.
    mutating func append(_ rows: UserImportRows, _ i: Int) {
        if count > 0 { lines.append(0x0A) }
        rows.withUsername(i) { CompactJSON.quote($0, into: &lines) }
        lines.append(0x09)
        rows.withEmail(i) { CompactJSON.quote($0, into: &lines) }
        lines.append(0x09)
        lines.append(contentsOf: (rows.approved(i) ?? false) ? Self.true : Self.false)
        lines.append(0x09)
        // `{"KIND":["ID",…],…}`: consecutive attachments of one kind in one list.
        lines.append(UInt8(ascii: "{"))
        var kind: AttachmentKind?
        for k in 0..<rows.attachmentCount(i) {
            let next = rows.attachmentKind(i, k)
            if next == kind {
                lines.append(UInt8(ascii: ","))
            } else {
                if kind != nil { lines.append(contentsOf: Self.nextList) }
                Self.quote(next.rawValue, into: &lines)
                lines.append(contentsOf: Self.listStart)
                kind = next
            }
            rows.withAttachmentID(i, k) { CompactJSON.quote($0, into: &lines) }
        }
        if kind != nil { lines.append(contentsOf: Self.listEnd) }
        lines.append(UInt8(ascii: "}"))
        count += 1
    }

    /// Writes the block being filled (nothing when it is empty) as one stored row.
    mutating func write(into sink: EventSink) throws {
        guard count > 0 else { return }
        try lines.withUnsafeBufferPointer { try sink.addLines("user.added", format: .userAdded, count: count, lines: $0) }
        lines.removeAll(keepingCapacity: true)
        count = 0
    }

    /// The event a line stands for, from its tab-separated `parts` (split once by the
    /// reader, for every packed form): its subject and data as `CompactJSON` wrote them for
    /// a `user import`'s new user; nil when the line is not of this form.
    static func event(_ parts: [String]) -> (subject: String, data: String)? {
        guard parts.count == 4 else { return nil }
        return ("{\"username\":" + parts[0] + "}",
                "{\"email\":" + parts[1] + ",\"approved\":" + parts[2] + ",\"attachments\":" + parts[3] + "}")
    }

    private static func quote(_ s: String, into bytes: inout [UInt8]) {
        var s = s
        s.withUTF8 { CompactJSON.quote($0, into: &bytes) }
    }

    private static let `true` = Array("true".utf8), `false` = Array("false".utf8)
    private static let listStart = Array(":[".utf8), listEnd = Array("]".utf8), nextList = Array("],".utf8)
}
