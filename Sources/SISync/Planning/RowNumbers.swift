/// Export rows by number (their positions in key order, `EntityRows`), held as runs of
/// consecutive numbers: a plan's additions. A first import adds every row, and an array of
/// their numbers cost 4 bytes a row, 24 MB at five times a district and the largest thing
/// a run held through its link and apply phases (issue 34: memory that grows with the
/// district); as runs it is one run. A day's few additions are a run each: runs of one row
/// are at most every other row, so no plan holds more per export row than the array did.
///
/// The numbers keep the order they were given in (`append`); the planner gives them in
/// key order.
public struct RowNumbers: RandomAccessCollection, Equatable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// Each run's first number, and where it ends among the numbers (a running count).
    /// `append` extends the last run whenever it can, so equal numbers make equal runs.
    private var firsts: [Int32] = []
    private var ends: [Int32] = []

    public init() {}

    public init(arrayLiteral numbers: Int32...) { self.init(numbers) }

    public init<Numbers: Sequence<Int32>>(_ numbers: Numbers) {
        for n in numbers { append(n) }
    }

    /// Every row of an entity of `count` rows, in key order: one run.
    public static func all(_ count: Int) -> RowNumbers {
        precondition(count >= 0 && count <= Int(Int32.max), "\(count) rows")
        var numbers = RowNumbers()
        if count > 0 {
            numbers.firsts = [0]
            numbers.ends = [Int32(count)]
        }
        return numbers
    }

    /// How many runs hold the numbers (what the numbers cost: 8 bytes a run).
    public var runCount: Int { firsts.count }

    /// Whether each number is greater than the one before (the planner's, key order).
    public var isAscending: Bool {
        for run in firsts.indices.dropFirst() where firsts[run] <= last(ofRun: run - 1) { return false }
        return true
    }

    public mutating func append(_ number: Int32) {
        if let run = firsts.indices.last, Int(last(ofRun: run)) + 1 == Int(number) {
            precondition(ends[run] < Int32.max, "more than \(Int32.max) row numbers")
            ends[run] += 1
            return
        }
        precondition((ends.last ?? 0) < Int32.max, "more than \(Int32.max) row numbers")
        firsts.append(number)
        ends.append((ends.last ?? 0) + 1)
    }

    private func start(ofRun run: Int) -> Int { run == 0 ? 0 : Int(ends[run - 1]) }

    private func last(ofRun run: Int) -> Int32 { firsts[run] + Int32(Int(ends[run]) - 1 - start(ofRun: run)) }

    // MARK: RandomAccessCollection

    public var startIndex: Int { 0 }
    public var endIndex: Int { ends.last.map(Int.init) ?? 0 }

    public subscript(position: Int) -> Int32 {
        precondition(position >= 0 && position < endIndex, "row number \(position) of \(endIndex)")
        // The first run that ends after `position`.
        var low = 0, high = ends.count - 1
        while low < high {
            let mid = (low + high) / 2
            if Int(ends[mid]) <= position { low = mid + 1 } else { high = mid }
        }
        return firsts[low] + Int32(position - start(ofRun: low))
    }

    /// Walks the runs: a number costs an addition, not a search for its run.
    public struct Iterator: IteratorProtocol {
        fileprivate let numbers: RowNumbers
        fileprivate var run = 0
        fileprivate var position = 0

        public mutating func next() -> Int32? {
            guard run < numbers.firsts.count else { return nil }
            let number = numbers.firsts[run] + Int32(position - numbers.start(ofRun: run))
            position += 1
            if position == Int(numbers.ends[run]) { run += 1 }
            return number
        }
    }

    public func makeIterator() -> Iterator { Iterator(numbers: self) }

    public var description: String { "\(Array(self))" }
}
