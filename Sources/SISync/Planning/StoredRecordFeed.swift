import Foundation

/// Hands a mirror table's scan to a second thread, a few thousand records at a time, which
/// matches them to the export's rows (`EntityPlanDraft`) while the scan reads on.
///
/// Why: on a day when every file changed, the last file parsed (`students.csv`, half the
/// export) was planned alone, after both parsing threads had finished: the store's scan and
/// the match took turns on one core while the other had nothing to do (issue 34, perf). The
/// store's connection stays on the calling thread; the draft, its rows and its walk are
/// moved to the matching thread (no copy: its first `seen[r] = true` would otherwise copy the
/// array) and moved back when it is done, and the thread is joined before `match` returns,
/// so nothing of the run outlives the plan on another thread.
///
/// The result is the one the scan gives on one thread: the records are matched in the
/// scan's order, and an error is the one met first in that order (a record that cannot be
/// matched before a store error later in the scan, and the other way round).
final class StoredRecordFeed: @unchecked Sendable {
    /// Records per batch: big enough that a hand-over is rare, small enough that three
    /// batches (the keys of 12,288 records) are nothing next to the run's other buffers.
    static let batchSize = 4096
    static let batches = 3

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var ready: [StoredRecordBatch] = []
    private var free: [StoredRecordBatch]
    private var ended = false
    private var stopped = false
    private var done = false
    /// Owned by the matching thread until `done` (so not checked for exclusive access at
    /// each record it takes); taken out, not copied, by `endAndWait`.
    @exclusivity(unchecked) private var draft: EntityPlanDraft?
    private var failure: Error?

    private init(_ draft: consuming EntityPlanDraft) {
        self.draft = consume draft
        free = (0..<Self.batches).map { _ in StoredRecordBatch(capacity: Self.batchSize) }
    }

    /// The matching thread's name (`/proc/self/task/*/comm`).
    static let threadName = "sisync-match"

    /// The scan of `stored` matched into `draft` on a thread of its own (on this one when no
    /// thread can be started: the same plan, later).
    static func match(_ stored: StoredEntityState, into draft: consuming EntityPlanDraft) throws -> EntityPlanDraft {
        let feed = StoredRecordFeed(consume draft)
        guard let thread = JoinedThread(name: threadName, { feed.matchBatches() }) else {
            var alone = feed.draft.take()!
            try stored.forEachRecord { try alone.take($0) }
            return alone
        }
        // The thread has exited when this returns, whatever the scan met.
        defer { thread.join() }
        var scanError: Error?
        var batch = feed.takeFree()
        var stopped = false
        do {
            try stored.forEachRecord { s in
                if batch.count == batchSize { batch = try feed.send(batch) }
                batch.append(s)
            }
        } catch is Stopped {
            // The matching thread failed; its error is reported below.
            stopped = true
        } catch {
            scanError = error
        }
        // The records already read are matched even after a store error: a record before it
        // in the scan that cannot be matched is the error to report, as on one thread.
        if !stopped && batch.count > 0 { feed.sendLast(batch) }
        let (matched, failure) = feed.endAndWait()
        if let failure { throw failure }
        if let scanError { throw scanError }
        return matched
    }

    /// The matching thread stopped: the scan stops too.
    private struct Stopped: Error {}

    private func takeFree() -> StoredRecordBatch {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty { condition.wait() }
        return free.removeLast()
    }

    /// Queues a full batch for the matching thread and returns an empty one, waiting for it
    /// while the matching thread is two batches behind.
    private func send(_ batch: StoredRecordBatch) throws -> StoredRecordBatch {
        condition.lock()
        defer { condition.unlock() }
        ready.append(batch)
        condition.broadcast()
        while free.isEmpty && !stopped { condition.wait() }
        if stopped { throw Stopped() }
        return free.removeLast()
    }

    /// Queues the last batch, which is not given back.
    private func sendLast(_ batch: StoredRecordBatch) {
        condition.lock()
        defer { condition.unlock() }
        if !stopped { ready.append(batch) }
        condition.broadcast()
    }

    /// The draft, moved out of the feed, once the matching thread is done with it.
    private func endAndWait() -> (EntityPlanDraft, Error?) {
        condition.lock()
        defer { condition.unlock() }
        ended = true
        condition.broadcast()
        while !done { condition.wait() }
        return (draft.take()!, failure)
    }

    /// The matching thread's loop: each batch in turn, until the scan ends or a record
    /// cannot be matched.
    private func matchBatches() {
        while true {
            condition.lock()
            while ready.isEmpty && !ended { condition.wait() }
            guard !ready.isEmpty else {
                done = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let batch = ready.removeFirst()
            condition.unlock()
            var error: Error?
            do { try batch.forEach { try draft!.take($0) } } catch let e { error = e }
            batch.removeAll()
            condition.lock()
            free.append(batch)
            if let error {
                failure = error
                stopped = true
                ready.removeAll()
                done = true
            }
            condition.broadcast()
            condition.unlock()
            if error != nil { return }
        }
    }
}

/// Stored records copied out of a scan (`StoredRecordFeed`): the keys end to end in one
/// buffer, the rest in arrays, all kept for the next batch.
///
/// One thread at a time fills or reads a batch (the feed's lock hands it over), so the
/// runtime's exclusivity checks are off: on the fields of a class they were a fifth of
/// the scanning thread's time (perf, a day when every file changed).
final class StoredRecordBatch {
    private let keys: ByteBuffer
    @exclusivity(unchecked) private var keyEnds: [Int] = []
    @exclusivity(unchecked) private var fingerprints: [UInt64] = []
    @exclusivity(unchecked) private var active: [Bool] = []
    @exclusivity(unchecked) private var missingSince: [Date?] = []

    init(capacity: Int) {
        keys = ByteBuffer(capacity: capacity * 16)
        keyEnds.reserveCapacity(capacity)
        fingerprints.reserveCapacity(capacity)
        active.reserveCapacity(capacity)
        missingSince.reserveCapacity(capacity)
    }

    var count: Int { keyEnds.count }

    func append(_ s: StoredRecordView) {
        keys.append(s.keyBytes)
        keyEnds.append(keys.count)
        fingerprints.append(s.fingerprint)
        active.append(s.active)
        missingSince.append(s.missingSince)
    }

    /// Each record as the scan gave it, in order.
    func forEach(_ body: (StoredRecordView) throws -> Void) rethrows {
        var start = 0
        for i in 0..<keyEnds.count {
            let key = UnsafeBufferPointer(start: keys.base + start, count: keyEnds[i] - start)
            try body(StoredRecordView(keyBytes: key, fingerprint: fingerprints[i], active: active[i], missingSince: missingSince[i]))
            start = keyEnds[i]
        }
    }

    func removeAll() {
        keys.removeAll()
        keyEnds.removeAll(keepingCapacity: true)
        fingerprints.removeAll(keepingCapacity: true)
        active.removeAll(keepingCapacity: true)
        missingSince.removeAll(keepingCapacity: true)
    }
}
