// `metrics_file`'s two writers (MetricsFileParts): the run's lines and the webhook
// deliverer's, each replacing only its own metric families in the file the other wrote.
// An input is a file as found (before the first NUL byte) and, after it, lines to write;
// its first byte picks which part writes first.
//
// Findings: a crash; a merge that loses or reorders a line of the other part, leaves a
// line of the writing part that it replaced, or drops part of the new text; lines counted
// at the text format's "\n" (bytes), not as Swift's Characters, which join "\r\n" into one;
// a write that is not idempotent; the two parts written in either order giving different
// files.
import Foundation
@testable import SISync
import FuzzSupport

/// The text format's lines: split at the byte "\n", empty ones left out (as the merge does).
func lines(_ text: String) -> [String] {
    text.utf8.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
}

func owned(_ line: String, by part: MetricsFileParts.Part) -> Bool {
    part.owns(MetricsFileParts.metricName(of: Substring(line)))
}

/// What a writer hands over: whole lines of its own part, each ending in "\n".
func text(of source: [String], for part: MetricsFileParts.Part) -> String {
    source.filter { owned($0, by: part) }.map { $0 + "\n" }.joined()
}

fuzzMain { data in
    guard let first = data.first else { return }
    let rest = UnsafeBufferPointer(rebasing: data[1...])
    let cut = rest.firstIndex(of: 0) ?? rest.endIndex
    let existing = String(decoding: rest[..<cut], as: UTF8.self)
    let source = lines(String(decoding: rest[(cut == rest.endIndex ? cut : cut + 1)...], as: UTF8.self))
    let (part, other): (MetricsFileParts.Part, MetricsFileParts.Part) = first & 1 == 0 ? (.runs, .webhooks) : (.webhooks, .runs)
    let new = text(of: source, for: part)

    let once = MetricsFileParts.merged(part, new, into: existing)
    guard part == .runs ? once.hasPrefix(new) : once.hasSuffix(new) else {
        finding("\(part) wrote \(new.debugDescription) into \(existing.debugDescription): \(once.debugDescription) lacks it whole")
    }
    let kept = lines(existing).filter { !owned($0, by: part) }
    guard lines(once).filter({ !owned($0, by: part) }) == kept else {
        finding("\(part) into \(existing.debugDescription): the other part's lines \(kept.debugDescription) became \(lines(once).filter { !owned($0, by: part) }.debugDescription)")
    }
    guard lines(once).filter({ owned($0, by: part) }) == lines(new) else {
        finding("\(part) into \(existing.debugDescription): its lines are \(lines(once).filter { owned($0, by: part) }.debugDescription), not \(lines(new).debugDescription)")
    }
    let twice = MetricsFileParts.merged(part, new, into: once)
    guard twice == once else { finding("\(part) writing \(new.debugDescription) twice: \(once.debugDescription), then \(twice.debugDescription)") }

    // Both parts, in either order, make one file: the runs' lines, then the webhooks'.
    let theirs = text(of: source.reversed(), for: other)
    let a = MetricsFileParts.merged(other, theirs, into: once)
    let b = MetricsFileParts.merged(part, new, into: MetricsFileParts.merged(other, theirs, into: existing))
    guard a == b else { finding("\(part) then \(other) gives \(a.debugDescription); \(other) then \(part) gives \(b.debugDescription)") }
}
