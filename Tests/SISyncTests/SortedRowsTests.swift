import XCTest
@testable import SISync

/// Issue 34: an entity's rows are sorted by key in bounded memory, spilling sorted runs to
/// the run's private directory and merging them, with R2's duplicate rules unchanged.
final class SortedRowsTests: XCTestCase {
    private func values(_ s: String...) -> [ArraySlice<UInt8>] { s.map { Array($0.utf8)[...] } }

    /// Reads `text` as `kind`'s CSV with a sorter buffer of `budget` bytes, spilling to `directory`.
    private func readCSV(_ kind: EntityKind, _ text: String, directory: RunDirectory?, budget: Int) throws -> EntityRows {
        let w = Workspace()
        w.write(kind.fileName, text)
        var reader = CSVEntityReader(kind: kind, limit: .count(100), spill: directory)
        reader.runBudget = budget
        return try reader.read(path: w.exportDir + "/" + kind.fileName, name: kind.fileName)
    }

    private func staffCSV(_ ids: [Int]) -> String {
        "staff_id,first_name,last_name,email\n" + ids.map { "S\($0),First \($0),Last,s\($0)@d.org\n" }.joined()
    }

    func testRowsSpilledInRunsComeBackInKeyOrderWithTheirValues() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        var ids = Array(0..<3_000)
        var generator = SystemRandomNumberGenerator()
        ids.shuffle(using: &generator)
        let rows = try readCSV(.staff, staffCSV(ids), directory: directory, budget: 4_096)
        XCTAssertTrue(rows.isOnDisk, "3,000 rows over a 4 KiB buffer are sorted on disk")
        XCTAssertEqual(rows.count, 3_000)
        XCTAssertEqual(rows.keys, ids.map { "S\($0)" }.sorted(), "key order")
        for id in [0, 1, 999, 2_999] {
            let r = try XCTUnwrap(rows.row(forKey: "S\(id)"))
            XCTAssertEqual(rows.key(r), "S\(id)")
            XCTAssertEqual(rows.value(r, 0), "First \(id)")
            XCTAssertEqual(rows.value(r, 2), "s\(id)@d.org")
            XCTAssertEqual(rows.fingerprint(r), EntityRows.fingerprint(values: rows.values(r)), "the fingerprint the store keeps")
        }
        XCTAssertNil(rows.row(forKey: "S3000"))
        XCTAssertNil(rows.row(forKey: "A"), "before the first key")
        XCTAssertNil(rows.row(forKey: "Z"), "after the last key")
        // The runs and the sorted file are unlinked as they are made: nothing is left in the
        // directory for a kill -9 to leave behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }

