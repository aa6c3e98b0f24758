import Foundation
import XCTest
@testable import SISync

/// How `UserImport.parse` reads a row's cells (issue 34: only the cells a row needs become
/// strings, and an ASCII attachment list is split byte by byte). The rules are those of the
/// string reading it replaced: cells trimmed of spaces and tabs (and, off ASCII, of every
/// Unicode space), lists split at `;` Characters, a repeated id one attachment (compared as
/// strings, so canonically equal spellings are one), a row of blank cells skipped.
final class UserImportFileTests: XCTestCase {
    private func rows(_ text: String) throws -> [UserImportRow] {
        try UserImport.parse(Array(text.utf8), file: "users.csv")
    }

    func testAttachmentsAreKeptByKindThenInTheFilesOrderEachOnce() throws {
        let r = try rows("username,email,student_id,household_id,donor_id\nkim,kim@x.org, ST2 ;ST1;;\tST2 , H1 ,D1;D1;\n")
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r[0].attachments.map { "\($0.kind.rawValue) \($0.id)" }, ["donor D1", "household H1", "student ST2", "student ST1"])
        XCTAssertEqual(UserImport.byKind(r[0].attachments).map { "\($0.kind.rawValue)=\($0.ids)" },
                       ["donor=[\"D1\"]", "household=[\"H1\"]", "student=[\"ST2\", \"ST1\"]"])
        // Control characters other than a tab are not trimmed, as `trimmingCharacters(in: .whitespaces)` keeps them.
        XCTAssertEqual(try rows("username,email,student_id\nkim,kim@x.org,\"ST1\r;\u{1}ST2\"\n")[0].attachments.map(\.id), ["ST1\r", "\u{1}ST2"])
    }

    func testANonASCIIListIsSplitAtCharactersAndComparedAsStrings() throws {
        let decomposed = "e\u{301}1", composed = "\u{E9}1"
        let r = try rows("username,email,student_id,household_id\nkim,kim@x.org,\(decomposed);\u{A0}\(composed)\u{A0},A;\u{301}B\n")
        XCTAssertEqual(r[0].attachments.map(\.id), ["A;\u{301}B", decomposed],
                       "a `;` with a combining mark is one Character, not a separator; the two spellings of é1 are one id; U+00A0 is trimmed")
    }

    func testBlankRowsAreSkippedAndALongRepeatedListIsOneAttachment() throws {
        let r = try rows("username,email,student_id\n , \t ,\n\u{A0},,\nkim,kim@x.org,\(Array(repeating: "S1", count: 5000).joined(separator: ";"));S2\n")
        XCTAssertEqual(r.map(\.line), [4], "rows of blank cells are skipped, not reported")
        XCTAssertEqual(r[0].attachments.map(\.id), ["S1", "S2"])
        XCTAssertEqual(r[0].approved, nil)
    }

    func testProblemsKeepTheirLineAndColumn() {
        XCTAssertThrowsError(try rows("email,username,approved\nkim@x.org,kim,maybe\n,lee\nx@y.org,KIM,\n")) { error in
            let problems = (error as? UserImportError)?.problems ?? []
            XCTAssertEqual(problems, ["2:3: approved must be true/false, yes/no or 1/0, got `maybe`",
                                      "3: 2 fields, the header has 3",
                                      "4:2: username `KIM` already appears on line 2"])
        }
    }

    /// A file of many bad rows keeps the first problems in full and counts the rest (issue
    /// 34: a line of text per bad row made the command's memory grow with the file), and the
    /// message gives the whole count.
    func testManyProblemsKeepTheFirstAndCountTheRest() {
        let bad = 2 * UserImportProblems.kept + 7
        let text = "username,email\n" + (0..<bad).map { "user\($0),not-an-email-\($0)\n" }.joined()
        XCTAssertThrowsError(try rows(text)) { error in
            guard let e = error as? UserImportError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.total, bad)
            XCTAssertEqual(e.problems.count, UserImportProblems.kept)
            XCTAssertEqual(e.problems.first, "2:2: `not-an-email-0` is not an email address")
            XCTAssertEqual(e.problems.last, "\(UserImportProblems.kept + 1):2: `not-an-email-\(UserImportProblems.kept - 1)` is not an email address")
            XCTAssertTrue(e.description.hasPrefix("users.csv: \(bad) problems; nothing was imported."), e.description)
            XCTAssertTrue(e.description.hasSuffix("\n  ... and \(bad - 20) more"), e.description)
        }
    }

    /// The duplicate checks keep a hash and a row per name (issue 34), not the names: a name
    /// is a duplicate only of the same name lowercased (canonically equal spellings are one,
    /// as the strings compared before), found through an earlier row with a problem of its
    /// own too, whichever its column, and reported with the line it first appeared on.
    func testDuplicatesAreTheSameNameLowercasedOnTheLineItFirstAppeared() {
        let text = "email,username\nA@x.org,Jos\u{E9}\nb@x.org,ann\nc@x.org,jose\u{301}\nbad,Bob\nd@x.org,BOB\nB@X.ORG,cy\nnot-an-email,CY\n"
        XCTAssertThrowsError(try rows(text)) { error in
            XCTAssertEqual((error as? UserImportError)?.problems ?? [], [
                "4:2: username `jose\u{301}` already appears on line 2",
                "5:1: `bad` is not an email address",
                "6:2: username `BOB` already appears on line 5",
                "7:1: email B@X.ORG already appears on line 3 (emails are unique regardless of case)",
                "8:2: username `CY` already appears on line 7",
                "8:1: `not-an-email` is not an email address",
            ])
        }
        XCTAssertEqual(try rows("username,email\nann,a@x.org\nbob,b@x.org\n").map(\.username), ["ann", "bob"])
    }

    /// Two different names that share a hash are still two names; a third like either is a
    /// duplicate of it.
    func testNamesThatShareAHashAreStillTwoNames() {
        var seen = FirstAppearances(capacity: 4, hash: { _ in 7 })
        let names = ["ann", "bob", "ann", "bob", "cy"]
        XCTAssertEqual(names.indices.map { i in seen.firstRow(of: names[i], row: i, nameOn: { names[$0] }) }, [nil, nil, 0, 1, nil])
    }

    /// Room is made for the lines that can be users, not for blank ones (a file of blank
    /// lines asked for room for a row and two names per line).
    func testOnlyLinesWithContentAreCountedForRoom() {
        func count(_ text: String) -> Int { Array(text.utf8).withUnsafeBufferPointer { UserImport.linesWithContent($0) } }
        XCTAssertEqual(count(""), 0)
        XCTAssertEqual(count("\n \t,\r\n,,,\n"), 0)
        XCTAssertEqual(count("username,email\n\nkim,k@x.org\r\n \n lee ,l@x.org"), 3)
        XCTAssertEqual(count("\u{A0}\n"), 1, "any other byte may be content")
        XCTAssertThrowsError(try rows(String(repeating: "\n", count: 100_000))) { error in
            XCTAssertEqual((error as? UserImportError)?.problems, ["1: the file is empty; it needs a header line"])
        }
    }

    /// The rows held compactly (`UserImportRows`) give back each row as it was appended:
    /// names and ids byte for byte, an approval left unset, rows without attachments, and
    /// attachments of several kinds in the row's order.
    func testCompactRowsGiveBackEveryRowAsItWas() {
        let given = [
            UserImportRow(line: 2, username: "kim", email: "kim@x.org", approved: true,
                          attachments: [UserImportAttachment(kind: .donor, id: "D1"), UserImportAttachment(kind: .household, id: ""),
                                        UserImportAttachment(kind: .student, id: "ST2"), UserImportAttachment(kind: .student, id: "e\u{301}1")]),
            UserImportRow(line: 3, username: "Jos\u{E9}", email: "", approved: nil, attachments: []),
            UserImportRow(line: 7, username: "", email: "lee@x.org", approved: false, attachments: [UserImportAttachment(kind: .household, id: "H\u{0}9")]),
            UserImportRow(line: 1_000_000, username: "zoe", email: "zoe@x.org", approved: nil, attachments: []),
        ]
        let rows = UserImportRows(given)
        XCTAssertEqual(Array(rows), given)
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows.indices.map { rows.attachmentCount($0) }, [4, 0, 1, 0])
        XCTAssertEqual(rows.indices.map { i in rows.withUsername(i) { Array($0) } }, given.map { Array($0.username.utf8) })
        XCTAssertEqual(rows.indices.map { i in rows.withEmail(i) { Array($0) } }, given.map { Array($0.email.utf8) })
        XCTAssertEqual(rows.withAttachmentID(0, 3) { Array($0) }, Array("e\u{301}1".utf8))
        XCTAssertEqual(rows.attachmentKind(2, 0), .household)
        XCTAssertEqual(rows.indices.map { rows.isASCII($0) }, [true, false, true, true])
        XCTAssertEqual(UserImportRows([]).count, 0)
    }

    /// `read(path:)` reads the file a megabyte at a time: rows that cross the chunks, a
    /// pipe (read once, without counting its lines first), and a file it cannot read.
    func testReadingAFileInChunksGivesTheRowsOfTheWholeFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sisync-import-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Some 1.6 MB: two chunks, and a quoted cell with a line feed in it now and then.
        var text = "username,email,approved,student_id,household_id\n"
        for i in 0..<20_000 {
            text += "user\(i),user\(i)@x.org,\(i % 3 == 0 ? "yes" : ""),\(i % 7 == 0 ? "\"ST\(i)\nB;H\(i % 10)\"" : "ST\(i);H\(i % 10)"),\(String(repeating: "H", count: i % 50))\n"
        }
        let path = dir + "/users.csv"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let whole = try UserImport.parse(Array(text.utf8), file: path)
        XCTAssertEqual(whole.count, 20_000)
        XCTAssertEqual(Array(try UserImport.read(path: path)), whole)

        let fifo = dir + "/users.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let bytes = Data(text.utf8)
        let writer = Thread { try? bytes.write(to: URL(fileURLWithPath: fifo)) }
        writer.start()
        XCTAssertEqual(Array(try UserImport.read(path: fifo)), whole)

        for (unreadable, reason) in [(dir + "/missing.csv", "No such file or directory"), (dir, "it is a directory")] {
            XCTAssertThrowsError(try UserImport.read(path: unreadable)) { error in
                XCTAssertEqual((error as? UserImportError)?.problems, ["1: cannot read the file: \(reason)"])
            }
        }
    }

    /// The file's bytes fed in chunks of any size give the rows, or the problems, of the
    /// whole file: a byte order mark, a carriage return and its line feed, a quoted line
    /// feed, or a UTF-8 sequence may be split between two chunks.
    func testChunksOfAnySizeGiveWhatTheWholeFileGives() {
        let files: [[UInt8]] = [
            Array("\u{FEFF}username,email,student_id,approved\r\nkim,kim@x.org,\"ST1\r\n;ST2\",yes\r\nJos\u{E9},j@x.org,\u{E9}1;e\u{301}1,\r\n".utf8),
            Array("\u{FEFF}username,email\nkim,kim@x.org\nKIM,k2@x.org\nlee,lee@x.org,extra\n".utf8),
            [0xEF, 0xBB] + Array("username,email\nkim,kim@x.org".utf8),
            Array("username,email\nkim,\"kim@x.org\nlee,lee@x.org\n".utf8),
            Array("username,email\n".utf8) + [0xFF, 0xC3] + Array(",a@x.org\n".utf8),
        ]
        func outcome(_ parse: () throws -> UserImportRows) -> String {
            do { return "\(Array(try parse()))" } catch { return "\(error)" }
        }
        for bytes in files {
            let whole = outcome { try bytes.withUnsafeBufferPointer { try UserImport.parse($0, file: "users.csv") } }
            for size in 1...5 {
                let chunked = outcome {
                    try UserImport.parse(file: "users.csv", room: (0, 0)) { body in
                        try bytes.withUnsafeBufferPointer { all in
                            for start in stride(from: 0, to: all.count, by: size) {
                                try body(UnsafeBufferPointer(rebasing: all[start..<min(start + size, all.count)]))
                            }
                        }
                    }
                }
                XCTAssertEqual(chunked, whole, "chunks of \(size) bytes of \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
    }
}
