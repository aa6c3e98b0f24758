import XCTest
@testable import SISync

/// An export's local files are hashed (R3) on several cores: the digests, their order and
/// any error are those of hashing the files in turn, whichever file finishes first.
final class LocalFileDigestsTests: XCTestCase {
    private func files(_ w: Workspace, _ specs: [(String, Int)]) -> [LocalFileDigests.File] {
        specs.map { name, size in
            let path = w.exportDir + "/" + name
            if size >= 0 {
                // Bytes that differ along the file, over more than one read of 1 MiB.
                w.writeBytes(name, (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
            }
            return LocalFileDigests.File(entity: EntityKind.allCases[specs.firstIndex { $0.0 == name }! % EntityKind.allCases.count], path: path, name: name)
        }
    }

    func testR3DigestsAreEachFilesInTheConfiguredOrder() throws {
        let w = Workspace()
        let list = files(w, [("a.csv", 10), ("b.csv", 3 << 20), ("c.csv", 0), ("d.csv", (1 << 20) + 7), ("e.csv", 5000)])
        let got = try LocalFileDigests(files: list, maxBytes: 1 << 30, stop: nil).compute()
        XCTAssertEqual(got.map(\.name), list.map(\.name))
        XCTAssertEqual(got.map(\.entity), list.map(\.entity))
        for (f, file) in zip(got, list) {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file.path)))
            XCTAssertEqual(f.sha256, SHA256.hex(of: bytes), f.name)
            XCTAssertEqual(f.bytes, Int64(bytes.count), f.name)
            XCTAssertEqual(f.sha256, try ExportFetcher.hashLocal(path: file.path, name: file.name, entity: file.entity, temporary: false, maxBytes: 1 << 30).sha256)
            XCTAssertFalse(f.isTemporary)
        }
    }

    /// Only an export of local files (paths or `file://` URLs) is hashed this way; with a
    /// download or a location sisync does not read among them, the files are fetched in
    /// turn as before, so the first location's error is still the one reported.
    func testR3OnlyLocalFilesAreHashedTogether() {
        let local = ExportFetcher.localFiles([(.staff, "/data/staff.csv"), (.students, "file:///data/students.csv")])
        XCTAssertEqual(local?.map(\.path), ["/data/staff.csv", "/data/students.csv"])
        XCTAssertEqual(local?.map(\.name), ["/data/staff.csv", "file:///data/students.csv"])
        XCTAssertNil(ExportFetcher.localFiles([(.staff, "/data/missing.csv"), (.students, "ftp://host/students.csv")]))
        XCTAssertNil(ExportFetcher.localFiles([(.staff, "/data/staff.csv"), (.students, "https://sis.example.org/students.csv")]))
        XCTAssertNil(ExportFetcher.localFiles([(.staff, "file://host name/staff.csv")]))
    }

    func testR3TheFirstFilesErrorIsReportedWhicheverFailsFirst() throws {
        let w = Workspace()
        // The largest file (hashed first) is over the limit; an earlier one is missing.
        let list = files(w, [("a.csv", 10), ("missing.csv", -1), ("b.csv", 100), ("big.csv", 3 << 20)])
        XCTAssertThrowsError(try LocalFileDigests(files: list, maxBytes: 2 << 20, stop: nil).compute()) { e in
            guard case .unreadableFile(let path, _)? = e as? FetchError else { return XCTFail("\(e)") }
            XCTAssertEqual(path, w.exportDir + "/missing.csv")
        }
        XCTAssertThrowsError(try LocalFileDigests(files: list.filter { $0.name != "missing.csv" }, maxBytes: 2 << 20, stop: nil).compute()) { e in
            guard case .tooLarge(let url, let limit)? = e as? FetchError else { return XCTFail("\(e)") }
            XCTAssertEqual(url, "big.csv")
            XCTAssertEqual(limit, 2 << 20)
        }
        let stop = StopSignal()
        stop.stop()
        XCTAssertThrowsError(try LocalFileDigests(files: list, maxBytes: 2 << 20, stop: stop).compute()) { e in
            guard case .aborted(let url)? = e as? FetchError else { return XCTFail("\(e)") }
            XCTAssertEqual(url, "a.csv", "a stop is the first file's")
        }
    }
}
