#if canImport(Glibc)
import Glibc
#endif

/// A growable array of plain values (no references) in one block of `malloc`'s, grown with
/// `realloc`, for the tables that hold something of every user of a district.
///
/// Why not `Array`: an array that grows copies itself into a block twice the size, so while
/// it grows it holds both (three times what it holds), and afterwards up to twice what it
/// needs, all of it resident. A block this large is mapped by `malloc` on its own, and
/// `realloc` moves its pages (`mremap`) instead of copying them; the pages past the count are
/// never touched, so never resident. (A OneRoster translation of five times the bench
/// district, 2.85 million users with 36-byte ids, held its ids' bytes in an array that was
/// 128 MiB for 103 MB of ids, and 192 MiB while it last grew; issue 34.)
///
/// A value: a copy shares the block until either is changed (copy on write).
struct FlatArray<Element: BitwiseCopyable> {
    private final class Block {
        var base: UnsafeMutablePointer<Element>?
        var count = 0
        var capacity = 0

        init() {}

        init(copying other: Block) {
            if other.count > 0 {
                base = Block.resized(nil, to: other.count)
                base!.update(from: other.base!, count: other.count)
            }
            count = other.count
            capacity = other.count
        }

        deinit { free(base) }

        func reserve(_ needed: Int) {
            guard needed > capacity else { return }
            var c = max(capacity, 16)
            while c < needed { c = c > Int.max / 4 ? needed : c * 2 }
            base = Block.resized(base, to: c)
            capacity = c
        }

        /// `realloc`, or the process stops: a table that cannot grow is memory exhausted, as
        /// for `Array`.
        static func resized(_ base: UnsafeMutablePointer<Element>?, to count: Int) -> UnsafeMutablePointer<Element> {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
            guard !overflow, let raw = realloc(base, max(bytes, 1)) else { fatalError("out of memory: a table of \(count) values") }
            return raw.bindMemory(to: Element.self, capacity: count)
        }
    }

    private var block = Block()

    init() {}

    var count: Int { block.count }
    var isEmpty: Bool { block.count == 0 }

    subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < block.count, "index \(i) of \(block.count)")
            return block.base![i]
        }
        set {
            precondition(i >= 0 && i < block.count, "index \(i) of \(block.count)")
            makeUnique()
            block.base![i] = newValue
        }
    }

    mutating func append(_ value: Element) {
        makeUnique()
        block.reserve(block.count + 1)
        block.base![block.count] = value
        block.count += 1
    }

    mutating func append(contentsOf values: UnsafeBufferPointer<Element>) {
        guard let source = values.baseAddress, values.count > 0 else { return }
        makeUnique()
        block.reserve(block.count + values.count)
        (block.base! + block.count).update(from: source, count: values.count)
        block.count += values.count
    }

    /// Room for `count` values in all, allocated now (untouched, it costs nothing resident).
    mutating func reserveCapacity(_ count: Int) {
        makeUnique()
        block.reserve(count)
    }

    /// The values from `range`, valid only inside `body`.
    func withUnsafeBufferPointer<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= block.count, "range \(range) of \(block.count)")
        guard let base = block.base else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&block) { block = Block(copying: block) }
    }
}

/// Sendable when its values are: a copy never shares a block it changes.
extension FlatArray: @unchecked Sendable where Element: Sendable {}
