import CZlib
import Foundation
import XCTest
@testable import SISync

/// Writes small zip files for tests: stored or deflated entries (zlib), an optional comment.
struct TestZipWriter {
    struct Item { var name: String; var data: [UInt8]; var deflate = true; var flags: UInt16 = 0; var method: UInt16? = nil }
    var items: [Item] = []
    var comment = ""

    mutating func add(_ name: String, _ text: String, deflate: Bool = true) { items.append(Item(name: name, data: Array(text.utf8), deflate: deflate)) }

    static func deflate(_ data: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(sisync_deflate_init_raw(&stream, 6) == Z_OK)
        defer { deflateEnd(&stream) }
        var input = data
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(data.count))) + 64)
        let n = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o -> Int in
                stream.next_in = i.baseAddress
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                precondition(CZlib.deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out[0..<n])
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func le16(_ v: Int, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: UInt32, _ a: inout [UInt8]) { a += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        for item in items {
            let crc = item.data.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            let payload = item.deflate ? Self.deflate(item.data) : item.data
            let method = item.method ?? (item.deflate ? 8 : 0)
            let offset = UInt32(out.count)
            let name = Array(item.name.utf8)
            le32(0x0403_4B50, &out); le16(20, &out); le16(Int(item.flags), &out); le16(Int(method), &out); le16(0, &out); le16(0, &out)
            le32(crc, &out); le32(UInt32(payload.count), &out); le32(UInt32(item.data.count), &out); le16(name.count, &out); le16(0, &out)
            out += name + payload
            le32(0x0201_4B50, &central); le16(20, &central); le16(20, &central); le16(Int(item.flags), &central); le16(Int(method), &central)
            le16(0, &central); le16(0, &central); le32(crc, &central); le32(UInt32(payload.count), &central); le32(UInt32(item.data.count), &central)
            le16(name.count, &central); le16(0, &central); le16(0, &central); le16(0, &central); le16(0, &central); le32(0, &central)
            le32(offset, &central)
            central += name
        }
        let cdOffset = UInt32(out.count)
        out += central
        le32(0x0605_4B50, &out); le16(0, &out); le16(0, &out); le16(items.count, &out); le16(items.count, &out)
        le32(UInt32(central.count), &out); le32(cdOffset, &out); le16(comment.utf8.count, &out)
        out += Array(comment.utf8)
        return out
    }
}

final class ZipArchiveTests: XCTestCase {
    private func archive(_ w: Workspace, _ zip: TestZipWriter, name: String = "b.zip") throws -> ZipArchive {
        w.writeBytes(name, zip.bytes())
        return try ZipArchive(path: w.exportDir + "/" + name)
    }

    func testStoredAndDeflatedEntriesRoundTripInSeveralChunks() throws {
        let w = Workspace()
        let big = (0..<20_000).map { "u\($0),active,,true,sch1,teacher,n\($0),,Given\($0),Family,,,n\($0)@district.org\n" }.joined()
        var zip = TestZipWriter()
        zip.add("bundle/users.csv", big)
        zip.add("bundle/manifest.csv", "propertyName,value\n", deflate: false)
        zip.comment = "exported by a SIS"
        let a = try archive(w, zip)
        let directory = try RunDirectory(in: w.root)
        XCTAssertGreaterThan(big.utf8.count, 1_000_000, "several 256 KiB chunks")
        for (base, text) in [("USERS.csv", big), ("manifest.csv", "propertyName,value\n")] {
            let entry = try XCTUnwrap(a.entry(baseName: base))
            let out = try a.extract(entry, into: directory, name: "out", maxBytes: 1 << 30)
            XCTAssertEqual(try String(contentsOfFile: out.path, encoding: .utf8), text)
        }
    }

    func testMacOSMetadataIsIgnoredAndTheShallowestNameWins() throws {
        let w = Workspace()
        var zip = TestZipWriter()
        zip.add("__MACOSX/bundle/._users.csv", "junk")
        zip.add("bundle/deeper/users.csv", "deep")
        zip.add("bundle/users.csv", "right")
        let a = try archive(w, zip)
        XCTAssertEqual(a.entry(baseName: "users.csv")?.name, "bundle/users.csv")
        XCTAssertNil(a.entry(baseName: "roles.csv"))
    }

    func testDamagedArchivesFailWithoutLeavingAFile() throws {
        let w = Workspace()
        var zip = TestZipWriter()
        zip.add("users.csv", "sourcedId\nu1\n", deflate: false)
        var bytes = zip.bytes()
        bytes[30 + "users.csv".utf8.count] ^= 0x20   // one byte of the stored data
        w.writeBytes("crc.zip", bytes)
        let a = try ZipArchive(path: w.exportDir + "/crc.zip")
        let directory = try RunDirectory(in: w.root)
        XCTAssertThrowsError(try a.extract(a.entries[0], into: directory, name: "out", maxBytes: 1 << 20)) { e in
            guard case .corrupt(_, _, let reason)? = e as? ZipError else { return XCTFail("\(e)") }
            XCTAssertTrue(reason.contains("CRC"), reason)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])

        let big = try archive(w, { var z = TestZipWriter(); z.add("users.csv", String(repeating: "x", count: 10_000)); return z }(), name: "big.zip")
        XCTAssertThrowsError(try big.extract(big.entries[0], into: directory, name: "out", maxBytes: 4096)) { e in
            guard case .tooLarge? = e as? ZipError else { return XCTFail("\(e)") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])

        w.write("plain.zip", "sourcedId,status\nu1,active\n")
        XCTAssertThrowsError(try ZipArchive(path: w.exportDir + "/plain.zip")) { e in
            XCTAssertEqual(e as? ZipError, .notAZip(path: w.exportDir + "/plain.zip"))
        }
        let whole = zip.bytes()
        w.writeBytes("cut.zip", Array(whole[0..<(whole.count - 30)]))
        XCTAssertThrowsError(try ZipArchive(path: w.exportDir + "/cut.zip"))
    }

    func testUnsupportedMethodsAndEncryptionAreRefused() throws {
        let w = Workspace()
        var zip = TestZipWriter()
        zip.items.append(.init(name: "bzip.csv", data: Array("x".utf8), deflate: false, method: 12))
        zip.items.append(.init(name: "secret.csv", data: Array("x".utf8), deflate: false, flags: 1))
        let a = try archive(w, zip)
        let directory = try RunDirectory(in: w.root)
        for e in a.entries {
            XCTAssertThrowsError(try a.extract(e, into: directory, name: "out", maxBytes: 1 << 20)) { error in
                guard case .unsupported(_, _, let reason)? = error as? ZipError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains(e.name == "bzip.csv" ? "method 12" : "encrypted"), reason)
            }
        }
    }
}
