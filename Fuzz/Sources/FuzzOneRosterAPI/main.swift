// OneRoster REST pages (SPEC 2.3): OneRosterAPIPage.read for every collection, in the
// order the fetcher reads them, into one roster (imsx_StatusInfo failures, collection
// keys in any case, values as strings or numbers or booleans), then
// OneRosterTranslation.translate, as ExportSnapshot.read does for `format = oneroster-rest`.
// One input is read as a page of each collection: `{"orgs": [...], "users": [...]}`.
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

fuzzMain { data in
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
