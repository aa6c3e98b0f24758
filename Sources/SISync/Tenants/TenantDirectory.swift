import Foundation

/// The tenants of `sisyncd --tenants DIR`: every `DIR/NAME.conf`, each a full
/// configuration of its own. A file that does not load is a tenant with a problem, reported
/// and skipped, never fatal for the others.
public struct TenantDirectory {
    public let path: String

    /// Where `sisyncd --tenants` and `sisyncctl --tenant NAME` look when not told.
    public static let defaultPath = "/etc/sisync/tenants.d"

    public init(path: String) { self.path = path }

    public struct Entry {
        public let name: String
        public let file: String
        public let configuration: Result<Configuration, Error>
        /// The file's modification time and size, to see what a reload changed.
        public let stamp: String
    }

    /// A tenant's name is its file's name without `.conf`: letters, digits, `-` and `_`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// The configuration file of tenant `name`.
    public func file(of name: String) -> String { (path as NSString).appendingPathComponent(name + ".conf") }

    /// Every `NAME.conf`, sorted by name. Throws when the directory cannot be read.
    public func load() throws -> [Entry] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw ConfigError.unreadable(path: path, reason: "cannot list the tenants directory (\(error.localizedDescription)); check --tenants")
        }
        return names.filter { $0.hasSuffix(".conf") }.sorted().compactMap { file in
            let name = String(file.dropLast(5))
            guard Self.isValidName(name) else { return nil }
            let full = (path as NSString).appendingPathComponent(file)
            let attributes = try? FileManager.default.attributesOfItem(atPath: full)
            let stamp = "\((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)/\((attributes?[.size] as? Int) ?? 0)"
            return Entry(name: name, file: full, configuration: Result { try Configuration.load(path: full) }, stamp: stamp)
        }
    }
}