    func testTheSameRowsInMemoryAndOnDiskAreTheSame() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        let text = staffCSV(Array((0..<500).reversed()))
        let memory = try readCSV(.staff, text, directory: nil, budget: 64)
        let disk = try readCSV(.staff, text, directory: directory, budget: 64)
        XCTAssertFalse(memory.isOnDisk)
        XCTAssertTrue(disk.isOnDisk)
        XCTAssertEqual(memory.keys, disk.keys)
        for r in 0..<memory.count {
            XCTAssertEqual(memory.values(r), disk.values(r))
            XCTAssertEqual(memory.isInactive(r), disk.isInactive(r))
        }
    }

    func testNoRowsAtAll() throws {
        let w = Workspace()
        let rows = try readCSV(.staff, "staff_id,first_name,last_name\n", directory: try RunDirectory(in: w.root), budget: 64)
        XCTAssertEqual(rows.count, 0)
        XCTAssertEqual(rows.keys, [])
        XCTAssertNil(rows.row(forKey: "S1"))
        var nothing = EntityRows(kind: .staff, source: "staff.csv")
        try nothing.seal { _, _, _ in .missingEntity(file: "-", entity: "-") }
        XCTAssertEqual(nothing.count, 0)
    }

    /// A value larger than a run reader's buffer (256 KiB) is merged whole.
    func testAHugeFieldSurvivesTheRunsAndTheMerge() throws {
        let w = Workspace()
        let huge = String(repeating: "x", count: 700_000)
        let text = "staff_id,first_name,last_name\nS3,A,B\nS2,\(huge),C\nS1,D,E\n"
        let rows = try readCSV(.staff, text, directory: try RunDirectory(in: w.root), budget: 16)
        XCTAssertTrue(rows.isOnDisk)
        XCTAssertEqual(rows.keys, ["S1", "S2", "S3"])
        XCTAssertEqual(rows.value(1, 0), huge)
        XCTAssertEqual(rows.value(2, 0), "A")
    }

    /// R2 unchanged: a duplicate id in two different runs fails the read with the lines of
    /// the first duplicate read and of the row it repeats.
    private func paddedStaffCSV(_ ids: [Int], skipped: Set<Int> = []) -> String {
        "staff_id,first_name,last_name,email\n" + ids.map {
            "S\(String(100_000 + $0).dropFirst()),First \($0),Last,\(skipped.contains($0) ? "not-an-email" : "s\($0)@d.org")\n"
        }.joined()
    }

    /// Rows that come in key order (a SIS's file sorted by its ids) are written once, where
    /// the merge would have put them: one file for 3,000 rows over a 4 KiB buffer (sorted
    /// runs and a merge made dozens), and the same rows as when they come shuffled.
    func testRowsInKeyOrderAreWrittenOnceWithoutRuns() throws {
        let w = Workspace()
        let directory = try RunDirectory(in: w.root)
        let ids = Array(0..<3_000)
        let inOrder = try readCSV(.staff, paddedStaffCSV(ids), directory: directory, budget: 4_096)
        XCTAssertEqual(directory.filesMade, 1, "no runs")
        XCTAssertTrue(inOrder.isOnDisk)
        var generator = Mutator(seed: 34)
        let shuffled = try readCSV(.staff, paddedStaffCSV(ids.shuffled(using: &generator)), directory: try RunDirectory(in: w.root), budget: 4_096)
        XCTAssertEqual(inOrder.keys, shuffled.keys)
        for r in 0..<inOrder.count {
            XCTAssertEqual(inOrder.values(r), shuffled.values(r))
            XCTAssertEqual(inOrder.fingerprint(r), shuffled.fingerprint(r))
            XCTAssertEqual(inOrder.isInactive(r), shuffled.isInactive(r))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
        // A buffer of a megabyte or more moved to the file at once (written past the
        // file's own buffer), then rows after it: the same rows.
        let many = Array(0..<40_000)
        let big = try readCSV(.staff, paddedStaffCSV(many), directory: try RunDirectory(in: w.root), budget: 1 << 20)
        let bigShuffled = try readCSV(.staff, paddedStaffCSV(many.shuffled(using: &generator)), directory: try RunDirectory(in: w.root), budget: 1 << 20)
        XCTAssertTrue(big.isOnDisk)
        XCTAssertEqual(big.keys, bigShuffled.keys)
        for r in stride(from: 0, to: big.count, by: 97) { XCTAssertEqual(big.values(r), bigShuffled.values(r), "row \(r)") }
        // Fewer rows than the buffer holds stay in memory, as sorted ones do.
        let few = try readCSV(.staff, paddedStaffCSV(Array(0..<20)), directory: directory, budget: RowSorter.defaultBudget)
        XCTAssertFalse(few.isOnDisk)
        XCTAssertEqual(few.keys, (0..<20).map { "S" + String(String(100_000 + $0).dropFirst()) })
        // ... in a buffer of their own size, not the 9 MiB one they were written into,
        // which a small file would otherwise hold for the rest of the run.
        XCTAssertLessThan(few.memoryAllocated, 64 << 10, "20 rows keep \(few.memoryAllocated) bytes")
        for r in 0..<few.count { XCTAssertEqual(few.values(r)[0], "First \(r)") }
    }

    /// A row out of order after any number in order (the first, at a block's edge, after
    /// the rows in order went to a file, the last) gives the rows in key order, on disk and
    /// in memory.
    func testARowOutOfOrderAfterRowsInOrderGivesTheRowsInKeyOrder() throws {
        let w = Workspace()
        for at in [1, 2, 37, 64, 65, 1_000, 2_999] {
            var ids = Array(0..<3_000)
            ids.swapAt(at, at - 1)
            let text = paddedStaffCSV(ids)
            for (label, directory, budget) in [("on disk", try RunDirectory(in: w.root), 4_096), ("in memory", nil, 4_096),
                                               ("on disk, in order still in memory", try RunDirectory(in: w.root), 1 << 20)] as [(String, RunDirectory?, Int)] {
                let rows = try readCSV(.staff, text, directory: directory, budget: budget)
                XCTAssertEqual(rows.keys, (0..<3_000).map { "S" + String(String(100_000 + $0).dropFirst()) }, "\(label), out of order at \(at)")
                for id in [0, at - 1, at, 2_999] {
                    let r = try XCTUnwrap(rows.row(forKey: "S" + String(String(100_000 + id).dropFirst())))
                    XCTAssertEqual(rows.value(r, 0), "First \(id)", "\(label), out of order at \(at)")
                }
            }
        }
    }

    /// R2 among rows in key order: a skipped row's id is protected and has no row; a
    /// skipped row and a good row with one id, or two good rows, are a duplicate.
    func testR2AmongRowsInKeyOrderSkippedRowsAndDuplicatesAreAsBefore() throws {
        let w = Workspace()
        for directory in [try RunDirectory(in: w.root), nil] {
            let rows = try readCSV(.staff, paddedStaffCSV(Array(0..<500), skipped: [7, 300]), directory: directory, budget: 2_048)
            XCTAssertEqual(rows.count, 498)
            XCTAssertEqual(rows.protectedKeys, ["S00007", "S00300"])
            XCTAssertNil(rows.row(forKey: "S00007"))
            XCTAssertEqual(rows.value(try XCTUnwrap(rows.row(forKey: "S00008")), 0), "First 8")
            var twice = Array(0..<500)
            twice.insert(10, at: 11)   // line 13 repeats line 12
            XCTAssertThrowsError(try readCSV(.staff, paddedStaffCSV(twice), directory: directory, budget: 2_048)) { e in
                XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 13, id: "S00010", firstLine: 12, columns: ["staff_id"]))
            }
            let skippedFirst = "staff_id,first_name,last_name,email\nS1,A,B,not-an-email\nS1,E,F,e@d.org\nS2,C,D,c@d.org\n"
            XCTAssertThrowsError(try readCSV(.staff, skippedFirst, directory: directory, budget: 16)) { e in
                XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 3, id: "S1", firstLine: 2, columns: ["staff_id"]))
            }
        }
    }

    func testR2DuplicateIDsAcrossRunsNameTheFirstDuplicateAndItsOriginal() throws {
        let w = Workspace()
        var ids = Array(0..<400)
        ids.insert(10, at: 300)   // line 302 repeats line 12
        ids.append(5)             // line 403 repeats line 7 (read later: not the one reported)
        XCTAssertThrowsError(try readCSV(.staff, staffCSV(ids), directory: try RunDirectory(in: w.root), budget: 256)) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 302, id: "S10", firstLine: 12, columns: ["staff_id"]))
        }
    }

    /// R2 unchanged: a skipped row's id and a good row's id are one id, whichever comes first.
    func testR2ASkippedRowAndAGoodRowWithOneIDAreADuplicateEitherWay() throws {
        let w = Workspace()
        let skippedFirst = "staff_id,first_name,last_name,email\nS1,A,B,not-an-email\nS2,C,D,c@d.org\nS1,E,F,e@d.org\n"
        XCTAssertThrowsError(try readCSV(.staff, skippedFirst, directory: try RunDirectory(in: w.root), budget: 16)) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 4, id: "S1", firstLine: 2, columns: ["staff_id"]))
        }
        let goodFirst = "staff_id,first_name,last_name,email\nS1,A,B,a@d.org\nS2,C,D,c@d.org\nS1,E,F,not-an-email\n"
        XCTAssertThrowsError(try readCSV(.staff, goodFirst, directory: nil, budget: 16)) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 4, id: "S1", firstLine: 2, columns: ["staff_id"]))
        }
        let twoSkipped = "staff_id,first_name,last_name,email\nS1,A,B,x\nS1,E,F,y\n"
        XCTAssertThrowsError(try readCSV(.staff, twoSkipped, directory: nil, budget: 16)) { e in
            XCTAssertEqual(e as? ExportError, .duplicateID(file: "staff.csv", line: 3, id: "S1", firstLine: 2, columns: ["staff_id"]))
        }
    }

    /// Rows added by `append` (OneRoster, held plans) keep the first of a duplicate id, and a
    /// key protected first stays protected, without a row.
    func testAppendedDuplicatesKeepTheFirstAndProtectedKeysStayProtected() throws {
        var rows = EntityRows(kind: .households, source: "households.csv")
        try rows.append(key: "H2", values: values("Lee"), inactive: false, location: 1)
        try rows.append(key: "H2", values: values("Kim"), inactive: true, location: 2)
        try rows.protect("H3", line: 3)
        try rows.append(key: "H3", values: values("Wu"), inactive: false, location: 4)
        try rows.append(key: "H1", values: values("Ng"), inactive: false, location: 5)
        try rows.protect("H1", line: 6)
        XCTAssertEqual(rows.keys, ["H1", "H2"])
        XCTAssertEqual(rows.value(1, 0), "Lee")
        XCTAssertFalse(rows.isInactive(1))
        XCTAssertEqual(rows.protectedKeys, ["H3"])
        var h3 = "H3", h1 = "H1"
        XCTAssertTrue(h3.withUTF8 { rows.isProtected(keyBytes: $0) })
        XCTAssertFalse(h1.withUTF8 { rows.isProtected(keyBytes: $0) }, "a row had it first")
    }

    /// Composite keys sort as SQL sorts them column by column (`ORDER BY k1, k2`): the
    /// separator before any other byte.
    func testKeyOrderIsColumnByColumn() {
        func compare(_ a: [UInt8], _ b: [UInt8]) -> Int { a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { KeyOrder.compare(x, $0) } } }
        XCTAssertLessThan(compare([0x41, 0x1F, 0x7A], [0x41, 0x01]), 0, "(A, z) before A\\u{1}")
        XCTAssertLessThan(compare([0x41], [0x41, 0x1F, 0x41]), 0, "a prefix first")
        XCTAssertEqual(compare([0x41, 0x42], [0x41, 0x42]), 0)
        XCTAssertGreaterThan(compare([0x42], [0x41, 0x7A]), 0)
        var rows = EntityRows(kind: .householdRelationships, source: "household_relationships.csv")
        for (i, key) in [["H1", "student", "ST2"], ["H1-2", "student", "ST1"], ["H1", "student", "ST1"]].enumerated() {
            try? rows.append(key: RecordKey.join(key), values: values("Parent"), inactive: false, location: i)
        }
        XCTAssertEqual(rows.keys.map(RecordKey.display), ["H1/student/ST1", "H1/student/ST2", "H1-2/student/ST1"])
    }
    /// The order, which skips a common prefix eight bytes at a time, is the one of comparing
    /// the keys column by column (split at 0x1F, each part as bytes, a shorter part first):
    /// keys that differ first at every position of a word and past it, in a byte around
    /// the separator (0x00, 0x1E, 0x1F, 0x20, 0xFF), or only in length.
    func testKeyOrderSkippingCommonPrefixesIsTheColumnOrder() {
        func columns(_ a: [UInt8], _ b: [UInt8]) -> Int {
            let pa = a.split(separator: 0x1F, omittingEmptySubsequences: false), pb = b.split(separator: 0x1F, omittingEmptySubsequences: false)
            for (x, y) in zip(pa, pb) where !x.elementsEqual(y) {
                return x.lexicographicallyPrecedes(y) ? -1 : 1
            }
            return pa.count - pb.count
        }
        func compare(_ a: [UInt8], _ b: [UInt8]) -> Int { a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { KeyOrder.compare(x, $0) } } }
        let bytes: [UInt8] = [0x00, 0x1E, 0x1F, 0x20, 0x41, 0x42, 0xFF]
        for length in 0..<20 {
            let base = (0..<length).map { UInt8(0x30 + $0 % 10) }
            for at in 0..<length {
                for byte in bytes {
                    var other = base
                    other[at] = byte
                    XCTAssertEqual(compare(base, other).signum(), columns(base, other).signum(), "\(base) \(other)")
                    XCTAssertEqual(compare(other, base).signum(), columns(other, base).signum(), "\(other) \(base)")
                }
            }
            XCTAssertEqual(compare(base, base + [0x41]).signum(), -1)
            XCTAssertEqual(compare(base + [0x1F], base).signum(), 1)
        }
        var generator = Mutator(seed: 17)
        for _ in 0..<20_000 {
            let a = (0..<Int(generator.next() % 20)).map { _ in bytes[Int(generator.next() % UInt64(bytes.count))] }
            var b = a
            if !b.isEmpty && generator.next() % 2 == 0 { b[Int(generator.next() % UInt64(b.count))] = bytes[Int(generator.next() % UInt64(bytes.count))] }
            if generator.next() % 3 == 0 { b.append(bytes[Int(generator.next() % UInt64(bytes.count))]) }
            XCTAssertEqual(compare(a, b).signum(), columns(a, b).signum(), "\(a) \(b)")
        }
    }

    /// The planner meets the stored records in the mirror's order and finds each one's row
    /// by walking the rows beside the scan (`RowMatcher`); whatever the order the keys come
    /// in (key order, reverse, shuffled, with keys the export lacks before, between and
    /// after its rows), every answer is the search's.
    func testTheRowMatcherAnswersAsTheSearchInAnyOrder() throws {
        let w = Workspace()
        // Composite keys over many blocks (64 rows each), on disk, every third household absent.
        var text = "household_id,record_type,record_id,relationship\n"
        for h in 0..<400 where h % 3 != 0 {
            for s in 0..<2 { text += "H\(h),student,S\(h)-\(s),Parent\n" }
        }
        let rows = try readCSV(.householdRelationships, text, directory: try RunDirectory(in: w.root), budget: 2_048)
        XCTAssertTrue(rows.isOnDisk)
        var asked = ["A", "H0\u{1F}student\u{1F}S0-0", "H1\u{1F}student", "Z"]
        for h in 0..<400 { for s in 0..<3 { asked.append("H\(h)\u{1F}student\u{1F}S\(h)-\(s)") } }
        func keyOrder(_ a: String, _ b: String) -> Bool {
            var a = a, b = b
            return a.withUTF8 { x in b.withUTF8 { y in KeyOrder.compare(x, y) < 0 } }
        }
        var generator = SystemRandomNumberGenerator()
        let inOrder = asked.sorted(by: keyOrder)
        for (order, keys) in [("key order", inOrder), ("reverse", Array(inOrder.reversed())), ("shuffled", asked.shuffled(using: &generator)),
                              ("key order twice", inOrder + inOrder)] {
            var matcher = RowMatcher(rows: rows)
            for key in keys {
                var k = key
                let found = try k.withUTF8 { try matcher.match($0) }
                XCTAssertEqual(found?.row, rows.row(forKey: key), "\(order): \(RecordKey.display(key))")
                if let found {
                    XCTAssertEqual(rows.key(found.row), key)
                    XCTAssertEqual(found.fingerprint, rows.fingerprint(found.row), "\(order): the fingerprint of the row found")
                    XCTAssertEqual(found.inactive, rows.isInactive(found.row), "\(order): the activity of the row found")
                }
            }
        }
        XCTAssertEqual(inOrder.compactMap(rows.row(forKey:)), Array(0..<rows.count), "every row found once, in order")
    }

    /// The planner's walk (`SortedRowsWalk`) reads the rows one after another, from a file
    /// a quarter megabyte at a time or in place in memory: from any row on it gives the
    /// records a look-up by row number gives, to the last, whether the rows spilled or not.
    func testTheWalkFromAnyRowGivesTheRowsALookUpGives() throws {
        let w = Workspace()
        var text = "staff_id,first_name,last_name,email,status\n"
        for i in 0..<700 { text += "S\(i),F\(i),L,s\(i)@d.org,\(i % 7 == 0 ? "inactive" : "active")\n" }
        for (label, directory, budget) in [("on disk", try RunDirectory(in: w.root), 2_048), ("in memory", nil, RowSorter.defaultBudget)] {
            let rows = try readCSV(.staff, text, directory: directory, budget: budget)
            XCTAssertEqual(rows.isOnDisk, directory != nil, label)
            for start in [0, 1, 63, 64, 65, 300, 699, 700] {
                let walk = try rows.walk(from: start)
                var seen = 0
                while let r = walk.current {
                    let i = walk.index
                    XCTAssertEqual(String(decoding: r.key, as: UTF8.self), rows.key(i), "\(label), from \(start): row \(i)")
                    XCTAssertEqual(r.fingerprint, rows.fingerprint(i), "\(label), from \(start): row \(i)")
                    XCTAssertEqual(r.isInactive, rows.isInactive(i), "\(label), from \(start): row \(i)")
                    XCTAssertEqual(String(decoding: r.value(0), as: UTF8.self), rows.value(i, 0), "\(label), from \(start): row \(i)")
                    try walk.advance()
                    seen += 1
                }
                XCTAssertEqual(seen, rows.count - start, "\(label): every row from \(start) to the last")
                XCTAssertEqual(walk.index, rows.count, label)
            }
        }
    }

    /// A walk started on the file reads a few kilobytes first, since the planner starts one
    /// again at each break in a mirror table's order and may leave it after 64 rows (a
    /// quarter megabyte a start, before); one that goes on doubles its reads up to the
    /// quarter megabyte. A row larger than the first read is read whole, and every row
    /// reads as a look-up gives it.
    func testAWalkStartedOnTheFileReadsLittleFirstAndMoreAsItGoesOn() throws {
        let w = Workspace()
        var text = "staff_id,first_name,last_name,email,status\n"
        for i in 0..<12_000 {
            let name = i == 6_001 ? String(repeating: "N", count: 40_000) : "First\(i)"
            text += "S\(100_000 + i),\(name),Last name \(i),someone.\(i)@district.example.org,active\n"
        }
        let rows = try readCSV(.staff, text, directory: try RunDirectory(in: w.root), budget: 64 << 10)
        XCTAssertTrue(rows.isOnDisk)
        XCTAssertEqual(rows.count, 12_000, "the long row is a row")
        let walk = try rows.walk(from: 6_000)
        XCTAssertEqual(walk.bytesBuffered, SortedRowsWalk.firstRead, "a start reads 16 KiB")
        var largest = 0
        while let r = walk.current {
            let i = walk.index
            XCTAssertEqual(String(decoding: r.key, as: UTF8.self), rows.key(i), "row \(i)")
            XCTAssertEqual(String(decoding: r.value(0), as: UTF8.self), rows.value(i, 0), "row \(i)")
            largest = max(largest, walk.bytesBuffered ?? 0)
            try walk.advance()
        }
        XCTAssertEqual(walk.index, rows.count)
        XCTAssertEqual(largest, 256 << 10, "reads doubled up to a quarter megabyte")
    }

    /// The rows' byte buffer: appends past its capacity keep every byte, a row given up is
    /// cut off, and emptying keeps the memory.
    func testTheByteBufferKeepsEveryByteAcrossGrowth() {
        let b = ByteBuffer(capacity: 16)
        var expected: [UInt8] = []
        for i in 0..<300 {
            let chunk = (0..<(i % 37)).map { UInt8(truncatingIfNeeded: $0 &+ i) }
            chunk.withUnsafeBufferPointer { b.append($0) }
            b.append(UInt8(i & 0xFF))
            b.append(littleEndian: UInt32(i))
            expected += chunk + [UInt8(i & 0xFF)] + [UInt8(i & 0xFF), UInt8(i >> 8), 0, 0]
        }
        XCTAssertEqual(Array(b.bytes), expected)
        XCTAssertTrue(expected.withUnsafeBufferPointer { b.equals($0) })
        b.truncate(to: 10)
        XCTAssertEqual(Array(b.bytes), Array(expected[0..<10]))
        XCTAssertFalse(expected.withUnsafeBufferPointer { b.equals($0) })
        let capacity = b.capacity
        b.removeAll()
        XCTAssertTrue(b.isEmpty)
        XCTAssertEqual(b.capacity, capacity, "emptied, the memory is kept")
        let header = b.claim(4)
        header.storeBytes(of: UInt32(7).littleEndian, as: UInt32.self)
        XCTAssertEqual(Array(b.bytes), [7, 0, 0, 0])
    }

    /// The fingerprint a row gets as it is read (from its field bytes, as they go into the
    /// sorted record) is the one the store keeps for its values as Strings
    /// (`EntityRows.fingerprint(values:)`), for rows that are awkward to read: a byte order
    /// mark, CRLF, quoted commas, quotes and line breaks, non-ASCII (NFC and NFD kept as
    /// given), empty and missing columns, a reordered header, lists and booleans spaced or
    /// cased any way; in memory and spilled alike.
    func testTheFingerprintOfAwkwardRowsIsTheOneOfTheirValues() throws {
        let w = Workspace()
        let nfd = "Zoe\u{0301}", nfc = "Zo\u{00E9}"
        let text = "\u{FEFF}enabled,last_name,staff_id,email,first_name,school_ids,title\r\n"
            + "YES,\"O'Brien, Jr.\",S1,s1@d.org,\"Mary \"\"May\"\"\",\" 100 ; 200;;300 \",\"Head\r\nof Year\"\r\n"
            + "no,\(nfd),S2,,\(nfc),,\r\n"
            + "0,Ødegård,S3, s3@d.org ,Åsa,100,\"\"\r\n"
            + ",Last,S4,s4@d.org,\"  First  \",,\r\n"
        let expected: [String: [String]] = [
            "S1": ["Mary \"May\"", "O'Brien, Jr.", "s1@d.org", "Head\r\nof Year", "100;200;300", ""],
            "S2": [nfc, nfd, "", "", "", "false"],
            "S3": ["Åsa", "Ødegård", "s3@d.org", "", "100", "false"],
            "S4": ["First", "Last", "s4@d.org", "", "", ""],
        ]
        for (label, directory, budget) in [("in memory", nil, RowSorter.defaultBudget), ("spilled", try RunDirectory(in: w.root), 64)] {
            let rows = try readCSV(.staff, text, directory: directory, budget: budget)
            XCTAssertEqual(rows.problems.map(\.message), [], label)
            XCTAssertEqual(rows.keys, ["S1", "S2", "S3", "S4"], label)
            for r in 0..<rows.count {
                let key = rows.key(r)
                XCTAssertEqual(rows.values(r), expected[key], "\(label): \(key)")
                XCTAssertEqual(rows.fingerprint(r), EntityRows.fingerprint(values: expected[key] ?? []), "\(label): \(key)")
            }
        }
    }

    /// An enumerated value (a relationship's record type) is found in its set by its bytes,
    /// in any ASCII case; a value with a byte past ASCII is left to the String comparison.
    func testAnEnumeratedValueIsFoundByItsBytesInAnyCase() {
        let allowed = ["student", "applicant"].map { Array($0.utf8) }
        func index(_ s: String) -> Int? {
            let bytes = Array(s.utf8)
            return bytes.withUnsafeBufferPointer { RowRules.allowedIndex($0, 0..<bytes.count, allowed) }
        }
        XCTAssertEqual(index("student"), 0)
        XCTAssertEqual(index("STUDENT"), 0)
        XCTAssertEqual(index("Applicant"), 1)
        XCTAssertNil(index("studen"))
        XCTAssertNil(index("students"))
        XCTAssertNil(index("st\u{00FC}dent"), "not ASCII")
        XCTAssertNil(index("STUDENT\u{0301}"))
        XCTAssertNil(index(""))
        var rows = EntityRows(kind: .householdRelationships, source: "household_relationships.csv")
        var rules = RowRules(kind: .householdRelationships)
        let line = Array("H1StUdEnTST1Parent".utf8)
        try? line.withUnsafeBufferPointer { b in
            try rules.apply(buffer: b, ranges: [0..<2, 2..<9, 9..<12, 12..<18], location: "2", line: 2, into: &rows)
        }
        XCTAssertEqual(rows.keys, ["H1\u{1F}student\u{1F}ST1"], "the set's own lower-case bytes in the key")
    }
}
