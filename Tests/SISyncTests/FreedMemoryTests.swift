import XCTest
@testable import SISync

/// Issue 34: between a run's phases the heap's free pages go back to the kernel, so the
/// parse's freed buffers are not resident through the apply transaction.
final class FreedMemoryTests: XCTestCase {
    private func residentAnonymousMB() throws -> Double {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    func testFreedHeapPagesAreReturnedAfterAPhase() throws {
        // 64 MiB in 32 KiB blocks (below glibc's mmap threshold, so on the heap), each
        // written; every other one is freed while its neighbours stay, so that no freed
        // block can join the top of the heap (which free() gives back by itself): 32 MiB
        // free but resident, as the parse's buffers were among what the plan keeps.
        let block = 32 << 10
        let blocks = (0..<2048).map { _ -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 16)
            p.initializeMemory(as: UInt8.self, repeating: 0x5A, count: block)
            return p
        }
        defer { for (i, p) in blocks.enumerated() where i % 2 == 1 { p.deallocate() } }
        for (i, p) in blocks.enumerated() where i % 2 == 0 { p.deallocate() }
        let before = try residentAnonymousMB()
        FreedMemory.returnToSystem()
        let after = try residentAnonymousMB()
        XCTAssertGreaterThan(before - after, 16, "resident before \(before) MB, after \(after) MB")
    }
}
