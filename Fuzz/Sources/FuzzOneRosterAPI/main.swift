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

fuzzMain { data in
    checkLinkHeader(data)
    let body = Data(buffer: data)
    let version: OneRosterManifest.Version = inputHash(data) & 1 == 0 ? .v1_1 : .v1_2
    var roster = OneRosterRoster(version: version, modes: Dictionary(uniqueKeysWithValues: OneRosterAPIPage.collections.map { ($0, .bulk) }))
    roster.usersSource = "https://sis.example/ims/oneroster/v1p1/users"
    var read = 0
    for collection in OneRosterAPIPage.collections {
        do {
            let n = try OneRosterAPIPage.read(body, collection: collection, url: "https://sis.example/\(collection.rawValue)",
                                              firstIndex: 0, into: &roster)
            guard n >= 0 else { finding("OneRosterAPIPage.read returned \(n)") }
            read += 1
        } catch is OneRosterError {
        } catch is ExportError {
        } catch {
            finding("OneRosterAPIPage.read(\(collection)) threw \(type(of: error)): \(error)")
        }
    }
    guard read > 0 else { return }
    do { _ = try translation().translate(roster) } catch is OneRosterError {} catch is ExportError {} catch {
        finding("OneRosterTranslation.translate threw \(type(of: error)): \(error)")
    }
}
