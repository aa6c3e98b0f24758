// The native CSV reader (docs/export-format.md): CSVReader, the streaming RFC 4180 state machine, and
// CSVEntityReader, which reads one entity's file (header mapping, R2 row rules, duplicate
// ids, the invalid-row limit) as ExportSnapshot.read does for each native CSV file.
//
// Passes when every call returns rows or throws ExportError. Also a finding: the same
// bytes fed in one chunk and in several chunks giving different records or errors
// (InputFile reads 1 MiB chunks, so real files are split at arbitrary bytes); and the rows
// sorted in memory differing from the same rows sorted in runs spilled to a run directory
// and merged (issue 34: a 64-byte buffer makes a run of almost every row), the spilled read
// also keeping only the first few problems (a file accepted with more is read again).
import Foundation
@testable import SISync
import FuzzSupport

struct Record: Equatable { var fields: [[UInt8]]; var line: Int }
enum Outcome: Equatable { case records([Record]), failed(ExportError) }

func records(_ data: UnsafeBufferPointer<UInt8>, splits: [Int]) -> Outcome {
    var reader = CSVReader(file: "fuzz.csv")
    var out: [Record] = []
    let collect: (CSVRecord) throws -> Void = { r in
        guard r.count >= 1 else { finding("CSVReader handed out a record with no field (line \(r.line))") }
        out.append(Record(fields: (0..<r.count).map { Array(r.field($0)) }, line: r.line))
    }
    do {
        var start = 0
        for end in splits + [data.count] {
            try reader.feed(UnsafeBufferPointer(rebasing: data[start..<end]), onRecord: collect)
            start = end
        }
        try reader.finish(onRecord: collect)
        return .records(out)
    } catch let e as ExportError {
        return .failed(e)
    } catch {
        finding("CSVReader threw \(type(of: error)): \(error)")
    }
}

/// What a read gave, to compare the in-memory sort with the spilled one.
struct Read: Equatable { var keys: [String]; var values: [[String]]; var protected: Set<String>; var problems: Int }
enum ReadOutcome: Equatable { case rows(Read), failed(String) }
let spillDirectory = try! RunDirectory(in: NSTemporaryDirectory())

func read(_ kind: EntityKind, path: String, limit: InvalidRowLimit, spill: RunDirectory?, keptFirst: Int) -> ReadOutcome {
    var reader = CSVEntityReader(kind: kind, limit: limit, spill: spill)
    reader.runBudget = 64
    reader.problemsKeptFirst = keptFirst
    do {
        let rows = try reader.read(path: path, name: kind.rawValue + ".csv")
        if rows.problemCount > limit.allowed(rows: rows.rowsRead) {
            finding("CSVEntityReader(\(kind)): \(rows.problemCount) problems returned, limit \(limit)")
        }
        if rows.problemCount != rows.problems.count {
            finding("CSVEntityReader(\(kind)): accepted with \(rows.problemCount) problems, \(rows.problems.count) kept")
        }
        return .rows(Read(keys: rows.keys, values: (0..<rows.count).map(rows.values), protected: rows.protectedKeys, problems: rows.problems.count))
    } catch let e as ExportError {
        return .failed("\(e)")
    } catch {
        finding("CSVEntityReader(\(kind)) threw \(type(of: error)): \(error)")
    }
}

/// The one difference the kept problems may make: a duplicate id the full read reports, in
/// a file that also has more invalid rows than its limit, past those kept.
func refusedForItsCountFirst(_ all: ReadOutcome, _ counted: ReadOutcome) -> Bool {
    guard case .failed(let a) = all, case .failed(let c) = counted else { return false }
    return a.contains("appears twice") && c.contains("rows are invalid, more than max_invalid_rows allows")
}

fuzzMain { data in
    // 1. One chunk against up to four chunks split where the input's hash says.
    let whole = records(data, splits: [])
    if data.count > 1 {
        var h = inputHash(data)
        var splits: [Int] = []
        for _ in 0..<(1 + Int(h % 4)) {
            h = h &* 6364136223846793005 &+ 1442695040888963407
            splits.append(Int((h >> 33) % UInt64(data.count)))
        }
        splits.sort()
        let split = records(data, splits: splits)
        if split != whole {
            finding("CSVReader: chunks split at \(splits) give \(split), one chunk gives \(whole)")
        }
    }

    // 2. The entity reader, for every entity whose required columns can be in the header
    //    (without them mapHeader throws missingColumn at once), and always for staff.
    //    The spilled read keeps 0 to 3 problems before counting the rest (issue 34), so
    //    that a file accepted with more is read again: it must give what keeping them all
    //    gives, except that a file refused for its count past the kept ones is refused so
    //    before its ids are checked for a duplicate.
    let path = writeScratch("input.csv", data)
    let h = inputHash(data)
    let limit: InvalidRowLimit = h & 1 == 0 ? .percent(1) : .count(Int((h >> 1) % 8))
    let keptFirst = Int((h >> 4) % 4)
    let lower = asciiLowercased(data)
    for kind in EntityKind.allCases
    where kind == .staff || kind.requiredColumns.allSatisfy({ contains(lower, $0) }) {
        let memory = read(kind, path: path, limit: limit, spill: nil, keptFirst: Int.max)
        let spilled = read(kind, path: path, limit: limit, spill: spillDirectory, keptFirst: keptFirst)
        if memory != spilled, !refusedForItsCountFirst(memory, spilled) {
            finding("CSVEntityReader(\(kind)): sorted in memory \(memory), spilled and merged (\(keptFirst) problems kept) \(spilled)")
        }
    }
}
