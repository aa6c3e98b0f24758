import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `sisyncd --check-config` (as `nginx -t` and `sshd -t`): loads everything a run and every
/// command would need, and lists every problem at once, each with its file, line and key,
/// so that an administrator fixes them in one pass instead of meeting them one at a time
/// at the next start, run or printing of letters. It changes nothing: the store is only
/// read (never created or migrated), and no lock is taken.
public struct ConfigurationCheck {
    /// One thing the check found: a problem (exit 78), a warning (works, but not as meant)
    /// or a fact worth knowing (the schema version).
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable { case problem, warning, note }
        public let kind: Kind
        public let text: String

        public var description: String {
            switch kind {
            case .problem: return text
            case .warning: return "warning: " + text
            case .note: return text
            }
        }
    }

    public let path: String
    public let environment: [String: String]

    public init(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.path = path
        self.environment = environment
    }

    /// Every finding, problems in the order of the file, then the template, the
    /// credentials and the store.
    public func run() -> [Finding] {
        var problems: [ConfigError] = []
        let configuration: Configuration
        do throws(ConfigError) {
            configuration = try Configuration.load(path: path, problems: &problems)
        } catch {
            return [Finding(kind: .problem, text: "\(error)")]
        }
        var findings = problems.map { Finding(kind: .problem, text: "\($0)") }
        let document = (try? String(contentsOfFile: path, encoding: .utf8)).map { text in
            var ignored: [ConfigError] = []
            return INIDocument(path: path, text: text, problems: &ignored)
        }
        /// `FILE:LINE: [section] key = `value``, where the file sets it.
        func place(_ section: String, _ key: String) -> String {
            guard let e = document?.entries.first(where: { $0.section == section && $0.key == key }) else { return "\(path): [\(section)] \(key)" }
            return "\(path):\(e.line): [\(section)] \(key) = `\(e.value)`"
        }
        findings += letters(configuration, place: place)
        findings += credentials(configuration, place: place)
        findings += store(configuration)
        return findings
    }

    /// Whether the findings let sisync run: no problem among them.
    public static func passes(_ findings: [Finding]) -> Bool { !findings.contains { $0.kind == .problem } }

    /// The template is read and parsed as `access letters` will (not drawn); `[portal]`
    /// settings a letter shows when set are warned about when not.
    private func letters(_ c: Configuration, place: (String, String) -> String) -> [Finding] {
        var out: [Finding] = []
        if let template = c.portal.letterTemplate {
            let fd = open(template, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                out.append(Finding(kind: .problem, text: "\(place("portal", "letter_template")): cannot read the letter template \(template): \(String(cString: strerror(errno)))"))
            } else {
                close(fd)
                do throws(ConfigError) { _ = try c.portal.template() } catch {
                    out.append(Finding(kind: .problem, text: "\(place("portal", "letter_template")): \(error)"))
                }
            }
        }
        if c.portal.portalURL == nil {
            out.append(Finding(kind: .warning, text: "\(path): [portal] portal_url is not set: parent letters will not say the portal's address"))
        }
        if c.portal.schoolNames.isEmpty {
            out.append(Finding(kind: .warning, text: "\(path): [portal] names no school (school.ID = NAME): parent letters will say `school 101` instead of the school's name"))
        }
        return out
    }

    /// Each secret the configuration names: there, not empty, readable by this user, and
    /// not readable by others (a secret others can read is used, with a warning).
    private func credentials(_ c: Configuration, place: (String, String) -> String) -> [Finding] {
        var named: [(section: String, key: String, name: String)] = []
        for (key, name) in [("token_file", c.tokenFile), ("password_file", c.passwordFile), ("client_secret_file", c.clientSecretFile)] {
            if let name { named.append(("source", key, name)) }
        }
        if c.store.isPostgres, let name = c.databasePasswordFile { named.append(("sync", "database_password_file", name)) }
        let reader = SourceCredentials(configuration: c, environment: environment, log: nil)
        var out: [Finding] = []
        for (section, key, name) in named {
            do throws(FetchError) {
                _ = try reader.secret(name, key: key)
            } catch {
                out.append(Finding(kind: .problem, text: "\(place(section, key)): \(error)"))
                continue
            }
            let file = ExportFetcher.credentialPath(name, environment: environment)
            var st = stat()
            if stat(file, &st) == 0, st.st_mode & 0o077 != 0 {
                out.append(Finding(kind: .warning, text: "\(place(section, key)): \(file) is mode \(String(st.st_mode & 0o7777, radix: 8)): others than its owner can read the secret; chmod 600 it, or use LoadCredential="))
            }
        }
        return out
    }

    /// The store's schema version, read without migrating: newer than this sisync is a
    /// problem (it would refuse to start), older is a migration the next start makes.
    private func store(_ c: Configuration) -> [Finding] {
        let latest = Migrator().latestVersion
        let display = c.store.display
        do {
            guard let version = try StoreSchemaVersion.found(at: c.store) else {
                return [Finding(kind: .note, text: "store: \(display): none yet; sisyncd creates it (schema version \(latest)) at its first start")]
            }
            if version > latest {
                return [Finding(kind: .problem, text: "\(StoreError.newerSchema(path: display, found: version, supported: latest))")]
            }
            if version < latest {
                return [Finding(kind: .note, text: "store: \(display): schema version \(version); a migration is due: sisyncd migrates it to version \(latest) at its next start")]
            }
            return [Finding(kind: .note, text: "store: \(display): schema version \(version), current")]
        } catch {
            return [Finding(kind: .problem, text: "store: \(display): \(error)")]
        }
    }
}
