import Synchronization
import XCTest
@testable import SISync

/// Issue 34: a large entity's stored records are matched to the export's rows on a second
/// thread while the store is read (`StoredRecordFeed`). The plan, and the error when there
/// is one, must be the ones the scan gives on the calling thread alone.
final class StoredRecordFeedTests: XCTestCase {
    private let now = Timestamp.parse("2026-09-01T06:00:00Z")!
    /// More records than the feed's batches hold at once, so batches are handed over, reused
    /// and waited for.
    private let n = StoredRecordFeed.batchSize * (StoredRecordFeed.batches + 3) + 123

    private func v(_ first: String, _ email: String = "x@d.org") -> [String] { [first, "Lee", email, "Teacher", "101", ""] }

    /// `n` staff rows, sorted in the run's directory (on disk) or in memory.
    private func export(_ w: Workspace, onDisk: Bool) throws -> EntityRows {
        var rows = EntityRows(kind: .staff, source: "staff.csv", spill: onDisk ? try RunDirectory(in: w.root) : nil)
        if onDisk { rows.setRunBudget(64 << 10) }
        for i in 0..<n where i % 97 != 5 {
            rows.noteRowRead()
            let values = v(i % 13 == 1 ? "Changed\(i)" : "N\(i)")
            try rows.append(key: "S\(100_000 + i)", values: values.map { Array($0.utf8)[...] }, inactive: i % 89 == 3, location: i + 2)
        }
        try rows.reportProblem(RowProblem(file: "staff.csv", location: "9", column: "email", id: "S100005", message: "invalid email"), key: "S100005", line: 9)
        try rows.seal { id, line, first in .duplicateID(file: "staff.csv", line: line, id: id, firstLine: first, columns: ["staff_id"]) }
        XCTAssertEqual(rows.isOnDisk, onDisk)
        return rows
    }

    /// The mirror before the run: most rows as stored, some changed, deactivated, missing,
    /// or gone from the export, and some of the export not stored at all (additions).
    private func stored(shuffled: Bool) -> InMemoryEntityState {
        var records: [(key: String, values: [String], active: Bool, missingSince: Date?)] = []
        for i in 0..<(n + 500) where i % 211 != 17 {
            let missing: Date? = i % 71 == 2 ? now.addingTimeInterval(i % 2 == 0 ? -72 * 3600 : -3600) : nil
            records.append((key: "S\(100_000 + i)", values: v("N\(i)"), active: i % 53 != 4, missingSince: missing))
        }
        // Seeded: a failure comes back with the same order.
        var generator = Mutator(seed: 34)
        if shuffled { records.shuffle(using: &generator) }
        return InMemoryEntityState(records: records)
    }

    /// Everything a plan says, one line per addition run and per update.
    static func lines(_ p: EntityPlan) -> [String] {
        ["active before \(p.activeBefore), empty \(p.exportEmpty)", "additions \(Array(p.additions))"] + p.updates.map { u in
            "\(u.key) row \(u.row.map(String.init) ?? "-") fields \(u.fields.map { "\($0.name):\($0.old)>\($0.new)" }) reactivate \(u.reactivate) "
                + "deactivate \(u.deactivate.map { "\($0)" } ?? "-") mark \(u.markMissing.map(Timestamp.format) ?? "-") clear \(u.clearMissing) "
                + "since \(u.missingSince.map(Timestamp.format) ?? "-")"
        }
    }

    private func planners() -> [(String, Planner)] {
        [("deactivate at once", Planner(deactivateAfter: 0, now: now)),
         ("deactivate_after 48h", Planner(deactivateAfter: 48 * 3600, now: now)),
         ("summer hold", Planner(deactivateAfter: 0, now: now, heldUntil: "2026-09-30"))]
    }

