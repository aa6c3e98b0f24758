import Foundation
import SISync

/// `sisyncctl audit`: findings an administrator should look at, as sentences.
struct AuditCommand: ControlSubcommand {
    static let name = "audit"
    static let help = """
        Lists what needs an administrator: emails shared by several active staff (nobody with them can be \
        linked), manual links whose emails differ (entries appear under the staff member's name), users linked \
        to inactive staff, users with ledgers but no Finance role, users with schools but no active staff link, users an identity \
        provider keeps enabled while their staff record is inactive.
        """
    static let example = "sisyncctl audit"
    let call: CommandCall

    func run() throws -> Int32 {
        let c = try rulesConfiguration(args)
        let store = try RosterStore(location: c.store, mustExist: true)
        let report = try store.accounts.audit(normalizer: EmailNormalizer(aliases: c.emailDomainAliases))
        emit(args, json: {
            func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
            return .object([
                ("ambiguous_emails", .array(report.ambiguousEmails.map { .object([("email", .string($0.email)), ("staff_ids", strings($0.staffIDs))]) })),
                ("cross_links", .array(report.crossLinks.map {
                    .object([("username", .string($0.username)), ("staff_id", .string($0.staffID)), ("user_email", .string($0.userEmail)),
                             ("staff_email", .string($0.staffEmail)), ("reason", .string($0.reason))]) })),
                ("linked_to_inactive", .array(report.linkedToInactive.map {
                    .object([("username", .string($0.username)), ("staff_id", .string($0.staffID)), ("deactivated_at", .string($0.deactivatedAt))]) })),
                ("provider_enabled_inactive_staff", .array(report.providerEnabledInactive.map {
                    .object([("username", .string($0.username)), ("staff_id", .string($0.staffID)), ("provisioned_by", .string($0.provisionedBy))]) })),
                ("ledgers_without_finance", strings(report.ledgersWithoutFinance)),
                ("schools_without_staff_link", strings(report.schoolsWithoutStaffLink)),
            ])
        }, text: {
            guard report.findings > 0 else { return "Nothing needs attention: no ambiguous emails, cross-links, users linked to inactive staff, or misplaced ledgers and schools.\n" }
            var out = ""
            if !report.ambiguousEmails.isEmpty {
                out += "Ambiguous emails (nobody with these emails can be linked until the SIS is fixed or a user is linked by hand):\n"
                for a in report.ambiguousEmails { out += "  \(countWords(a.staffIDs.count)) active staff share \(a.email): \(a.staffIDs.joined(separator: ", "))\n" }
            }
            if !report.crossLinks.isEmpty {
                out += "Manual links whose emails differ (entries made by the user appear under the staff member's name):\n"
                for x in report.crossLinks {
                    out += "  \(x.username) <\(x.userEmail)> is linked to staff \(x.staffID) <\(x.staffEmail.isEmpty ? "no email" : x.staffEmail)>; reason: \(x.reason.isEmpty ? "none given" : x.reason). If this is not intended: sisyncctl user unlink \(x.username)\n"
                }
            }
            if !report.linkedToInactive.isEmpty {
                out += "Users linked to inactive staff (they keep the link for past data; consider `sisyncctl user unapprove`, rather than removing the user):\n"
                for l in report.linkedToInactive { out += "  \(l.username) → staff \(l.staffID), inactive since \(l.deactivatedAt.map(LocalTime.text(stored:)) ?? "?")\n" }
            }
            if !report.providerEnabledInactive.isEmpty {
                out += "Users an identity provider keeps enabled (SCIM active) while their staff record is inactive (sisync leaves a provider's users approved; disable them in the provider, docs/scim.md):\n"
                for p in report.providerEnabledInactive { out += "  \(p.username) → staff \(p.staffID)\(p.provisionedBy.map { ", provisioned by SCIM client \($0)" } ?? "")\n" }
            }
            if !report.ledgersWithoutFinance.isEmpty {
                out += "Users with ledgers but no Finance role: \(report.ledgersWithoutFinance.joined(separator: ", "))\n"
            }
            if !report.schoolsWithoutStaffLink.isEmpty {
                out += "Users with schools but no link to an active staff member (schools belong to staff): \(report.schoolsWithoutStaffLink.joined(separator: ", "))\n"
            }
            return out
        })
        return 0
    }
}

/// `sisyncctl explain U`: why the user has each link and role, and why not the others.
struct ExplainCommand: ControlSubcommand {
    static let name = "explain"
    static let arguments: [CommandArgument] = [.required("U")]
    static let help = """
        Explains why a user has their link and each role, and why not the roles they lack, from the data as it \
        is now (R6, R7).
        """
    static let example = "sisyncctl explain tbrown"
    let call: CommandCall

    func run() throws -> Int32 {
        let username = words[0]
        let c = try rulesConfiguration(args)
        let store = try RosterStore(location: c.store, mustExist: true)
        let settings = c.roleSettings(on: Date())
        let e = try store.explain(username, settings: settings, normalizer: EmailNormalizer(aliases: c.emailDomainAliases))
        emit(args, json: {
            .object([
                ("username", .string(e.username)),
                ("link", e.link.map { .object([("staff_id", .string($0.staffID)), ("kind", .string($0.kind.rawValue)), ("why", .string($0.why))]) } ?? .null),
                ("roles", .array(e.roles.map { .object([("name", .string($0.name)), ("school_year", .string($0.schoolYear)),
                                                        ("source", .string($0.source)), ("why", .string($0.why))]) })),
                ("not_granted", .array(e.notGranted.map { .object([("name", .string($0.name)), ("why", .string($0.why))]) })),
            ])
        }, text: {
            var out = "\(e.username) (school year \(settings.schoolYear))\n"
            out += "link: " + (e.link.map { "staff \($0.staffID) (\($0.kind.rawValue)): \($0.why)" } ?? "none") + "\n"
            out += "roles:\n"
            if e.roles.isEmpty { out += "  none\n" }
            for r in e.roles { out += "  \(r.name)\(r.schoolYear.map { " (\($0))" } ?? "") [\(r.source)]: \(r.why)\n" }
            out += "not granted:\n"
            for m in e.notGranted { out += "  \(m.name): \(m.why)\n" }
            return out
        })
        return 0
    }
}
