// The configuration file: INIDocument (sections, keys, comments, BOM, CRLF) and
// Configuration.load(path:) with every value check and cross-key rule.
//
// Configuration.load throws(ConfigError), so a foreign error type cannot arise; what
// remains to find is a crash, a hang or runaway memory. A loaded configuration must also
// load again from the same text to the same values (parse is a pure function of the text).
import Foundation
@testable import SISync
import FuzzSupport

func summary(_ c: Configuration) -> String {
    let sync = "\(c.database) \(c.interval) \(c.schoolYear) \(c.schoolYearStart) \(c.maxInvalidRows) \(c.onStaffDeactivated) "
        + "\(c.historyDays) \(c.deactivateAfter) \(c.metricsFile ?? "-") \(c.holdDeactivations.map { "\($0.start)..\($0.end)" })"
    let guardLine = "\(c.guardSettings.deactivate) \(c.guardSettings.entityPercent.sorted { $0.key < $1.key }) "
        + "\(c.guardSettings.entityCount.sorted { $0.key < $1.key }) \(c.guardSettings.perSchool) \(c.guardSettings.perSchoolMin) "
        + "\(c.guardSettings.unlink) \(c.guardSettings.revoke) \(c.guardSettings.heldPlanDays) \(c.settingsDigest)"
    let source = "\(c.format) \(c.url ?? "-") \(c.entities) \(c.auth) \(c.entityURLs.sorted { $0.key < $1.key }) \(c.pageSize) \(c.schoolScope?.basis ?? "-") "
        + "\(c.timeout) \(c.retries) \(c.maxBytes)"
    let linking = "\(c.emailDomainAliases.sorted { $0.key < $1.key }) \(c.parentRelationships)"
    let portal = "\(c.portal.districtName ?? "-") \(c.portal.portalURL ?? "-") \(c.portal.contact ?? "-") "
        + "\(c.portal.schoolNames.sorted { $0.key < $1.key }) \(c.portal.paper) \(c.portal.letterTemplate ?? "-")"
    return [sync, guardLine, source, linking, portal].joined(separator: " | ")
}

fuzzMain { data in
    let path = writeScratch("sisync.conf", data)
    let loaded: Configuration
    // The message is made too: an unknown key's "did you mean" compares it with the table.
    do { loaded = try Configuration.load(path: path) } catch { _ = "\(error)"; return }
    // Loaded means the bytes were UTF-8; the same text must give the same values.
    let text = String(decoding: data, as: UTF8.self)
    do {
        let again = try Configuration.parse(text: text, path: path)
        if summary(again) != summary(loaded) { finding("Configuration: load and parse of the same text differ") }
    } catch {
        finding("Configuration: load succeeded but parse of the same text threw \(error)")
    }
    _ = loaded.currentSchoolYear(on: Date(timeIntervalSince1970: 1_790_000_000))
    _ = loaded.deactivationsHeld(on: Date(timeIntervalSince1970: 1_790_000_000))
}

