// The zip reader for OneRoster bundles: ZipArchive(path:) (end record, central directory)
// and extract(_:into:name:maxBytes:) into a run's private directory (local header, stored and deflate through zlib, size and
// CRC-32 checks), on the entries fetchZipBundle would unpack plus the first few others.
//
// ZipArchive throws(ZipError), so a foreign error type cannot arise. Findings: a crash, a
// hang, runaway memory, an extracted file that is not the size the directory says or
// exceeds maxBytes, or a failed extraction that leaves its partial file behind.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import SISync
import FuzzSupport

let maxBytes: Int64 = 1 << 20
let wanted = ["manifest.csv"] + OneRosterFile.allCases.map(\.fileName)
let runDirectory: RunDirectory = {
    do { return try RunDirectory(in: scratchDirectory) } catch { finding("harness: cannot make a run directory: \(error)") }
}()

/// What the run directory holds (a failed extraction must leave nothing behind).
func leftovers() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? [] }

fuzzMain { data in
    let path = writeScratch("bundle.zip", data)
    let archive: ZipArchive
    do { archive = try ZipArchive(path: path) } catch is ZipError { return } catch {
        finding("ZipArchive(path:) threw \(type(of: error)): \(error)")
    }
    var picked: [ZipArchive.Entry] = []
    for name in wanted { if let e = archive.entry(baseName: name) { picked.append(e) } }
    for e in archive.entries.prefix(4) where !picked.contains(e) { picked.append(e) }
    _ = archive.entry(named: "manifest.csv")
    for e in picked {
        do {
            let out = try archive.extract(e, into: runDirectory, name: "entry.out", maxBytes: maxBytes)
            defer { runDirectory.remove(out) }
            var st = stat()
            guard stat(out.path, &st) == 0 else { finding("ZipArchive: \(e.name) extracted, but \(out.shownAs) is missing") }
            guard Int64(st.st_size) == e.uncompressedSize, Int64(st.st_size) <= maxBytes else {
                finding("ZipArchive: \(e.name) extracted to \(st.st_size) bytes; directory says \(e.uncompressedSize), limit \(maxBytes)")
            }
        } catch let error as ZipError {
            if case .cannotWrite = error { continue }
            let left = leftovers()
            if !left.isEmpty { finding("ZipArchive: extracting \(e.name) failed (\(error)) but left \(left) behind") }
        } catch {
            finding("ZipArchive.extract threw \(type(of: error)): \(error)")
        }
    }
}
