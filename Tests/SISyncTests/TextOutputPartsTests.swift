import Foundation
import XCTest
@testable import SISync
@testable import SISyncControl

/// The parts of issue 28's text output, one by one: local times, escaped text, tables
/// that fit, the terminal's width, the actor.
final class TextOutputPartsTests: XCTestCase {
    func testLocalTimeSaysTheZoneOrItsOffset() {
        XCTAssertEqual(LocalTime.format(year: 2026, month: 12, day: 6, hour: 10, minute: 18, zone: "CET", offset: 3600), "2026-12-06 10:18 CET")
        XCTAssertEqual(LocalTime.format(year: 2026, month: 3, day: 1, hour: 7, minute: 5, zone: "-03", offset: -10800), "2026-03-01 07:05 UTC-03:00")
        XCTAssertEqual(LocalTime.format(year: 2026, month: 3, day: 1, hour: 7, minute: 5, zone: "", offset: 19800), "2026-03-01 07:05 UTC+05:30")
        XCTAssertEqual(LocalTime.text(stored: "2026-05-01"), "2026-05-01", "a date is no time")
        XCTAssertEqual(LocalTime.text(stored: "-"), "-")
    }

    func testPrintableTextEscapesControlCharactersAndClips() {
        XCTAssertEqual(PrintableText.line("a\u{1b}[31mb\nc\td\r\u{7f}\u{85}é"), "a\\u{1B}[31mb\\nc\\td\\r\\u{7F}\\u{85}é")
        XCTAssertEqual(PrintableText.line(String(repeating: "x", count: 20), limit: 5), "xxxx…")
        XCTAssertEqual(PrintableText.line("short", limit: 5), "short")
    }

    func testTableCutsTheWidestTextColumnToFit() {
        var t = TextTable(["id", "name", "note"])
        t.add(["12345", "Maximiliana Vandersloot", "x"])
        t.add(["7", "Al", "a somewhat longer note here"])
        XCTAssertEqual(t.rendered(width: nil), """
            id     name                     note
            12345  Maximiliana Vandersloot  x
            7      Al                       a somewhat longer note here

            """)
        let fitted = t.rendered(width: 40)
        XCTAssertEqual(fitted, """
            id     name             note
            12345  Maximiliana Va…  x
            7      Al               a somewhat long…

            """)
        for line in fitted.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 40, "\(line)") }
        var whole = TextTable(["started", "error"], whole: ["started"])
        whole.add(["2026-12-06 10:18 CET", "a long error text that is cut first"])
        XCTAssertEqual(whole.rendered(width: 32), "started               error\n2026-12-06 10:18 CET  a long er…\n")
        var cells = TextTable(["a", "b"])
        cells.add(["x\ny", "\u{1b}[2J"])
        XCTAssertEqual(cells.rendered(width: nil), "a     b\nx\\ny  \\u{1B}[2J\n")
    }

    func testTerminalWidthIsCOLUMNSThenTheTerminalThen80() {
        XCTAssertEqual(TerminalWidth.columns(environment: ["COLUMNS": "40"], terminalColumns: 120), 40)
        XCTAssertEqual(TerminalWidth.columns(environment: ["COLUMNS": "wide"], terminalColumns: 120), 120)
        XCTAssertEqual(TerminalWidth.columns(environment: [:], terminalColumns: nil), 80)
    }

    func testActorIsSudoUserThenUserThenTheAccount() {
        XCTAssertEqual(CommandActor.name(environment: ["SUDO_USER": "alice", "USER": "root"], uid: 0), "alice")
        XCTAssertEqual(CommandActor.name(environment: ["USER": "bob"], uid: 0), "bob")
        XCTAssertEqual(CommandActor.name(environment: ["USER": ""], uid: 0), "root")
        XCTAssertEqual(CommandActor.name(environment: [:], uid: 0), "root")
        XCTAssertEqual(CommandActor.name(environment: [:], uid: 3_999_999), "uid 3999999")
    }
}