    func testR4APlanMatchedOnASecondThreadIsTheOnePlannedOnOne() throws {
        let w = Workspace()
        for onDisk in [true, false] {
            let rows = try export(w, onDisk: onDisk)
            for shuffled in [false, true] {
                let state = stored(shuffled: shuffled)
                for (label, planner) in planners() {
                    var alone = planner
                    alone.matchedAlongsideFrom = .max
                    var alongside = planner
                    alongside.matchedAlongsideFrom = 0
                    let one = try alone.plan(rows: rows, stored: state)
                    let two = try alongside.plan(rows: rows, stored: state)
                    let context = "\(label), \(onDisk ? "on disk" : "in memory"), \(shuffled ? "stored in no order" : "stored in key order")"
                    XCTAssertEqual(Self.lines(two), Self.lines(one), context)
                    XCTAssertFalse(one.updates.isEmpty, context)
                    XCTAssertFalse(one.additions.isEmpty, context)
                    XCTAssertTrue(one.updates.contains { !$0.fields.isEmpty }, context)
                }
            }
        }
        // In `[source] schools`, a row out of scope is neither matched nor added.
        let rows = try export(w, onDisk: true)
        let inScope = (0..<rows.count).map { $0 % 5 != 0 }
        var alone = Planner(deactivateAfter: 0, now: now), alongside = alone
        alone.matchedAlongsideFrom = .max
        alongside.matchedAlongsideFrom = 0
        XCTAssertEqual(Self.lines(try alongside.plan(rows: rows, stored: stored(shuffled: false), inScope: inScope)),
                       Self.lines(try alone.plan(rows: rows, stored: stored(shuffled: false), inScope: inScope)))
    }

    /// A store that fails part-way through its scan: the matching thread is stopped and
    /// has exited when the plan returns (no thread of that name left), and the store's
    /// error is the plan's.
    func testAStoreErrorDuringTheScanIsThePlansError() throws {
        let w = Workspace()
        let rows = try export(w, onDisk: true)
        for failAt in [0, 1, StoredRecordFeed.batchSize, n / 2] {
            let state = CountingState(stored(shuffled: false), failAt: failAt)
            var alongside = Planner(deactivateAfter: 0, now: now)
            alongside.matchedAlongsideFrom = 0
            XCTAssertThrowsError(try alongside.plan(rows: rows, stored: state), "fails at \(failAt)") { error in
                XCTAssertEqual(error as? CountingFailure, .scan(failAt))
            }
            XCTAssertEqual(state.delivered, failAt)
            XCTAssertEqual(Self.matchingThreads(), 0, "the matching thread has exited (fails at \(failAt))")
        }
    }

