/// `[portal]`'s keys: what parent letters say. They live apart from the rest of the table
/// because the letters (and `PortalSettings`) may move to a target of their own; the
/// engine's table then still names the section, so a file written for `sisyncctl access
/// letters` stays valid for `sisyncd`.
extension ConfigKey {
    static let portal: [ConfigKey] = [
        .key("portal", "district_name", \.portal.districtName) { l throws(ConfigError) in try l.nonEmpty() },
        .key("portal", "portal_url", \.portal.portalURL) { l throws(ConfigError) in
            let url = try l.nonEmpty()
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > 8, !url.contains(" ") else {
                throw l.bad("the portal's address, such as https://portal.district.example.org")
            }
            return url
        },
        .key("portal", "contact", \.portal.contact) { l throws(ConfigError) in try l.nonEmpty() },
        .pattern("portal", "school.ID", matches: { $0.hasPrefix("school.") && $0.count > 7 }) { (l, c) throws(ConfigError) in
            c.portal.schoolNames[String(l.entry.key.dropFirst(7))] = try l.nonEmpty()
        },
        .key("portal", "paper", \.portal.paper, default: "letter") { l throws(ConfigError) in try l.oneOf(PortalSettings.Paper.self) },
        .key("portal", "letter_template", \.portal.letterTemplate) { l throws(ConfigError) in l.resolved(try l.nonEmpty()) },
    ]
}
