// OneRoster REST pages (README, "Connecting to OneRoster"): OneRosterAPIPage.read for every collection, in the
// order the fetcher reads them, into one roster (imsx_StatusInfo failures, collection
// keys in any case, values as strings or numbers or booleans), then
// OneRosterTranslation.translate, as ExportSnapshot.read does for `format = oneroster-rest`.
// One input is read as a page of each collection: `{"orgs": [...], "users": [...]}`.
// The same input is also read as the page's `Link` header (LinkHeader, which finds the
// next page): every target read must appear verbatim between `<` and `>` in the input, in
// order; written out again the links read back the same; two header lines joined with ", "
// give the links twice.
//
// The roster is read twice: as the fetcher reads it for a run (users written to a file of a
// run's directory, enrollments judged as they arrive) and with both held, as before issue
// 34; both must translate to the same records, problems and notices, or the same error.
//
// Passes when each call returns or throws OneRosterError or ExportError.
import Foundation
@testable import SISync
import FuzzSupport

/// A fixed day and school year, so that a saved input replays the same way.
func translation() -> OneRosterTranslation {
    OneRosterTranslation(schoolYear: "2026-2027", yearStart: (7, 1), today: OneRosterDay(year: 2026, month: 9, day: 1),
                         entities: Set(OneRosterTranslation.kinds), limit: .percent(1), stored: { _, _ in nil })
}

/// Where `needle` (which starts with `<`) occurs in `haystack` at or after `from`.
func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
    var i = from
    while let at = haystack[min(i, haystack.count)...].firstIndex(of: needle[0]) {
        if haystack.count - at >= needle.count, haystack[at..<(at + needle.count)].elementsEqual(needle) { return at }
        i = at + 1
    }
    return nil
}

/// The links as one header again: parameters quoted, `"` and `\` escaped (per scalar: a
/// `"` followed by a combining mark is one Character, which `replacingOccurrences` misses).
func written(_ links: [LinkHeader.Link]) -> String {
    func quoted(_ value: String) -> String {
        var out = String.UnicodeScalarView()
        for c in value.unicodeScalars {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return "\"" + String(out) + "\""
    }
    return links.map { link in
        (["<\(link.target)>"] + link.parameters.map { "\($0.name)=\(quoted($0.value))" }).joined(separator: "; ")
    }.joined(separator: ", ")
}

func checkLinkHeader(_ data: UnsafeBufferPointer<UInt8>) {
    let field = String(decoding: data, as: UTF8.self)
    let bytes = Array(field.utf8)
    let header = LinkHeader(field)
    var from = 0
    for link in header.links {
        guard !link.target.utf8.contains(UInt8(ascii: ">")) else { finding("LinkHeader: target \(link.target.debugDescription) holds `>`") }
        let bracketed = Array("<\(link.target)>".utf8)
        guard let at = find(bracketed, in: bytes, from: from) else {
            finding("LinkHeader: target \(link.target.debugDescription) is not verbatim between < and > (in order) in \(field.debugDescription)")
        }
        from = at + bracketed.count
        for p in link.parameters where p.name.isEmpty || p.name != p.name.lowercased() || p.name.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || Array(#"(),/:;<=>?@[\]{}""#.utf8).contains($0) }) {
            finding("LinkHeader: parameter name \(p.name.debugDescription) is not a lower-case token")
        }
        let rel = link.parameters.first { $0.name == "rel" }?.value ?? ""
        guard link.relations == Array(rel.utf8).split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map({ String(decoding: $0, as: UTF8.self).lowercased() }) else {
            finding("LinkHeader: relations \(link.relations) are not the first rel \(rel.debugDescription)")
        }
    }
    if let next = header.next, header.links.first(where: { $0.relations.contains("next") })?.target != next {
        finding("LinkHeader: next \(next.debugDescription) is not the first link with rel next")
    }
    let again = LinkHeader(written(header.links))
    guard again.links == header.links, again.unreadable.isEmpty else {
        finding("LinkHeader: \(written(header.links).debugDescription) reads back as \(again.links), unreadable \(again.unreadable)")
    }
    if header.unreadable.isEmpty {
        let twice = LinkHeader(field + ", " + field)
        guard twice.links == header.links + header.links, twice.unreadable.isEmpty else {
            finding("LinkHeader: two lines of \(field.debugDescription) joined read as \(twice.links.count) links, unreadable \(twice.unreadable)")
        }
    }
}

/// The run's directory the spilled users go to, one for the whole session.
let directory: RunDirectory = {
    do { return try RunDirectory(in: scratchDirectory) } catch { finding("RunDirectory: \(error)") }
}()

/// The page read as every collection into one roster, users spilled or held, then translated:
/// its records, problems and notices, or the error.
func readAndTranslate(_ body: Data, version: OneRosterManifest.Version, spilled: Bool) -> String {
    let t = translation()
    var roster = OneRosterRoster(version: version, modes: Dictionary(uniqueKeysWithValues: OneRosterAPIPage.collections.map { ($0, .bulk) }))
    roster.usersSource = "https://sis.example/ims/oneroster/v1p1/users"
    var file: RunFile?
    defer { if let file { directory.remove(file) } }
    if spilled {
        do { file = try directory.create("users.spill") } catch { finding("RunDirectory.create: \(error)") }
        roster.userSpill = OneRosterUserSpill(file: file!)
        roster.enrollmentRule = t.enrollmentRule
    }
    var outcome: [String] = []
    var read = 0
    for collection in OneRosterAPIPage.collections {
        do {
            let n = try OneRosterAPIPage.read(body, collection: collection, url: "https://sis.example/\(collection.rawValue)",
                                              firstIndex: 0, into: &roster)
            // As the fetcher does after the users' last page.
            if collection == .users { try roster.refuseDuplicateUsers() }
            guard n >= 0 else { finding("OneRosterAPIPage.read returned \(n)") }
            outcome.append("\(collection): \(n)")
            read += 1
        } catch is OneRosterError {
            outcome.append("\(collection): OneRosterError")
        } catch let e as ExportError {
            outcome.append("\(collection): \(e)")
        } catch {
            finding("OneRosterAPIPage.read(\(collection)) threw \(type(of: error)): \(error)")
        }
    }
    guard read > 0 else { return outcome.joined(separator: "\n") }
    do {
        let (rows, notices) = try t.translate(roster)
        for kind in rows.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let r = rows[kind]!
            outcome.append("\(kind): \((0..<r.count).map { "\(r.key($0)) \(r.values($0)) \(r.isInactive($0))" })")
            outcome.append("problems \(r.problemCount) \(r.problems.map { "\($0.file):\($0.location) \($0.column ?? "-") \($0.id ?? "-") \($0.message)" })")
            outcome.append("protected \(r.protectedKeys.sorted())")
        }
        outcome += notices.lines
    } catch is OneRosterError {
        outcome.append("translate: OneRosterError")
    } catch let e as ExportError {
        outcome.append("translate: \(e)")
    } catch {
        finding("OneRosterTranslation.translate threw \(type(of: error)): \(error)")
    }
    return outcome.joined(separator: "\n")
}

fuzzMain { data in
    checkLinkHeader(data)
    let body = Data(buffer: data)
    let version: OneRosterManifest.Version = inputHash(data) & 1 == 0 ? .v1_1 : .v1_2
    let held = readAndTranslate(body, version: version, spilled: false)
    let spilled = readAndTranslate(body, version: version, spilled: true)
    if spilled != held { finding("spilled:\n\(spilled)\nheld:\n\(held)") }
}
