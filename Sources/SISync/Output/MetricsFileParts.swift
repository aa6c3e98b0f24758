import Foundation

/// `metrics_file` is written by two parts of sisyncd: the run (after every run, and a
/// standby at every poll) and the webhook deliverer (its endpoints' lag, every few seconds
/// while it delivers). Each replaces only its own metric families and keeps the other's, as
/// the file has them, so that neither erases the other's, also when the run was another
/// process's (`sisyncctl sync`). Writes in this process take turns; the file is replaced
/// atomically (`MetricsFile.write`).
public enum MetricsFileParts {
    public enum Part: Sendable {
        /// Everything but the webhook families.
        case runs
        /// `sisync_webhook_*`.
        case webhooks

        func owns(_ metric: Substring) -> Bool {
            metric.hasPrefix("sisync_webhook_") == (self == .webhooks)
        }
    }

    private static let turns = NSLock()

    /// Writes `text` as the file's `part`, keeping the other part's lines from the file.
    public static func write(_ part: Part, _ text: String, to path: String) throws(MetricsFileError) {
        turns.lock()
        defer { turns.unlock() }
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        try MetricsFile.write(merged(part, text, into: existing), to: path)
    }

    /// The file's text with `part`'s lines replaced by `text` and the other part's kept, in
    /// their order: the runs' first, then the webhooks'. Pure, for the fuzz harness
    /// (`make fuzz`, `metrics-file`).
    static func merged(_ part: Part, _ text: String, into existing: String) -> String {
        // Lines end at the scalar "\n", as the text format says: split as Characters, a
        // "\r\n" is one, and the line after a stray "\r" went with the line before it (kept
        // or dropped as that line's part: `make fuzz` found it).
        let lines = existing.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true).map(Substring.init)
        let kept = lines.filter { !part.owns(metricName(of: $0)) }
        let others = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        return part == .runs ? text + others : others + text
    }

    /// The webhook deliverer's lines: a failure is a warning (delivery goes on).
    static func writeWebhooks(_ text: String, to path: String, log: EventLog) {
        do { try write(.webhooks, text, to: path) } catch {
            log.log(LogEvent(.webhookFailed, .warning, "cannot write the webhooks' lines of the metrics file \(error.description)"))
        }
    }

    /// The metric a line of the text format is about: the name after `# HELP`/`# TYPE`, or
    /// the sample's name before its labels or value.
    static func metricName(of line: Substring) -> Substring {
        if line.hasPrefix("#") {
            let words = line.split(separator: " ", maxSplits: 3)
            return words.count >= 3 ? words[2] : ""
        }
        return line.prefix { $0 != "{" && $0 != " " }
    }
}