    /// The threads of this process named as the feed's matching thread.
    static func matchingThreads() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
            return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == StoredRecordFeed.threadName
        }.count
    }

    /// The draft is moved to the matching thread and back, not copied: its rows-seen array
    /// is the one the caller made (a copy held by the caller or by the feed would make the
    /// matching thread's first `seen[r] = true` copy the whole array), and the thread has
    /// exited when `match` returns.
    func testTheDraftIsMovedToTheMatchingThreadAndBack() throws {
        let w = Workspace()
        let rows = try export(w, onDisk: true)
        let draft = EntityPlanDraft(planner: Planner(deactivateAfter: 0, now: now), rows: rows, inScope: nil)
        let before = draft.seen.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let state = CountingState(stored(shuffled: false), failAt: .max)
        let threadSeen = Atomic<Int>(-1)
        state.atRecord = (StoredRecordFeed.batchSize * 2, { threadSeen.store(Self.matchingThreads(), ordering: .relaxed) })
        let matched = try StoredRecordFeed.match(state, into: consume draft)
        XCTAssertEqual(threadSeen.load(ordering: .relaxed), 1, "matched on the feed's thread")
        XCTAssertEqual(Self.matchingThreads(), 0, "the matching thread has exited")
        XCTAssertTrue(matched.seen.contains(true))
        XCTAssertEqual(matched.seen.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, before, "the caller's array, written in place")
    }

    /// The rows' file can no longer be read to its end (cut short under the run): the matching thread
    /// fails, the scan stops within the batches the feed holds instead of reading the whole
    /// table, and the error is the one the scan on one thread meets, before a store error
    /// that would come later in the scan.
    func testRowsThatCannotBeReadStopTheScanWithTheReadError() throws {
        let w = Workspace()
        let rows = try export(w, onDisk: true)
        try cutShortTheFilesOpenUnder(w.root)
        for failAt in [Int.max, n - 10] {
            var alone = Planner(deactivateAfter: 0, now: now), alongside = alone
            alone.matchedAlongsideFrom = .max
            alongside.matchedAlongsideFrom = 0
            var expected: Error?
            XCTAssertThrowsError(try alone.plan(rows: rows, stored: CountingState(stored(shuffled: false), failAt: failAt))) { expected = $0 }
            let state = CountingState(stored(shuffled: false), failAt: failAt)
            XCTAssertThrowsError(try alongside.plan(rows: rows, stored: state)) { error in
                guard case .cannotReadFile = error as? RunDirectoryError else { return XCTFail("\(error)") }
                XCTAssertEqual("\(error)", expected.map { "\($0)" })
            }
            // The rows fail an eighth of the way in; the scan reads at most the feed's
            // batches and the one it fills beyond that.
            let total = state.inner.records.count
            XCTAssertLessThanOrEqual(state.delivered, total / 8 + (StoredRecordFeed.batches + 2) * StoredRecordFeed.batchSize, "the scan stopped")
            XCTAssertLessThan(state.delivered, total, "the scan stopped")
        }
    }

    /// Cuts to an eighth the (unlinked) files this process holds open in `directory`'s run directory.
    private func cutShortTheFilesOpenUnder(_ directory: String) throws {
        var cut = 0
        for fd in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd),
                  target.hasPrefix(directory), target.hasSuffix("(deleted)"), let n = Int32(fd) else { continue }
            var st = stat()
            guard fstat(n, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            // An eighth: the first rows' block is read (a short block read stops the process: a
            // disk failing under the run), the walk beyond meets the end of the file.
            XCTAssertEqual(ftruncate(n, st.st_size / 8), 0)
            cut += 1
        }
        XCTAssertGreaterThan(cut, 0, "the rows' file is open, unlinked, under the run's directory")
    }
}

/// A stored state that counts the records its scan gives and fails at record `failAt`.
final class CountingState<Inner: StoredEntityState>: StoredEntityState {
    let inner: Inner
    let failAt: Int
    private(set) var delivered = 0
    /// Called on the scanning thread before record `atRecord.0` is given.
    var atRecord: (Int, () throws -> Void)?

    init(_ inner: Inner, failAt: Int) {
        self.inner = inner
        self.failAt = failAt
    }

    func activeCount() throws -> Int { try inner.activeCount() }
    func forEachRecord(_ body: (StoredRecordView) throws -> Void) throws {
        try inner.forEachRecord { s in
            guard delivered != failAt else { throw CountingFailure.scan(failAt) }
            if let (at, action) = atRecord, at == delivered { try action() }
            delivered += 1
            try body(s)
        }
    }
    func forEachMissingRecord(_ body: (StoredRecord) throws -> Void) throws { try inner.forEachMissingRecord(body) }
    func values(forKey key: String) throws -> [String]? { try inner.values(forKey: key) }
    func values(forKeys keys: [String]) throws -> [String: [String]] { try inner.values(forKeys: keys) }
    func record(forKey key: String) throws -> (values: [String], active: Bool)? { try inner.record(forKey: key) }
}

/// `CountingState`'s error.
enum CountingFailure: Error, Equatable { case scan(Int) }

/// `Mutator`'s SplitMix64, seeded: a shuffled test's order is the same each time.
extension Mutator: RandomNumberGenerator {}
