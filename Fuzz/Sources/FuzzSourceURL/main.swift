// The URLs a source names (README "Security", issue 26 items 4 and 14): the first line of an
// input is the page a OneRoster server answered, the second a link or redirect it named.
//
// Findings: a crash; SourceOrigin accepting a URL that libcurl reads with another scheme,
// host or port; SourceOrigin.resolve returning a URL off the page's origin, or one where
// libcurl, resolving the same reference against the same page as it does a redirect,
// lands on another origin; DisplayedURL.redact not idempotent, or leaving a value of a
// secret-named query parameter of the URL it was given.
import Foundation
@testable import SISync
import FuzzSupport

func sameOrigin(_ curl: CurlURL?, _ origin: SourceOrigin) -> Bool {
    guard let curl else { return false }
    return curl.scheme?.lowercased() == origin.scheme && curl.host?.lowercased() == origin.host && curl.port == origin.port
}

fuzzMain { data in
    let text = String(decoding: data, as: UTF8.self)
    let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let page = lines[0]
    let target = lines.count > 1 ? lines[1] : ""

    for url in [page, target, text] {
        let once = DisplayedURL.redact(url)
        guard DisplayedURL.redact(once) == once else { finding("DisplayedURL.redact is not idempotent on \(url.debugDescription)") }
        let text = DisplayedURL.redacting(in: url)
        guard DisplayedURL.redacting(in: text) == text else { finding("DisplayedURL.redacting(in:) is not idempotent on \(url.debugDescription)") }
        _ = DisplayedURL.hasUserInfo(url)
    }

    guard let origin = SourceOrigin(page) else { return }
    guard sameOrigin(CurlURL(page), origin) else { finding("SourceOrigin(\(page.debugDescription)) = \(origin), libcurl reads it otherwise") }
    guard let next = origin.resolve(target, against: page) else { return }
    guard SourceOrigin(next) == origin else { finding("resolve(\(target.debugDescription)) = \(next.debugDescription) leaves \(origin)") }
    guard sameOrigin(CurlURL(next), origin) else { finding("libcurl reads \(next.debugDescription) off \(origin)") }
    guard sameOrigin(CurlURL(page)?.resolving(target), origin) else {
        finding("libcurl resolves \(target.debugDescription) against \(page.debugDescription) off \(origin); SourceOrigin said \(next.debugDescription)")
    }
}
