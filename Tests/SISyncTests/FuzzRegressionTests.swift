import XCTest
@testable import SISync

/// Inputs that `make fuzz` (Fuzz/) found crashing a reader, minimised. Each must now end
/// in the reader's own typed error.
final class FuzzRegressionTests: XCTestCase {
    private func expectBadValue(_ text: String, key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Configuration.parse(text: text, path: "/etc/sisync/sisync.conf"), file: file, line: line) { error in
            guard case ConfigError.badValue(_, _, _, let k, _, _) = error else {
                return XCTFail("expected badValue for \(key), got \(error)", file: file, line: line)
            }
            XCTAssertEqual(k, key, file: file, line: line)
        }
    }

    /// FuzzConfig crash (minimised, 57 bytes): 2.2e16 h parsed, then printing the duration
    /// trapped converting 8e19 seconds to Int (ConfigDuration.description).
    func testConfigWithHugeDeactivateAfterIsRefused() {
        expectBadValue("[sync]\ndeactivate_after=22222222222222222h\n[source]\nurl=a", key: "deactivate_after")
    }

    /// sisyncd logs "every \(interval)" at start: 1e19s trapped there; curl's millisecond
    /// timeout trapped the same way for a huge timeout.
    func testConfigWithIntervalOrTimeoutBeyondTenYearsIsRefused() throws {
        expectBadValue("[sync]\ninterval = 1e19s\n[source]\nurl = a", key: "interval")
        expectBadValue("[source]\nurl = a\ntimeout = 87601h", key: "timeout")
        let c = try Configuration.parse(text: "[sync]\ndeactivate_after = 87600h\n[source]\nurl = a", path: "/etc/sisync/sisync.conf")
        XCTAssertEqual(c.deactivateAfter.description, "87600h", "ten years is still accepted")
    }

    func testDurationDescriptionBeyondIntRangeDoesNotTrap() {
        XCTAssertEqual(ConfigDuration(seconds: 8e19).description, "8e+19s")
        XCTAssertEqual(ConfigDuration(seconds: .infinity).description, "infs")
        XCTAssertEqual(ConfigDuration(seconds: 7200).description, "2h")
    }

    /// FuzzConfig: `a + 1` overflowed before the four-digit check (Configuration.parse).
    func testConfigWithSchoolYearNearIntMaxIsRefused() {
        expectBadValue("[sync]\nschool_year=9223372036854775807-1\n[source]\nurl=a", key: "school_year")
    }

    /// FuzzMetricsFile (minimised by hand from a 100-byte finding): a run's line after a line
    /// ending in "\r" was split off as one Swift Character "\r\n" with the line before it,
    /// so the webhook deliverer's write dropped the run's line with its own, and the run's
    /// write kept its stale line. Lines end at "\n", whatever comes before it.
    func testMetricsFileLinesEndAtNewlineAfterACarriageReturn() {
        let found = "sisync_webhook_lag_events{endpoint=\"app\"} 3\r\nsisync_active 1\n"
        XCTAssertEqual(MetricsFileParts.merged(.webhooks, "sisync_webhook_lag_events{endpoint=\"app\"} 0\n", into: found),
                       "sisync_active 1\nsisync_webhook_lag_events{endpoint=\"app\"} 0\n", "the run's line is kept")
        XCTAssertEqual(MetricsFileParts.merged(.runs, "sisync_active 0\n", into: found),
                       "sisync_active 0\nsisync_webhook_lag_events{endpoint=\"app\"} 3\r\n", "the run's old line is replaced, the webhooks' kept")
    }

    /// The tenants' combined metrics file split its parts into Swift Characters too: a
    /// tenant's line ending in "\r" took the next line with it, so that metric lost its
    /// tenant label and its own name.
    func testCombinedMetricsLinesEndAtNewlineAfterACarriageReturn() {
        let text = MetricsFile.combined([(tenant: "north", text: "sisync_runs_total 3\r\nsisync_active 1\n")])
        XCTAssertEqual(text, "sisync_runs_total{tenant=\"north\"} 3\r\nsisync_active{tenant=\"north\"} 1\n")
    }
}
