/// The staff ids that the Admissions Evaluator rule's `;`-separated lists name (R7), taken
/// list by list as the applicants are read, and given back each once, in byte order, for
/// `temp.evaluator_staff`.
///
/// Why one buffer of bytes and a number per id, not arrays: kept as every list
/// read (an array each) and then a set of every id (an array each), the names of five times
/// a district's applicants were 12 MB of small allocations at the peak of its first run,
/// which grew with the district (issue 34). Here they are the lists' bytes once and two
/// numbers per id while they are sorted; the duplicates go then.
///
/// Split by bytes, as `RoleRules.listItems` splits by characters: `;` is one byte in UTF-8
/// and no other character contains it. Empty values are none. Ids are compared by their
/// bytes, as the temporary table's key compares them (Swift's `String` would take two
/// spellings of an accented letter for one).
struct EvaluatorNames {
    private var bytes: [UInt8] = []
    /// Where each id ends in `bytes`; it starts where the one before it ends.
    private var ends: [Int] = []

    var isEmpty: Bool { ends.isEmpty }

    /// Adds the ids of one list.
    mutating func add(list: UnsafeBufferPointer<UInt8>) {
        for value in list.split(separator: UInt8(ascii: ";")) {
            bytes.append(contentsOf: value)
            ends.append(bytes.count)
        }
    }

    /// Each id once, in byte order.
    func forEachOnce(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { all in
            func id(_ i: Int) -> UnsafeBufferPointer<UInt8> {
                let start = i == 0 ? 0 : ends[i - 1]
                return UnsafeBufferPointer(rebasing: all[start..<ends[i]])
            }
            var order = Array(0..<ends.count)
            order.sort { id($0).lexicographicallyPrecedes(id($1)) }
            var previous: UnsafeBufferPointer<UInt8>?
            for i in order {
                let value = id(i)
                if let previous, previous.elementsEqual(value) { continue }
                try body(value)
                previous = value
            }
        }
    }
}
